#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| flytecodec_fuzz::columns(data));
