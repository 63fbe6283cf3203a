//! The protobuf decoder of Envoy's `metadata` property (jwt_authn payloads): the
//! bytes come from the host, but a wrong assumption about their shape must not trap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::identity::metadata;

fuzz_target!(|data: &[u8]| {
    let _ = metadata::jwt_authn_payloads(data);
    let _ = metadata::filter_metadata(data, "istio_authn");
});
