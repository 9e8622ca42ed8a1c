//! The prompts server's template parser and renderer: any template text
//! parses or is refused with a line number, and a parsed one renders any
//! argument values within its size bound, without a panic.
#![no_main]

#[allow(dead_code)]
#[path = "../../src/servers/prompts/template.rs"]
mod template;

use libfuzzer_sys::fuzz_target;
use template::{Template, MAX_RENDERED_BYTES};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The template, then (after a NUL) the value every argument gets.
    let (text, value) = text.split_once('\0').unwrap_or((text, "v"));
    let Ok(template) = Template::parse(text, "fuzzed") else {
        return;
    };
    let value = value.repeat(64);
    match template.render(|_| Some(value.clone())) {
        Ok(out) => assert!(out.len() <= MAX_RENDERED_BYTES),
        Err(_) => {}
    }
    let small = template.render_within(64, |_| Some(value.clone()));
    if let Ok(out) = small {
        assert!(
            out.len() <= 64,
            "{} bytes rendered past a 64-byte limit",
            out.len()
        );
    }
});
