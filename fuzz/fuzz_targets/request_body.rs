//! libFuzzer entry point; the body is [`onionchat_fuzz::request_body`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onionchat_fuzz::request_body(data));
