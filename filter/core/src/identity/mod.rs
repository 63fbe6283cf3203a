//! Who is calling: the workload (SPIFFE id of the mTLS peer) and the account (JWT,
//! jwt_authn metadata, API key, Basic, header), each with its trust.

/// Checks the shape of an inline JWKS document: a `keys` list whose entries have a
/// supported `kty` and, when given, a supported `alg`.
pub fn jwks_check(doc: &str) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_str(doc).map_err(|e| format!("JWKS is not valid JSON: {e}"))?;
    let keys = v
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or("JWKS needs a `keys` list")?;
    if keys.is_empty() {
        return Err("JWKS has no keys".into());
    }
    for (i, k) in keys.iter().enumerate() {
        let kty = k
            .get("kty")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        if !matches!(kty, "RSA" | "EC") {
            return Err(format!(
                "JWKS key {i}: kty must be RSA or EC, found \"{kty}\""
            ));
        }
        if let Some(alg) = k.get("alg").and_then(serde_json::Value::as_str) {
            if !matches!(alg, "RS256" | "ES256") {
                return Err(format!(
                    "JWKS key {i}: alg \"{alg}\" is not supported (RS256, ES256)"
                ));
            }
        }
    }
    Ok(())
}
