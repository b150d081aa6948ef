//! libFuzzer entry point; the body is [`onionchat_fuzz::signed_object`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| onionchat_fuzz::signed_object(data));
