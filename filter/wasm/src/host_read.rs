//! Host data read without the SDK's copies: a header map as the one serialised
//! buffer the host writes (for `meshward_core::abi::header_map` to borrow the
//! headers from), one header's value, properties by a path serialised on the
//! stack, and the clock without `SystemTime`.
//!
//! The SDK's `hostcalls::get_map_bytes` copies every name and value into an
//! allocation of its own (two per header, ~20 per request) and panics on a status
//! other than `Ok` or on a name that is not UTF-8; its `get_property` allocates the
//! path twice (the `Vec` it takes and its serialised form) and panics on an unexpected
//! status, as does its `get_map_value_bytes`. These are the same host calls with every
//! failure returned as a value. This module is the adapter's only `unsafe` code besides
//! the SDK's entry-point macro.

use meshward_core::abi;
use proxy_wasm::types::MapType;

#[allow(unsafe_code)]
mod ffi {
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

        /// proxy-wasm ABI 0.2.1: the value of one header (the first of that name),
        /// allocated like the map above.
        pub(super) fn proxy_get_header_map_value(
            map_type: u32,
            key_data: *const u8,
            key_size: usize,
            return_value_data: *mut *mut u8,
            return_value_size: *mut usize,
        ) -> u32;

        /// proxy-wasm ABI 0.2.1: the host's wall clock in nanoseconds since the Unix
        /// epoch.
        pub(super) fn proxy_get_current_time_nanoseconds(return_time: *mut u64) -> u32;

        /// proxy-wasm ABI 0.2.1: the value of the property at the serialised path
        /// (parts separated by NUL), allocated like the map above.
        pub(super) fn proxy_get_property(
            path_data: *const u8,
            path_size: usize,
            return_value_data: *mut *mut u8,
            return_value_size: *mut usize,
        ) -> u32;
    }

    /// Owns what the host returned: `Ok(None)` when it wrote no buffer.
    ///
    /// # Safety
    /// `status`, `data` and `size` come from a host call that, on status 0, wrote
    /// `data`: a buffer of exactly `size` bytes obtained from this module's
    /// `proxy_on_memory_allocate`, which the SDK implements as a boxed slice of `size`
    /// bytes from this module's global allocator, referred to by nothing else.
    unsafe fn owned(status: u32, data: *mut u8, size: usize) -> Result<Option<Vec<u8>>, u32> {
        if status != 0 {
            return Err(status);
        }
        if data.is_null() {
            return Ok(None);
        }
        // SAFETY: as the function's contract says; owning it as a `Vec` of length and
        // capacity `size` is what the SDK's own `get_map_bytes` and `get_property` do.
        Ok(Some(unsafe { Vec::from_raw_parts(data, size, size) }))
    }

    /// The header map host call; `Ok(None)` when the host wrote no buffer.
    pub(super) fn map_pairs(map_type: u32) -> Result<Option<Vec<u8>>, u32> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the out-pointers are valid for writes during the call, and the
        // result is handed to `owned` exactly as the host call left it.
        unsafe {
            let status = proxy_get_header_map_pairs(map_type, &mut data, &mut size);
            owned(status, data, size)
        }
    }

    /// The header value host call; `Ok(None)` when the host wrote no buffer.
    pub(super) fn map_value(map_type: u32, key: &[u8]) -> Result<Option<Vec<u8>>, u32> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: `key` is valid for reads of its length during the call, the
        // out-pointers for writes, and the result goes to `owned` as the host left it.
        unsafe {
            let status =
                proxy_get_header_map_value(map_type, key.as_ptr(), key.len(), &mut data, &mut size);
            owned(status, data, size)
        }
    }

    /// The clock host call; the host's status code on failure.
    pub(super) fn time_ns() -> Result<u64, u32> {
        let mut t: u64 = 0;
        // SAFETY: the out-pointer is valid for writes during the call.
        let status = unsafe { proxy_get_current_time_nanoseconds(&mut t) };
        if status == 0 {
            Ok(t)
        } else {
            Err(status)
        }
    }

    /// The property host call; `Ok(None)` when the host wrote no buffer.
    pub(super) fn property(path: &[u8]) -> Result<Option<Vec<u8>>, u32> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: `path` is valid for reads of its length during the call, the
        // out-pointers for writes, and the result goes to `owned` as the host left it.
        unsafe {
            let status = proxy_get_property(path.as_ptr(), path.len(), &mut data, &mut size);
            owned(status, data, size)
        }
    }
}

/// The serialised header map of `map` (empty when the host has none); on failure the
/// host's status code.
pub fn map_bytes(map: MapType) -> Result<Vec<u8>, u32> {
    ffi::map_pairs(map as u32).map(Option::unwrap_or_default)
}

/// The value of header `name` of `map` (`None` when absent; a present header the
/// host returns no bytes for is empty); on failure the host's status code.
pub fn map_value(map: MapType, name: &str) -> Result<Option<Vec<u8>>, u32> {
    match ffi::map_value(map as u32, name.as_bytes()) {
        Ok(v) => Ok(Some(v.unwrap_or_default())),
        Err(NOT_FOUND) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The host's wall clock in milliseconds since the Unix epoch (0 when the host call
/// fails). The SDK's `get_current_time` goes through `SystemTime` and a `u128`
/// division (~200 Wasm instructions per request); this is one division.
pub fn now_ms() -> u64 {
    ffi::time_ns().map_or(0, |ns| ns / 1_000_000)
}

/// Status `NotFound` of the proxy-wasm ABI.
const NOT_FOUND: u32 = 1;

/// The property at `path` (`None` when absent); on failure the host's status code.
/// The path is serialised on the stack when it fits 128 bytes.
pub fn property(path: &[&str]) -> Result<Option<Vec<u8>>, u32> {
    let mut buf = [0u8; 128];
    let joined;
    let serialised = match abi::property_path(path, &mut buf) {
        Some(n) => buf.get(..n).unwrap_or_default(),
        None => {
            joined = path.join("\0");
            joined.as_bytes()
        }
    };
    match ffi::property(serialised) {
        Err(NOT_FOUND) => Ok(None),
        r => r,
    }
}
