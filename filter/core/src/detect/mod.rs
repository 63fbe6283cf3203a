//! Attack detection on single requests: injection families and scanner fingerprints.
