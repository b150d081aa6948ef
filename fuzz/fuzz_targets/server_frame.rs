//! libFuzzer entry point; the body is [`onionchat_fuzz::server_frame`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onionchat_fuzz::server_frame(data));
