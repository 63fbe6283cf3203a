//! The built-in sensitive data types: ids, levels and partial-mask rules, as fixed by
//! the product catalog (`sensitive-types.md`).

/// One built-in type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeInfo {
    /// Type id used in config, events and stats.
    pub id: &'static str,
    /// Default level (1..4).
    pub level: u8,
}

const fn t(id: &'static str, level: u8) -> TypeInfo {
    TypeInfo { id, level }
}

/// Every built-in type, in catalog order.
pub const BUILTIN: &[TypeInfo] = &[
    t("cn_resident_id", 4),
    t("cn_mobile", 3),
    t("cn_landline", 2),
    t("bank_card", 4),
    t("card_security_code", 4),
    t("cn_passport", 4),
    t("cn_hk_macau_permit", 4),
    t("cn_uscc", 2),
    t("cn_license_plate", 3),
    t("cn_name", 3),
    t("address", 3),
    t("date_of_birth", 3),
    t("email", 3),
    t("us_ssn", 4),
    t("iban", 4),
    t("ipv4", 2),
    t("ipv6", 2),
    t("mac_address", 2),
    t("imei", 3),
    t("jwt", 4),
    t("private_key", 4),
    t("aws_access_key", 4),
    t("cloud_secret", 4),
    t("password", 4),
    t("bitcoin_address", 3),
];

/// Validators a custom type may name.
pub const VALIDATORS: &[&str] = &[
    "luhn",
    "cn_resident_id",
    "cn_uscc",
    "iban",
    "bitcoin_address",
    "date",
];

/// Looks a built-in type up by id.
pub fn builtin(id: &str) -> Option<&'static TypeInfo> {
    BUILTIN.iter().find(|t| t.id == id)
}
