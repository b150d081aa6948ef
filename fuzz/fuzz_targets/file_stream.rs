//! libFuzzer entry point; the body is [`onionchat_fuzz::file_stream`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onionchat_fuzz::file_stream(data));
