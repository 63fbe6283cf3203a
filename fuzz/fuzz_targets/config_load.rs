//! `config::load` on arbitrary bytes: a pluginConfig is operator input, but a broken
//! one must be refused with problems, never trap the VM in `on_configure`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match meshward_core::config::load(data) {
        Ok(loaded) => {
            // A config that compiled builds every runtime piece without panicking.
            let p = &loaded.policy;
            let _ = meshward_core::api::Templater::new(&p.apis);
            let _ = meshward_core::sensitive::Classifier::new(&p.sensitive);
        }
        Err(e) => {
            assert!(
                !e.problems.is_empty(),
                "an error names at least one problem"
            );
            let _ = e.to_string();
        }
    }
});
