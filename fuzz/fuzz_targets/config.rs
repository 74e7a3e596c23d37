//! Configuration (TOML → `Config` → validation): never panics, whatever the text.
#![no_main]

use parley::config::Config;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::parse(text) else {
        return;
    };
    if config.validate().is_ok() {
        let _ = (config.state_dir(), config.drain_timeout());
        for d in &config.domains {
            let _ = config.domain(&d.name);
        }
    }
});
