//! A server-sent events parser, incremental and bounded.
//!
//! Our own rather than a crate's, for two reasons the MCP transport cares
//! about: a `retry:` field takes effect when it is read, even in an event
//! with no data (servers closing a stream for SEP-1699 polling send exactly
//! that), and an event may not grow without bound.

use std::time::Duration;

/// The largest event (or line) accepted: 16 MiB.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SseEvent {
    /// The event type; `message` when the server gave none.
    pub event: String,
    /// The data lines, joined with `\n`.
    pub data: String,
}

/// Parses a byte stream into events, remembering the last event id and the
/// latest reconnection delay.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
    /// The last `id:` read, which becomes `last_event_id` when its event
    /// is dispatched (the SSE standard's last event ID buffer).
    id_buffer: Option<String>,
    /// The id of the last event dispatched, for `Last-Event-ID` when
    /// reconnecting: never that of an event whose connection broke before
    /// its end, which the server must send again.
    pub last_event_id: Option<String>,
    /// The last `retry:` seen.
    pub retry: Option<Duration>,
}

/// An event or line longer than [`MAX_EVENT_BYTES`].
#[derive(Debug)]
pub(crate) struct EventTooLarge;

impl SseParser {
    /// Forgets the part of an event that the previous connection broke
    /// off, before reading a new connection: its bytes must not be glued
    /// to the new connection's, and its id is not yet ours (the event will
    /// be replayed). The last event id and the retry delay stay.
    pub fn begin_connection(&mut self) {
        self.line.clear();
        self.event.clear();
        self.data.clear();
        self.has_data = false;
        self.id_buffer.clone_from(&self.last_event_id);
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            if self.line.is_empty() {
                self.process_line(&rest[..i], out);
            } else {
                self.line.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.line);
                self.process_line(&line, out);
            }
            rest = &rest[i + 1..];
        }
        self.line.extend_from_slice(rest);
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(EventTooLarge);
        }
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // a comment, such as a keep-alive
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (&*line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_owned(),
            "id" if !value.contains('\0') => self.id_buffer = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        // Even an event without data (a priming event) moves the id on.
        self.last_event_id.clone_from(&self.id_buffer);
        let event = std::mem::take(&mut self.event);
        if !std::mem::take(&mut self.has_data) {
            return;
        }
        let data = std::mem::take(&mut self.data);
        out.push(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> (Vec<SseEvent>, SseParser) {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for c in chunks {
            parser.feed(c.as_bytes(), &mut out).unwrap();
        }
        (out, parser)
    }

    #[test]
    fn events_split_across_chunks_with_ids_and_retry() {
        let (events, parser) = parse(&[
            "id: 0:0\nretry: 500\ndata: \n\n: keep-alive\n",
            "event: message\nid: 0:1\nda",
            "ta: {\"a\":1}\r\n\r\nretry: 2000\n\n",
        ]);
        assert_eq!(
            events,
            [
                SseEvent {
                    event: "message".into(),
                    data: String::new()
                },
                SseEvent {
                    event: "message".into(),
                    data: "{\"a\":1}".into()
                },
            ]
        );
        assert_eq!(parser.last_event_id.as_deref(), Some("0:1"));
        // A retry-only event takes effect though it dispatches nothing.
        assert_eq!(parser.retry, Some(Duration::from_millis(2000)));
    }

    #[test]
    fn an_id_counts_once_its_event_ends_and_a_broken_event_is_forgotten() {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        parser
            .feed(
                b"id: 0:1\ndata: {\"n\":1}\n\nid: 0:2\ndata: {\"n\"",
                &mut out,
            )
            .unwrap();
        assert_eq!(out.len(), 1);
        // The connection broke inside event 0:2: it is not ours yet, so a
        // resumption asks for what follows 0:1.
        assert_eq!(parser.last_event_id.as_deref(), Some("0:1"));
        // The replay on the new connection parses whole, not glued to the
        // broken-off bytes.
        parser.begin_connection();
        parser
            .feed(b"id: 0:2\ndata: {\"n\":2}\n\n", &mut out)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].data, "{\"n\":2}");
        assert_eq!(parser.last_event_id.as_deref(), Some("0:2"));
        // An id line alone, cut before its blank line, is not taken either.
        parser.feed(b"id: 0:3\n", &mut out).unwrap();
        parser.begin_connection();
        assert_eq!(parser.last_event_id.as_deref(), Some("0:2"));
        parser.feed(b"data: x\n\n", &mut out).unwrap();
        assert_eq!(parser.last_event_id.as_deref(), Some("0:2"), "no new id");
    }

    #[test]
    fn multi_line_data_and_named_events() {
        let (events, _) =
            parse(&["event: endpoint\ndata: /messages?session=1\n\ndata: a\ndata: b\n\n"]);
        assert_eq!(events[0].event, "endpoint");
        assert_eq!(events[0].data, "/messages?session=1");
        assert_eq!(events[1].data, "a\nb");
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        let chunk = vec![b'x'; 1024 * 1024];
        parser.feed(b"data: ", &mut out).unwrap();
        let mut failed = false;
        for _ in 0..20 {
            if parser.feed(&chunk, &mut out).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }
}
