//! The resource template matcher: a template (the first line) against a
//! URI (the rest). Never panics, and stays linear: libFuzzer's -timeout
//! catches a matcher that backtracks (adjacent `{a}{b}{c}`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mcp_sdk_server::router::UriTemplate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, uri) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(template) = UriTemplate::parse(template) else {
        return;
    };
    if let Some(vars) = template.matches(uri) {
        let names: Vec<&str> = template.variables().collect();
        for name in vars.keys() {
            assert!(
                names.contains(&name.as_str()),
                "{name} is not a variable of the template"
            );
        }
    }
});
