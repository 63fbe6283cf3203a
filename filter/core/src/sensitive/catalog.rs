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

/// The built-in types as an enum, in catalog order: `Builtin::X as usize` is the index
/// of the type in [`BUILTIN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Builtin {
    /// `cn_resident_id`
    CnResidentId = 0,
    /// `cn_mobile`
    CnMobile,
    /// `cn_landline`
    CnLandline,
    /// `bank_card`
    BankCard,
    /// `card_security_code`
    CardSecurityCode,
    /// `cn_passport`
    CnPassport,
    /// `cn_hk_macau_permit`
    CnHkMacauPermit,
    /// `cn_uscc`
    CnUscc,
    /// `cn_license_plate`
    CnLicensePlate,
    /// `cn_name`
    CnName,
    /// `address`
    Address,
    /// `date_of_birth`
    DateOfBirth,
    /// `email`
    Email,
    /// `us_ssn`
    UsSsn,
    /// `iban`
    Iban,
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
    /// `mac_address`
    MacAddress,
    /// `imei`
    Imei,
    /// `jwt`
    Jwt,
    /// `private_key`
    PrivateKey,
    /// `aws_access_key`
    AwsAccessKey,
    /// `cloud_secret`
    CloudSecret,
    /// `password`
    Password,
    /// `bitcoin_address`
    BitcoinAddress,
}

impl Builtin {
    /// Every built-in, in catalog order.
    pub const ALL: [Builtin; 25] = [
        Builtin::CnResidentId,
        Builtin::CnMobile,
        Builtin::CnLandline,
        Builtin::BankCard,
        Builtin::CardSecurityCode,
        Builtin::CnPassport,
        Builtin::CnHkMacauPermit,
        Builtin::CnUscc,
        Builtin::CnLicensePlate,
        Builtin::CnName,
        Builtin::Address,
        Builtin::DateOfBirth,
        Builtin::Email,
        Builtin::UsSsn,
        Builtin::Iban,
        Builtin::Ipv4,
        Builtin::Ipv6,
        Builtin::MacAddress,
        Builtin::Imei,
        Builtin::Jwt,
        Builtin::PrivateKey,
        Builtin::AwsAccessKey,
        Builtin::CloudSecret,
        Builtin::Password,
        Builtin::BitcoinAddress,
    ];

    /// Index in [`BUILTIN`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The type id (`cn_mobile`, ...).
    pub fn id(self) -> &'static str {
        BUILTIN.get(self.index()).map_or("", |t| t.id)
    }

    /// Looks a built-in up by id.
    pub fn from_id(id: &str) -> Option<Builtin> {
        let i = BUILTIN.iter().position(|t| t.id == id)?;
        Builtin::ALL.get(i).copied()
    }

    /// One bit per type (for key-context masks).
    pub(crate) const fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn enum_matches_catalog_order() {
        assert_eq!(Builtin::ALL.len(), BUILTIN.len());
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
            assert_eq!(b.id(), BUILTIN[i].id);
            assert_eq!(Builtin::from_id(b.id()), Some(*b));
        }
        assert_eq!(Builtin::from_id("nope"), None);
        assert_eq!(builtin("cn_mobile").map(|t| t.level), Some(3));
    }
}
