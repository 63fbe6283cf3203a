//! GraphQL operations from JSON bodies, documents, forms and query strings: never
//! panics, names stay bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshward_core::api::graphql;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let ct = match sel % 4 {
        0 => Some("application/json"),
        1 => Some("application/graphql"),
        2 => Some("application/x-www-form-urlencoded"),
        _ => None,
    };
    let text = String::from_utf8_lossy(body);
    let query = (sel & 0x10 != 0).then_some(text.as_ref());
    for op in graphql::operations(ct, body, query) {
        assert!(op
            .name
            .as_ref()
            .is_none_or(|n| n.len() <= graphql::MAX_NAME_LEN));
        let _ = op.text();
    }
    let _ = graphql::from_document(&text, Some("Op"));
    let _ = graphql::from_query_string(&text);
});
