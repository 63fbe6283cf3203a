//! Reads a header map as the one serialised buffer the host writes, for
//! `meshward_core::header_map::parse` to borrow the headers from.
//!
//! The SDK's `hostcalls::get_map_bytes` copies every name and value into an
//! allocation of its own (two per header, ~20 per request) and panics on a status
//! other than `Ok` or on a name that is not UTF-8. This is the same host call with the
//! buffer kept whole and every failure returned as a value. It is the adapter's only
//! `unsafe` code besides the SDK's entry-point macro.

use proxy_wasm::types::MapType;

#[allow(unsafe_code)]
mod abi {
    #[link(wasm_import_module = "env")]
    extern "C" {
        /// proxy-wasm ABI 0.2.1: writes a pointer to, and the size of, the serialised
        /// map; the bytes are allocated through this module's
        /// `proxy_on_memory_allocate`. Status and map type as their `u32` codes.
        pub(super) fn proxy_get_header_map_pairs(
            map_type: u32,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> u32;
    }

    /// The host call; `Ok(None)` when the host wrote no buffer.
    pub(super) fn map_pairs(map_type: u32) -> Result<Option<Vec<u8>>, u32> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the two out-pointers are valid for writes for the duration of the
        // call. On success the host has written `data`, a buffer of exactly `size`
        // bytes that it obtained from `proxy_on_memory_allocate`, which the SDK
        // implements as a boxed slice of `size` bytes from this module's global
        // allocator: owning it as a `Vec` of length and capacity `size` is what the
        // SDK's own `get_map_bytes` does, and nothing else refers to it afterwards.
        unsafe {
            let status = proxy_get_header_map_pairs(map_type, &mut data, &mut size);
            if status != 0 {
                return Err(status);
            }
            if data.is_null() {
                return Ok(None);
            }
            Ok(Some(Vec::from_raw_parts(data, size, size)))
        }
    }
}

/// The serialised header map of `map` (empty when the host has none); on failure the
/// host's status code.
pub fn map_bytes(map: MapType) -> Result<Vec<u8>, u32> {
    abi::map_pairs(map as u32).map(Option::unwrap_or_default)
}
