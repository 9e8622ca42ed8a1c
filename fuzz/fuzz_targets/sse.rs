//! The client's server-sent events parser: any byte stream, cut into
//! chunks anywhere, gives the same events, the same last event id and the
//! same retry delay as the stream fed whole, without a panic.
#![no_main]

// The parser's own file, compiled here: the client crate keeps it private
// and this needs no feature or build of the HTTP transport.
#[allow(dead_code)]
#[path = "../../mcp-sdk-client/src/transport/http/sse.rs"]
mod sse;

use libfuzzer_sys::fuzz_target;
use sse::{SseEvent, SseParser};

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let mut whole = SseParser::default();
    let mut events = Vec::new();
    whole
        .feed(stream, &mut events)
        .expect("small input is within bounds");

    let mut chunked = SseParser::default();
    let mut chunked_events: Vec<SseEvent> = Vec::new();
    let step = usize::from(cut % 7) + 1;
    for chunk in stream.chunks(step) {
        chunked.feed(chunk, &mut chunked_events).unwrap();
    }
    assert_eq!(events, chunked_events);
    assert_eq!(whole.last_event_id, chunked.last_event_id);
    assert_eq!(whole.retry, chunked.retry);
    for e in &events {
        assert!(!e.event.is_empty());
    }
});
