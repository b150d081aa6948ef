//! libFuzzer entry point; the body is [`onionchat_fuzz::http_api`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onionchat_fuzz::http_api(data));
