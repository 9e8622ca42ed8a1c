//! The SSE streams of one HTTP session, resumable.
//!
//! Each stream (stream 0 is the standalone GET stream; each POST that
//! answers with SSE opens another) numbers its events and keeps the last few
//! in a bounded buffer. An event id `S:N` names event N of stream S, so a
//! client that lost its connection sends `Last-Event-ID: S:N` and receives
//! what followed on that stream, and nothing of the others. A connection too
//! slow to keep up is let go rather than buffered without bound: the client
//! reconnects and replays.

use bytes::{BufMut, Bytes, BytesMut};
use mcp_sdk::Message;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;

/// The id of the standalone (GET) stream.
pub(crate) const STANDALONE: u64 = 0;

/// How many finished request streams a session keeps for replay.
const KEEP_FINISHED: usize = 16;

/// Chunks a live connection may have queued before it counts as stalled.
const CONNECTION_QUEUE: usize = 64;

#[derive(Default)]
struct Stream {
    events: VecDeque<(u64, Bytes)>,
    next_seq: u64,
    /// Events up to here were handed to some connection.
    sent_upto: u64,
    conn: Option<mpsc::Sender<Bytes>>,
    finished: bool,
}

/// All streams of one session.
pub(crate) struct Streams {
    streams: HashMap<u64, Stream>,
    next_id: u64,
    finished_order: VecDeque<u64>,
    capacity: usize,
    /// Replicas: where a copy of each request stream's events goes (to the
    /// shared event store), so another replica can resume the stream.
    tee: Option<mpsc::Sender<Teed>>,
}

/// An event of a request stream, copied for the shared event store.
pub(crate) struct Teed {
    /// The stream.
    pub stream: u64,
    /// The event's number in it.
    pub seq: u64,
    /// The event's data (empty for a priming event); `None` once the
    /// stream ended.
    pub data: Option<Bytes>,
    /// Whether no connection of this replica took the event: a client may
    /// be resuming the stream elsewhere, whose reader should be woken.
    pub unseen: bool,
}

/// Why a resumption failed.
pub(crate) enum ResumeError {
    /// The `Last-Event-ID` is not of our form.
    Malformed,
    /// The stream is unknown or its events are no longer buffered (410
    /// Gone: the session itself lives on).
    Gone,
}

impl Streams {
    pub fn new(capacity: usize) -> Self {
        Streams {
            streams: HashMap::new(),
            next_id: STANDALONE + 1,
            finished_order: VecDeque::new(),
            capacity: capacity.max(1),
            tee: None,
        }
    }

    /// Copies the request streams' events to `tee` from now on, and names
    /// new streams at random rather than in order, so that an event id
    /// (`S:N`) names one stream among those of every replica.
    pub fn share(&mut self, tee: mpsc::Sender<Teed>) {
        self.tee = Some(tee);
    }

    /// Opens a new request stream and returns its id and the receiving end
    /// of its first connection.
    pub fn open(&mut self) -> (u64, mpsc::Receiver<Bytes>) {
        let id = match self.tee {
            // 52 random bits: any client reads the id as an integer, and
            // never 0 (the standalone stream).
            Some(_) => loop {
                let id = (uuid::Uuid::new_v4().as_u128() as u64) >> 12;
                if id != STANDALONE && !self.streams.contains_key(&id) {
                    break id;
                }
            },
            None => {
                self.next_id += 1;
                self.next_id - 1
            }
        };
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        self.streams.insert(
            id,
            Stream {
                conn: Some(tx),
                ..Stream::default()
            },
        );
        (id, rx)
    }

    /// Attaches a new connection to the standalone stream, replacing any
    /// earlier one, and hands it what was never sent; then, with `prime`
    /// (clients of 2025-11-25 on), a priming event (an id, no data, the
    /// `retry` hint): a connection cut before the stream's next event is
    /// resumed after it with `Last-Event-ID` and misses nothing, where a
    /// client without an id would reconnect without one and lose what the
    /// cut connection had taken.
    pub fn attach_standalone(&mut self, prime: Option<Duration>) -> mpsc::Receiver<Bytes> {
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE);
        let s = self.streams.entry(STANDALONE).or_default();
        let from = s.sent_upto;
        replay(s, from, &tx);
        s.conn = Some(tx);
        if let Some(retry) = prime {
            self.prime(STANDALONE, Some(retry));
        }
        rx
    }

    /// Attaches a new connection after event `last_event_id`, replaying
    /// what followed it on its stream.
    pub fn resume(&mut self, last_event_id: &str) -> Result<mpsc::Receiver<Bytes>, ResumeError> {
        let (stream, seq) = parse_event_id(last_event_id).ok_or(ResumeError::Malformed)?;
        let (tx, rx) = mpsc::channel(CONNECTION_QUEUE.max(self.capacity + 1));
        let s = if stream == STANDALONE {
            self.streams.entry(STANDALONE).or_default()
        } else {
            self.streams.get_mut(&stream).ok_or(ResumeError::Gone)?
        };
        if seq >= s.next_seq && !(seq == 0 && s.next_seq == 0) {
            return Err(ResumeError::Gone);
        }
        // Events after `seq` must all still be buffered.
        if let Some(&(oldest, _)) = s.events.front() {
            if oldest > seq + 1 {
                return Err(ResumeError::Gone);
            }
        }
        replay(s, seq + 1, &tx);
        if !s.finished {
            s.conn = Some(tx);
        }
        Ok(rx)
    }

    /// Whether `last_event_id` is well formed and names a stream that is
    /// not one of these (one another replica opened, say).
    pub fn is_elsewhere(&self, last_event_id: &str) -> bool {
        parse_event_id(last_event_id).is_some_and(|(stream, _)| !self.streams.contains_key(&stream))
    }

    /// Writes a message as the next event of a stream. Returns false if the
    /// stream is unknown.
    pub fn push(&mut self, stream: u64, msg: &Message, final_response: bool) -> bool {
        self.push_json(stream, msg.to_vec(), final_response)
    }

    /// [`push`](Self::push) of a message already written as JSON.
    pub fn push_json(&mut self, stream: u64, json: Vec<u8>, final_response: bool) -> bool {
        let Some(s) = self.streams.get_mut(&stream) else {
            return false;
        };
        let json = Bytes::from(json);
        let seq = s.next_seq;
        let event = encode_event(stream, seq, &json, None);
        self.push_event(stream, seq, event, json);
        if final_response {
            self.finish(stream);
        }
        true
    }

    /// Writes an event with an id and no data (the priming event of
    /// SEP-1699), with an optional `retry` hint.
    pub fn prime(&mut self, stream: u64, retry: Option<Duration>) {
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        let seq = s.next_seq;
        let event = encode_event(stream, seq, b"", retry);
        self.push_event(stream, seq, event, Bytes::new());
    }

    /// Lets go of a stream's connection (the client should reconnect after
    /// `retry`), keeping the stream open for resumption.
    pub fn disconnect(&mut self, stream: u64, retry: Option<Duration>) {
        if let Some(s) = self.streams.get_mut(&stream) {
            if let (Some(conn), Some(retry)) = (&s.conn, retry) {
                let _ = conn.try_send(Bytes::from(format!("retry: {}\n\n", retry.as_millis())));
            }
            s.conn = None;
        }
    }

    fn push_event(&mut self, stream: u64, seq: u64, event: Bytes, data: Bytes) {
        let capacity = self.capacity;
        let Some(s) = self.streams.get_mut(&stream) else {
            return;
        };
        s.next_seq = seq + 1;
        let mut seen = false;
        if let Some(conn) = &s.conn {
            if conn.try_send(event.clone()).is_ok() {
                s.sent_upto = s.next_seq;
                seen = true;
            } else {
                // Gone or stalled: the client can come back with Last-Event-ID.
                s.conn = None;
            }
        }
        if stream != STANDALONE {
            tee(&self.tee, stream, seq, Some(data), !seen);
        }
        s.events.push_back((seq, event));
        while s.events.len() > capacity {
            s.events.pop_front();
        }
    }

    fn finish(&mut self, stream: u64) {
        if let Some(s) = self.streams.get_mut(&stream) {
            if !s.finished && stream != STANDALONE {
                tee(&self.tee, stream, s.next_seq, None, true);
            }
            s.finished = true;
            s.conn = None;
            self.finished_order.push_back(stream);
        }
        while self.finished_order.len() > KEEP_FINISHED {
            if let Some(old) = self.finished_order.pop_front() {
                self.streams.remove(&old);
            }
        }
    }

    /// Creates the standalone stream if it does not exist yet.
    pub fn ensure_standalone(&mut self) {
        self.streams.entry(STANDALONE).or_default();
    }

    /// Ends a request stream that will get no response (the request was
    /// cancelled): its connection closes.
    pub fn end(&mut self, stream: u64) {
        self.finish(stream);
    }

    /// Whether any connection is attached (the session is in use).
    pub fn has_connections(&self) -> bool {
        self.streams
            .values()
            .any(|s| s.conn.as_ref().is_some_and(|c| !c.is_closed()))
    }

    /// Drops every connection (their bodies end).
    pub fn close_all(&mut self) {
        self.streams.clear();
    }
}

/// Copies an event to `tee`, if there is one; when its queue is full the
/// copy is dropped (the stream still works here; elsewhere it resumes
/// without that event), with a warning.
fn tee(tee: &Option<mpsc::Sender<Teed>>, stream: u64, seq: u64, data: Option<Bytes>, unseen: bool) {
    let Some(tee) = tee else { return };
    let teed = Teed {
        stream,
        seq,
        data,
        unseen,
    };
    if let Err(mpsc::error::TrySendError::Full(_)) = tee.try_send(teed) {
        tracing::warn!("replicas: a request stream's event could not be shared (too many waiting)");
    }
}

fn replay(s: &mut Stream, from_seq: u64, tx: &mpsc::Sender<Bytes>) {
    for (seq, event) in &s.events {
        if *seq >= from_seq && tx.try_send(event.clone()).is_err() {
            break;
        }
    }
    s.sent_upto = s.next_seq;
}

pub(crate) fn parse_event_id(id: &str) -> Option<(u64, u64)> {
    let (stream, seq) = id.trim().split_once(':')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

/// Encodes one SSE event. JSON from serde has no raw newlines, so the data
/// is always a single `data:` line.
pub(crate) fn encode_event(stream: u64, seq: u64, data: &[u8], retry: Option<Duration>) -> Bytes {
    let mut buf = BytesMut::with_capacity(data.len() + 48);
    buf.put_slice(b"id: ");
    buf.put_slice(format!("{stream}:{seq}").as_bytes());
    buf.put_slice(b"\n");
    if let Some(retry) = retry {
        buf.put_slice(format!("retry: {}\n", retry.as_millis()).as_bytes());
    }
    buf.put_slice(b"data: ");
    buf.put_slice(data);
    buf.put_slice(b"\n\n");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n: i64) -> Message {
        Message::notification("n", Some(serde_json::json!({ "n": n })))
    }

    fn drain(rx: &mut mpsc::Receiver<Bytes>) -> Vec<String> {
        let mut out = vec![];
        while let Ok(b) = rx.try_recv() {
            out.push(String::from_utf8(b.to_vec()).unwrap());
        }
        out
    }

    #[test]
    fn resume_replays_only_what_followed_on_that_stream() {
        let mut s = Streams::new(8);
        let (a, mut rx_a) = s.open();
        let (b, _rx_b) = s.open();
        s.push(a, &note(1), false);
        s.push(b, &note(100), false);
        s.push(a, &note(2), false);
        assert_eq!(drain(&mut rx_a).len(), 2);
        drop(rx_a);
        s.push(a, &note(3), false);
        let mut again = s.resume(&format!("{a}:0")).ok().unwrap();
        let got = drain(&mut again);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].contains("\"n\":2") && got[1].contains("\"n\":3"));
        assert!(!got.iter().any(|e| e.contains("100")));
    }

    #[test]
    fn unknown_or_evicted_events_cannot_resume() {
        let mut s = Streams::new(2);
        let (a, _rx) = s.open();
        for n in 0..5 {
            s.push(a, &note(n), false);
        }
        assert!(matches!(
            s.resume(&format!("{a}:0")),
            Err(ResumeError::Gone)
        ));
        assert!(s.resume(&format!("{a}:3")).is_ok());
        assert!(matches!(s.resume("99:1"), Err(ResumeError::Gone)));
        assert!(matches!(s.resume("garbage"), Err(ResumeError::Malformed)));
    }

    #[test]
    fn standalone_stream_delivers_what_was_never_sent() {
        let mut s = Streams::new(8);
        s.streams.entry(STANDALONE).or_default();
        s.push(STANDALONE, &note(1), false);
        let mut rx = s.attach_standalone(None);
        assert_eq!(drain(&mut rx).len(), 1);
        s.push(STANDALONE, &note(2), false);
        assert_eq!(drain(&mut rx).len(), 1);
        let mut rx2 = s.attach_standalone(None);
        assert!(drain(&mut rx2).is_empty());
    }

    /// Issue 17: a standalone connection cut before its first event gave
    /// the client no id to resume from, and what the cut connection had
    /// taken was lost.
    #[test]
    fn a_primed_standalone_stream_resumes_after_a_cut_before_any_event() {
        let mut s = Streams::new(8);
        s.ensure_standalone();
        let retry = Some(Duration::from_millis(1500));
        let mut first = s.attach_standalone(retry);
        let primed = drain(&mut first);
        assert_eq!(primed, ["id: 0:0\nretry: 1500\ndata: \n\n"]);
        // The connection takes the next event, then is cut before the
        // client read it.
        s.push(STANDALONE, &note(1), false);
        drop(first);
        let mut again = s.resume("0:0").ok().unwrap();
        let got = drain(&mut again);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("id: 0:1\n") && got[0].contains("\"n\":1"));
        // Without `prime` (clients before 2025-11-25), no empty event.
        let mut old = s.attach_standalone(None);
        s.push(STANDALONE, &note(2), false);
        let got = drain(&mut old);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("\"n\":2"), "{got:?}");
    }
}
