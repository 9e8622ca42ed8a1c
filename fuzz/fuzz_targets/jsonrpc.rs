//! The JSON-RPC decoder and the classification of what it decodes: any
//! bytes give a message or a JSON-RPC error (never a panic), whatever
//! decodes re-encodes to the same message, and the decoder that reads a
//! `tools/call`'s params typed gives what the plain one gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_sdk::jsonrpc::{
    decode, decode_as, decode_batch, encode_batch, is_batch, Decoded, Incoming,
};
use mcp_sdk::{CallToolParams, Message};

fn round_trips(msg: &Message) {
    let text = serde_json::to_vec(msg).expect("a decoded message encodes");
    let again = decode(&text).expect("an encoded message decodes");
    assert_eq!(
        &again,
        msg,
        "re-decoded differently: {}",
        String::from_utf8_lossy(&text)
    );
    // Classified the same way from the re-encoded text.
    assert_eq!(std::mem::discriminant(&again), std::mem::discriminant(msg));
}

fuzz_target!(|data: &[u8]| {
    let typed = decode_as::<CallToolParams>(data).map(Decoded::into_message);
    assert_eq!(typed, decode(data), "decode_as and decode disagree");
    match decode(data) {
        Ok(msg) => round_trips(&msg),
        Err(e) => {
            let code = e.error.code.0;
            assert!(code == -32700 || code == -32600, "unexpected code {code}");
        }
    }
    if is_batch(data) {
        if let Ok(Incoming::Batch(items)) = decode_batch(data) {
            let ok: Vec<Message> = items.into_iter().filter_map(Result::ok).collect();
            for msg in &ok {
                round_trips(msg);
            }
            if !ok.is_empty() {
                match decode_batch(&encode_batch(&ok)) {
                    Ok(Incoming::Batch(again)) => {
                        let again: Vec<Message> = again.into_iter().map(|m| m.unwrap()).collect();
                        assert_eq!(again, ok);
                    }
                    other => panic!("a re-encoded batch decoded as {other:?}"),
                }
            }
        }
    }
});
