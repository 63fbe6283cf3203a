//! Key context: what a JSON key, form field, header or query parameter name says about
//! its value. Names are split into lower-case words (`bankCard` → `bank card`,
//! `id_no` → `id no`) and matched against word lists, so `shipping` never reads as
//! `pin`. Keys push both ways: some make a validated match certain (or enable a
//! key-based type), others (`order_id`, `trace_id`, `ts`, ...) void weak matches.

use super::catalog::Builtin as B;

/// What a key says. `Default` = no key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCtx {
    /// One bit per built-in ([`B::bit`]): the key names this type.
    pub pos: u32,
    /// An identifier-like key (`*_id`, `order_no`, `timestamp`, `sku`, ...): weak
    /// matches (without a checksum) of types the key does not name are void.
    pub neg: bool,
    /// A version-like key (`version`, `sdk`, `build`): dotted quads are versions.
    pub version: bool,
    /// The key is just `name` (a person's name only with more evidence).
    pub name_weak: bool,
    /// The enclosing object is about a person (`user`, `customer`, `contact`, ...). Only
    /// read for a key that may name a person ([`KeyCtx::may_name_person`]), so only
    /// worked out for one: `false` for any other key.
    pub person: bool,
}

impl KeyCtx {
    /// Whether a value under this key may be a person's name (the key names `cn_name`,
    /// or is just `name`): the one case where the parent key (`person`) matters.
    pub fn may_name_person(&self) -> bool {
        self.names(B::CnName) || self.name_weak
    }
    /// Whether the key names `t`.
    pub fn names(&self, t: B) -> bool {
        self.pos & t.bit() != 0
    }
    /// Whether a weak match of `t` (no checksum) is void here.
    pub fn voids(&self, t: B) -> bool {
        self.neg && !self.names(t)
    }
}

const MAX_WORDS: usize = 8;
const MAX_LEN: usize = 64;

/// A key split into lower-case ASCII words (at most 8 words, 64 bytes).
struct Words {
    buf: [u8; MAX_LEN],
    ends: [u8; MAX_WORDS],
    n: usize,
    len: usize,
}

impl Words {
    fn split(key: &[u8]) -> Words {
        let mut w = Words {
            buf: [0; MAX_LEN],
            ends: [0; MAX_WORDS],
            n: 0,
            len: 0,
        };
        let mut prev_lower = false;
        let mut open = false;
        for &b in key.iter().take(MAX_LEN) {
            if b.is_ascii_alphanumeric() {
                let upper = b.is_ascii_uppercase();
                if open && upper && prev_lower {
                    w.close();
                }
                if w.len < MAX_LEN && w.n < MAX_WORDS {
                    w.buf[w.len] = b.to_ascii_lowercase();
                    w.len += 1;
                    open = true;
                }
                prev_lower = b.is_ascii_lowercase() || b.is_ascii_digit();
            } else {
                if open {
                    w.close();
                }
                open = false;
                prev_lower = false;
            }
        }
        if open {
            w.close();
        }
        w
    }

    fn close(&mut self) {
        if self.n < MAX_WORDS {
            self.ends[self.n] = self.len as u8;
            self.n += 1;
        }
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).map_or(0, |&e| e as usize)
        };
        let end = self.ends.get(i).map_or(0, |&e| e as usize);
        self.buf.get(start..end).unwrap_or_default()
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.n).map(|i| self.get(i))
    }

    /// All words joined (`id_card_no` → `idcardno`).
    fn joined(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    fn last(&self) -> &[u8] {
        self.n.checked_sub(1).map_or(&[], |i| self.get(i))
    }

    /// The last two words joined (`holder id no` → `idno`).
    fn tail2(&self) -> &[u8] {
        let start = match self.n.checked_sub(3) {
            None => 0,
            Some(k) => self.ends.get(k).map_or(0, |&e| e as usize),
        };
        self.buf.get(start..self.len).unwrap_or_default()
    }

    // The helpers of `classify` are not inlined: `classify` runs on key-cache misses
    // only, and inlined they made it one ~24 KB Wasm function, whose compile scratch
    // V8 keeps (see `config::compile::compile`).
    #[inline(never)]
    fn any(&self, list: &[&[u8]]) -> bool {
        self.iter().any(|w| list.contains(&w))
    }
}

#[inline(never)]
fn contains(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    !n.is_empty() && hay.len() >= n.len() && hay.windows(n.len()).any(|w| w == n)
}

#[inline(never)]
fn contains_any(hay: &[u8], needles: &[&str]) -> bool {
    needles.iter().any(|n| contains(hay, n))
}

/// Whether the last word, the last two words or all words joined are in `list`.
#[inline(never)]
fn tail_in(list: &[&[u8]], last: &[u8], tail2: &[u8], joined: &[u8]) -> bool {
    list.contains(&last) || list.contains(&tail2) || list.contains(&joined)
}

const ID_TAIL: &[&[u8]] = &[
    b"idcard",
    b"idcardno",
    b"idcardnum",
    b"idcardnumber",
    b"idno",
    b"idnum",
    b"idnumber",
    b"sfz",
    b"sfzh",
    b"sfzhm",
    b"sfzno",
    b"identity",
    b"identityno",
    b"identitycard",
    b"identitynumber",
    b"identitynum",
    b"citizenid",
    b"citizenno",
    b"residentid",
    b"residentidcard",
    b"nationalid",
    b"shenfenzheng",
    b"shenfenzhenghao",
    b"certno",
    b"certnum",
    b"certificateno",
    b"certificatenumber",
    b"idcardcode",
    b"identitycode",
];
const MOBILE_WORDS: &[&[u8]] = &[
    b"mobile",
    b"phone",
    b"cellphone",
    b"mobilephone",
    b"tel",
    b"telephone",
    b"cell",
    b"msisdn",
    b"phonenumber",
    b"phoneno",
    b"phonenum",
    b"mobileno",
    b"mobilenumber",
    b"mobilenum",
    b"telno",
    b"shouji",
    b"dianhua",
    b"contactphone",
    b"contactmobile",
];
const LANDLINE_WORDS: &[&[u8]] = &[
    b"tel",
    b"telephone",
    b"phone",
    b"landline",
    b"fax",
    b"officephone",
    b"fixedphone",
    b"workphone",
    b"homephone",
    b"telno",
    b"phoneno",
    b"phonenumber",
    b"dianhua",
    b"zuoji",
];
const CARD_TAIL: &[&[u8]] = &[
    b"cardno",
    b"cardnum",
    b"cardnumber",
    b"bankcard",
    b"bankcardno",
    b"bankcardnumber",
    b"creditcard",
    b"creditcardno",
    b"creditcardnumber",
    b"debitcard",
    b"debitcardno",
    b"pan",
    b"ccnumber",
    b"ccnum",
    b"ccno",
    b"bankaccount",
    b"bankaccountno",
    b"accountno",
    b"accountnumber",
    b"paymentcard",
    b"yinhangka",
];
const CVV_TAIL: &[&[u8]] = &[
    b"cvv",
    b"cvc",
    b"cvn",
    b"cvv2",
    b"cvc2",
    b"cvn2",
    b"csc",
    b"securitycode",
    b"cardsecuritycode",
    b"cvvcode",
    b"cardcvv",
    b"cardcvc",
];
const PLATE_WORDS: &[&[u8]] = &[
    b"plate",
    b"plateno",
    b"platenumber",
    b"licenseplate",
    b"licenceplate",
    b"carno",
    b"carnumber",
    b"vehicleno",
    b"vehiclenumber",
    b"vehicleplate",
    b"chepai",
    b"chepaihao",
];
const NAME_STRONG: &[&[u8]] = &[
    b"realname",
    b"fullname",
    b"xingming",
    b"contactname",
    b"customername",
    b"holdername",
    b"cardholder",
    b"cardholdername",
    b"accountholder",
    b"accountholdername",
    b"receivername",
    b"recipientname",
    b"consignee",
    b"consigneename",
    b"patientname",
    b"studentname",
    b"employeename",
    b"legalname",
    b"truename",
    b"personname",
    b"membername",
    b"buyername",
    b"sendername",
    b"guestname",
    b"passengername",
    b"ownername",
    b"legalperson",
    b"legalrepresentative",
    b"linkman",
    b"contactperson",
    b"applicantname",
    b"drivername",
    b"beneficiaryname",
    b"payername",
    b"payeename",
    b"username_real",
    b"shippingname",
    b"billingname",
    b"travelername",
    b"insuredname",
    b"contact",
];
const PERSON_WORDS: &[&[u8]] = &[
    b"user",
    b"users",
    b"customer",
    b"customers",
    b"contact",
    b"contacts",
    b"member",
    b"members",
    b"employee",
    b"employees",
    b"patient",
    b"patients",
    b"student",
    b"students",
    b"buyer",
    b"recipient",
    b"receiver",
    b"sender",
    b"owner",
    b"holder",
    b"passenger",
    b"passengers",
    b"guest",
    b"guests",
    b"person",
    b"people",
    b"persons",
    b"profile",
    b"author",
    b"applicant",
    b"driver",
    b"consignee",
    b"teacher",
    b"doctor",
    b"staff",
    b"traveler",
    b"travelers",
    b"traveller",
    b"beneficiary",
    b"payer",
    b"payee",
    b"shipping",
    b"billing",
    b"account",
    b"cardholder",
    b"emergency",
    b"spouse",
    b"parent",
    b"child",
    b"children",
    b"insured",
    b"friend",
    b"friends",
    b"assignee",
    b"reviewer",
    b"creator",
];
const ADDRESS_WORDS: &[&[u8]] = &[
    b"address",
    b"addr",
    b"addresses",
    b"street",
    b"streetaddress",
    b"homeaddress",
    b"shippingaddress",
    b"billingaddress",
    b"deliveryaddress",
    b"mailingaddress",
    b"residence",
    b"dizhi",
    b"addressline",
    b"addressline1",
    b"addressline2",
    b"address1",
    b"address2",
    b"fulladdress",
    b"detailaddress",
    b"addressdetail",
    b"location",
];
const NOT_POSTAL: &[&[u8]] = &[
    b"ip",
    b"ipv4",
    b"ipv6",
    b"mac",
    b"email",
    b"mail",
    b"wallet",
    b"btc",
    b"eth",
    b"crypto",
    b"contract",
    b"server",
    b"remote",
    b"host",
    b"web",
    b"url",
    b"bitcoin",
    b"smtp",
    b"hardware",
    b"ipaddress",
    b"macaddress",
    b"emailaddress",
    b"ipaddr",
    b"macaddr",
    b"remoteaddr",
    b"bind",
    b"listen",
    b"proxy",
    b"gateway",
    b"node",
    b"peer",
    b"local",
    b"socket",
    b"memory",
    b"mem",
    b"base",
    b"endpoint",
    b"geo",
    b"lat",
    b"lng",
    b"id",
];
const DOB_TAIL: &[&[u8]] = &[
    b"birthday",
    b"dob",
    b"birthdate",
    b"dateofbirth",
    b"birth",
    b"borndate",
    b"bornon",
    b"bday",
    b"shengri",
    b"chushengriqi",
    b"birthdt",
    b"birthdaydate",
];
const PASSWORD_WORDS: &[&[u8]] = &[
    b"password",
    b"passwd",
    b"pwd",
    b"passwort",
    b"secret",
    b"pin",
    b"pincode",
    b"passphrase",
    b"passcode",
    b"mima",
    b"oldpassword",
    b"newpassword",
    b"clientsecret",
    b"appsecret",
    b"secretkey",
    b"apisecret",
    b"loginpassword",
    b"paypassword",
    b"paypwd",
    b"loginpwd",
];
const PASSWORD_NOT: &[&[u8]] = &[
    b"policy",
    b"expires",
    b"expired",
    b"expiry",
    b"expire",
    b"expiration",
    b"updated",
    b"changed",
    b"length",
    b"strength",
    b"rule",
    b"rules",
    b"required",
    b"enabled",
    b"hint",
    b"reset",
    b"url",
    b"at",
    b"time",
    b"date",
    b"type",
    b"mode",
    b"min",
    b"max",
    b"count",
    b"set",
    b"reminder",
    b"status",
    b"question",
    b"id",
    b"name",
    b"version",
    b"age",
    b"last",
    b"has",
    b"is",
    b"need",
    b"needs",
    b"must",
    b"valid",
    b"retry",
    b"retries",
    b"attempts",
    b"ttl",
    b"manager",
    b"field",
    b"label",
    b"placeholder",
    b"pinned",
    b"ref",
    b"arn",
];
const NEG_WORDS: &[&[u8]] = &[
    b"id",
    b"ids",
    b"uid",
    b"uuid",
    b"guid",
    b"order",
    b"orderid",
    b"orderno",
    b"trace",
    b"traceid",
    b"span",
    b"spanid",
    b"request",
    b"requestid",
    b"req",
    b"reqid",
    b"timestamp",
    b"ts",
    b"time",
    b"sku",
    b"seq",
    b"sequence",
    b"nonce",
    b"version",
    b"ver",
    b"hash",
    b"checksum",
    b"etag",
    b"offset",
    b"cursor",
    b"ean",
    b"gtin",
    b"upc",
    b"isbn",
    b"barcode",
    b"tracking",
    b"txid",
    b"txn",
    b"transaction",
    b"batch",
    b"invoice",
    b"created",
    b"updated",
    b"expires",
    b"exp",
    b"iat",
    b"nbf",
    b"epoch",
    b"millis",
    b"ms",
    b"amount",
    b"price",
    b"total",
    b"count",
    b"size",
    b"length",
    b"balance",
    b"qty",
    b"quantity",
    b"snowflake",
    b"msgid",
    b"sessionid",
    b"correlation",
    b"trade",
    b"tradeno",
    b"outtradeno",
    b"serial",
    b"sn",
    b"build",
    b"revision",
    b"sign",
    b"signature",
    b"digest",
    b"token",
    b"ticket",
    b"code",
];
const VERSION_WORDS: &[&[u8]] = &[
    b"version",
    b"ver",
    b"build",
    b"release",
    b"sdk",
    b"firmware",
    b"fw",
    b"os",
    b"appversion",
    b"sdkversion",
    b"osversion",
    b"clientversion",
    b"useragent",
    b"ua",
    b"rev",
    b"revision",
    b"agent",
    b"client",
    b"app",
    b"lib",
    b"library",
    b"package",
    b"pkg",
    b"plugin",
    b"module",
    b"engine",
    b"runtime",
    b"browser",
    b"platform",
    b"model",
];

/// Classifies a key (and the key of the enclosing object).
pub fn classify(key: &[u8], parent: Option<&[u8]>) -> KeyCtx {
    if key.is_empty() {
        return KeyCtx::default();
    }
    let ctx = classify_key(key);
    KeyCtx {
        person: ctx.may_name_person() && parent.is_some_and(names_person),
        ..ctx
    }
}

/// Whether the key of an enclosing object says the object is about a person
/// ([`KeyCtx::person`]).
fn names_person(p: &[u8]) -> bool {
    Words::split(p).any(PERSON_WORDS)
        || (!p.is_ascii() && contains_any(p, &["用户", "客户", "联系人", "会员", "员工", "乘客"]))
}

/// [`classify`] of a non-empty key without its parent (`person` is false).
fn classify_key(key: &[u8]) -> KeyCtx {
    let mut c = KeyCtx::default();
    let w = Words::split(key);
    let joined = w.joined();
    let last = w.last();
    let tail2 = w.tail2();
    let ascii = key.is_ascii();
    let tail = |list: &[&[u8]]| tail_in(list, last, tail2, joined);
    let mut pos = 0u32;
    let mut set = |t: B, on: bool| {
        if on {
            pos |= t.bit();
        }
    };
    set(
        B::CnResidentId,
        tail(ID_TAIL) || (!ascii && contains_any(key, &["身份证", "证件号"])),
    );
    let mobile = w.any(MOBILE_WORDS) || tail(MOBILE_WORDS);
    set(
        B::CnMobile,
        mobile || (!ascii && contains_any(key, &["手机", "电话", "联系方式"])),
    );
    set(
        B::CnLandline,
        w.any(LANDLINE_WORDS)
            || tail(LANDLINE_WORDS)
            || (!ascii && contains_any(key, &["电话", "座机", "传真"])),
    );
    set(
        B::BankCard,
        tail(CARD_TAIL) || (!ascii && contains_any(key, &["银行卡", "卡号", "银行账号"])),
    );
    set(
        B::CardSecurityCode,
        tail(CVV_TAIL) || (!ascii && contains(key, "安全码")),
    );
    set(
        B::CnPassport,
        w.iter().any(|x| x.starts_with(b"passport")) || (!ascii && contains(key, "护照")),
    );
    set(
        B::CnHkMacauPermit,
        w.iter().any(|x| {
            x.starts_with(b"hkmacau") || x.starts_with(b"gangao") || x == b"permit" || x == b"hkmo"
        }) || contains(joined, "hkmacau")
            || (!ascii && contains_any(key, &["港澳", "通行证"])),
    );
    set(
        B::CnUscc,
        tail(&[
            b"uscc",
            b"creditcode",
            b"socialcreditcode",
            b"unifiedsocialcreditcode",
            b"taxid",
            b"taxno",
        ]) || (!ascii && contains_any(key, &["信用代码", "税号"])),
    );
    set(
        B::CnLicensePlate,
        w.any(PLATE_WORDS) || tail(PLATE_WORDS) || (!ascii && contains(key, "车牌")),
    );
    let name_strong = tail(NAME_STRONG)
        || (!ascii
            && contains_any(
                key,
                &["姓名", "联系人", "收货人", "收件人", "持卡人", "法人"],
            ));
    set(B::CnName, name_strong);
    c.name_weak = !name_strong
        && (joined == b"name"
            || joined == b"cnname"
            || joined == b"chinesename"
            || joined == b"englishname"
            || joined == b"enname");
    let postal =
        (w.any(ADDRESS_WORDS) || last.starts_with(b"addr") || last.starts_with(b"address"))
            && !w.any(NOT_POSTAL);
    set(
        B::Address,
        postal || (!ascii && contains_any(key, &["地址", "住址"])),
    );
    set(
        B::DateOfBirth,
        tail(DOB_TAIL)
            || (w.n >= 2 && contains(joined, "birth") && !contains(joined, "place"))
            || (!ascii && contains_any(key, &["出生日期", "生日", "出生"])),
    );
    set(
        B::UsSsn,
        w.any(&[b"ssn", b"socialsecurity", b"socialsecuritynumber"])
            || contains(joined, "socialsecurity"),
    );
    set(
        B::Imei,
        w.any(&[
            b"imei",
            b"imei1",
            b"imei2",
            b"meid",
            b"imeino",
            b"imeinumber",
        ]),
    );
    set(
        B::Password,
        (w.any(PASSWORD_WORDS) || contains(joined, "password") || contains(joined, "passwd"))
            && !w.any(PASSWORD_NOT)
            || (!ascii && contains_any(key, &["密码", "口令"])),
    );
    set(
        B::Email,
        w.any(&[b"email", b"mail", b"emailaddress", b"youxiang"]),
    );
    set(
        B::Ipv4,
        w.any(&[
            b"ip",
            b"ipv4",
            b"ipaddr",
            b"ipaddress",
            b"clientip",
            b"remoteip",
        ]),
    );
    set(
        B::Ipv6,
        w.any(&[
            b"ip",
            b"ipv6",
            b"ipaddr",
            b"ipaddress",
            b"clientip",
            b"remoteip",
        ]),
    );
    set(B::MacAddress, w.any(&[b"mac", b"macaddr", b"macaddress"]));
    set(B::Iban, w.any(&[b"iban"]));
    c.pos = pos;
    c.neg = w.any(NEG_WORDS)
        || joined.ends_with(b"id") && !tail(ID_TAIL) && w.n == 1 && joined.len() <= 6;
    c.version = w.any(VERSION_WORDS) || w.iter().any(|x| x.starts_with(b"version"));
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn k(s: &str) -> KeyCtx {
        classify(s.as_bytes(), None)
    }

    #[test]
    fn splits_words() {
        let w = Words::split(b"bankCardNo");
        assert_eq!(
            w.iter().collect::<Vec<_>>(),
            vec![&b"bank"[..], b"card", b"no"]
        );
        assert_eq!(w.joined(), b"bankcardno");
        assert_eq!(w.tail2(), b"cardno");
        let w = Words::split(b"user-ID_card");
        assert_eq!(
            w.iter().collect::<Vec<_>>(),
            vec![&b"user"[..], b"id", b"card"]
        );
        assert_eq!(Words::split(b"IMEI").joined(), b"imei");
        assert_eq!(Words::split(b"").n, 0);
    }

    #[test]
    fn positive_keys() {
        for key in ["id_card", "sfz", "idNo", "holder_id_number", "身份证号"] {
            assert!(k(key).names(B::CnResidentId), "{key}");
        }
        for key in ["mobile", "phone", "contactPhone", "phone_number", "手机号"] {
            assert!(k(key).names(B::CnMobile), "{key}");
        }
        for key in ["card_no", "bankCard", "cardNumber", "pan"] {
            assert!(k(key).names(B::BankCard), "{key}");
        }
        for key in ["cvv", "CVV2", "security_code", "card_cvc"] {
            assert!(k(key).names(B::CardSecurityCode), "{key}");
        }
        for key in [
            "password",
            "newPassword",
            "pwd",
            "client_secret",
            "pin",
            "登录密码",
        ] {
            assert!(k(key).names(B::Password), "{key}");
        }
        for key in ["address", "shipping_address", "addr", "收货地址"] {
            assert!(k(key).names(B::Address), "{key}");
        }
        for key in ["birthday", "dob", "birth_date", "dateOfBirth"] {
            assert!(k(key).names(B::DateOfBirth), "{key}");
        }
        for key in ["real_name", "fullName", "contact_name", "姓名"] {
            assert!(k(key).names(B::CnName), "{key}");
        }
        assert!(k("name").name_weak);
        assert!(classify(b"name", Some(b"customer")).person);
        assert!(!classify(b"name", Some(b"product")).person);
    }

    #[test]
    fn negative_and_excluded_keys() {
        for key in [
            "order_id",
            "trace_id",
            "timestamp",
            "ts",
            "sku",
            "orderNo",
            "id",
            "userId",
        ] {
            assert!(k(key).neg, "{key}");
        }
        assert!(!k("mobile").neg);
        assert!(!k("id_card").voids(B::CnResidentId));
        assert!(k("user_id").voids(B::CnMobile));
        for key in [
            "shipping_fee",
            "password_policy",
            "password_expires_at",
            "spin",
            "pinned",
        ] {
            assert!(!k(key).names(B::Password), "{key}");
        }
        for key in [
            "ip_address",
            "email_address",
            "wallet_address",
            "remote_addr",
            "mac_address",
        ] {
            assert!(!k(key).names(B::Address), "{key}");
        }
        assert!(k("app_version").version);
        assert!(!k("product_name").names(B::CnName));
        assert!(!k("product_name").name_weak);
    }
}

/// A small four-way set-associative cache of key classifications (keys repeat across
/// the records of a body and across requests of an API): 512 slots of 52 bytes,
/// allocated on first use, and a four-entry memo of parent keys. A slot holds the key
/// itself (a hash only picks the set), so a hit is always the classification of the
/// same key: a body cannot plant a classification for another key by colliding
/// hashes. The parent key only decides [`KeyCtx::person`]; it changes once per object
/// at most (every value of an object, and of each object of an array, has the same
/// one), so it is looked up apart, in the memo, and the slots hold keys alone. A key
/// longer than [`CACHED_KEY_MAX`] bytes bypasses the slots, a parent that long the
/// memo.
///
/// Keys are hashed and compared as little-endian 64-bit words, read in place, as many
/// as the key needs, the last zero-padded (no copy, no byte loop, no `memcmp`); a slot
/// keeps its key zero-padded to [`CACHED_KEY_MAX`] bytes. Keys of up to 16 bytes (most
/// of them) take a path that holds their two words in registers. The hash leaves out
/// the length, so `ab` and `ab\0` (the same words) share a set and the length
/// comparison tells them apart (tested). Four ways keep three or four hot keys that
/// share a set from evicting each other on every request (two ways did, for one
/// unlucky set of the bench).
#[derive(Debug, Default)]
pub struct KeyCache {
    slots: Vec<Slot>,
    /// Round-robin victim choice when a set is full.
    clock: usize,
    parents: [Parent; PARENTS],
    /// Round-robin victim choice in `parents`.
    parent_clock: usize,
}

/// The longest key (and parent key) the cache holds, in bytes.
pub const CACHED_KEY_MAX: usize = 40;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The key's length + 1; 0: empty.
    len: u8,
    /// The key, zero-padded.
    key: [u8; CACHED_KEY_MAX],
    /// `classify_key(key)`.
    ctx: KeyCtx,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            len: 0,
            key: [0; CACHED_KEY_MAX],
            ctx: KeyCtx::default(),
        }
    }
}

/// A memoised parent key.
#[derive(Debug, Clone, Copy)]
struct Parent {
    /// The parent's length + 1; 0: empty.
    len: u8,
    /// The parent, zero-padded.
    key: [u8; CACHED_KEY_MAX],
    person: bool,
}

impl Default for Parent {
    fn default() -> Self {
        Parent {
            len: 0,
            key: [0; CACHED_KEY_MAX],
            person: false,
        }
    }
}

const SLOTS: usize = 512;
const WAYS: usize = 4;
const PARENTS: usize = 4;

/// The `k`-th little-endian word of `b`, zero-padded past its end.
#[inline(always)]
fn word_at(b: &[u8], k: usize) -> u64 {
    crate::text::swar::word(b.get(8 * k..).unwrap_or_default())
}

/// FxHash's step over the words of `b` (at most [`CACHED_KEY_MAX`] bytes); the set
/// index takes the top bits, which depend on every input bit.
#[inline]
fn hash(b: &[u8]) -> u64 {
    let mut h = 0u64;
    for k in 0..b.len().div_ceil(8).max(2) {
        h = mix_step(h, word_at(b, k));
    }
    h
}

/// [`hash`] of a key of at most 16 bytes, from its two words.
#[inline(always)]
fn hash_two(w0: u64, w1: u64) -> u64 {
    mix_step(mix_step(0, w0), w1)
}

/// One step of [`hash`].
#[inline(always)]
fn mix_step(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95)
}

/// The first slot of the set of hash `h`.
#[inline(always)]
fn set_of(h: u64) -> usize {
    (h >> (64 - (SLOTS / WAYS).trailing_zeros())) as usize * WAYS
}

/// Whether `stored` (zero-padded) holds `b` (at most [`CACHED_KEY_MAX`] bytes) in its
/// first bytes and zeros after, word by word, without a branch per word. With equal
/// lengths, that is equality.
#[inline]
fn holds(stored: &[u8; CACHED_KEY_MAX], b: &[u8]) -> bool {
    let mut d = 0;
    for k in 0..b.len().div_ceil(8) {
        d |= word_at(stored, k) ^ word_at(b, k);
    }
    d == 0
}

/// `b` (at most [`CACHED_KEY_MAX`] bytes), zero-padded.
fn padded(b: &[u8]) -> [u8; CACHED_KEY_MAX] {
    let mut out = [0u8; CACHED_KEY_MAX];
    let n = b.len().min(CACHED_KEY_MAX);
    if let (Some(d), Some(s)) = (out.get_mut(..n), b.get(..n)) {
        d.copy_from_slice(s);
    }
    out
}

/// The first slot of a key's set (it lives in one of the [`WAYS`] slots from there).
fn locate(key: &[u8]) -> usize {
    set_of(hash(key))
}

impl KeyCache {
    /// [`classify`], memoised.
    pub fn get(&mut self, key: &[u8], parent: Option<&[u8]>) -> KeyCtx {
        if key.is_empty() {
            return KeyCtx::default();
        }
        let ctx = self.key(key);
        KeyCtx {
            // Most keys cannot name a person: no parent lookup for them.
            person: ctx.may_name_person() && parent.is_some_and(|p| self.person(p)),
            ..ctx
        }
    }

    /// [`classify_key`], memoised.
    #[inline]
    fn key(&mut self, key: &[u8]) -> KeyCtx {
        if key.len() > CACHED_KEY_MAX {
            return classify_key(key);
        }
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
        }
        let len = key.len() as u8 + 1;
        let first = if key.len() <= 16 {
            // Most keys: two words, read once, hashed and compared in registers (the
            // hash is `hash`'s: it mixes at least two words, tested).
            let (w0, w1) = (word_at(key, 0), word_at(key, 1));
            let first = set_of(hash_two(w0, w1));
            let set = self.slots.get(first..first + WAYS).unwrap_or_default();
            if let Some(s) = set
                .iter()
                .find(|s| s.len == len && word_at(&s.key, 0) == w0 && word_at(&s.key, 1) == w1)
            {
                return s.ctx;
            }
            first
        } else {
            let first = locate(key);
            let set = self.slots.get(first..first + WAYS).unwrap_or_default();
            if let Some(s) = set.iter().find(|s| s.len == len && holds(&s.key, key)) {
                return s.ctx;
            }
            first
        };
        let ctx = classify_key(key);
        let Some(set) = self.slots.get_mut(first..first + WAYS) else {
            return ctx;
        };
        // An empty way, else round robin.
        let way = match set.iter().position(|s| s.len == 0) {
            Some(w) => w,
            None => {
                self.clock = self.clock.wrapping_add(1);
                self.clock % WAYS
            }
        };
        if let Some(slot) = set.get_mut(way) {
            *slot = Slot {
                len,
                key: padded(key),
                ctx,
            };
        }
        ctx
    }

    /// [`names_person`], memoised.
    #[inline]
    fn person(&mut self, p: &[u8]) -> bool {
        if p.len() > CACHED_KEY_MAX {
            return names_person(p);
        }
        let len = p.len() as u8 + 1;
        let hit = if p.len() <= 16 {
            // As for keys: two words in registers.
            let (w0, w1) = (word_at(p, 0), word_at(p, 1));
            self.parents
                .iter()
                .find(|e| e.len == len && word_at(&e.key, 0) == w0 && word_at(&e.key, 1) == w1)
        } else {
            self.parents
                .iter()
                .find(|e| e.len == len && holds(&e.key, p))
        };
        if let Some(e) = hit {
            return e.person;
        }
        let person = names_person(p);
        self.parent_clock = self.parent_clock.wrapping_add(1);
        if let Some(e) = self.parents.get_mut(self.parent_clock % PARENTS) {
            *e = Parent {
                len,
                key: padded(p),
                person,
            };
        }
        person
    }

    /// The cached classification of `key` (`None`: not in the cache), for tests.
    #[cfg(test)]
    fn cached(&self, key: &[u8]) -> Option<KeyCtx> {
        let len = key.len() as u8 + 1;
        self.slots
            .get(locate(key)..locate(key) + WAYS)?
            .iter()
            .find(|s| s.len == len && holds(&s.key, key))
            .map(|s| s.ctx)
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_parent_decides_person() {
        let mut c = KeyCache::default();
        for _ in 0..3 {
            assert!(c.get(b"name", Some(b"customer")).person);
            assert!(!c.get(b"name", Some(b"product")).person);
            assert!(!c.get(b"name", None).person);
            assert!(!c.get(b"name", Some(b"")).person);
            assert!(
                c.get(b"real_name", Some(b"customer")).person,
                "names cn_name"
            );
            // Only a key that may name a person asks its parent: no parent memo entry.
            assert!(!c.get(b"email", Some(b"customer")).person);
            assert!(!classify(b"email", Some(b"customer")).person);
        }
        let before = c.parents.iter().filter(|p| p.len != 0).count();
        c.get(b"mobile", Some(b"some_new_parent"));
        assert_eq!(c.parents.iter().filter(|p| p.len != 0).count(), before);
    }

    #[test]
    fn evictions_keep_answers_right() {
        // Far more pairs than slots: every way is evicted many times over.
        let keys = ["mobile", "name", "user_id", "bank_card", "email", "note"];
        let parents = ["customer", "product", "order", "contact"];
        let mut c = KeyCache::default();
        for round in 0..2 {
            for i in 0..3000usize {
                let k = format!("{}_{i}", keys[i % keys.len()]);
                let p = format!("{}{}", parents[(i / 7 + round) % parents.len()], i % 13);
                assert_eq!(
                    c.get(k.as_bytes(), Some(p.as_bytes())),
                    classify(k.as_bytes(), Some(p.as_bytes())),
                    "{k} under {p}"
                );
            }
        }
    }

    #[test]
    fn zero_padding_never_merges_keys() {
        // Slots hold zero-padded words and the hash leaves the length out: `ab`,
        // `ab\0` and `ab\0\0` have the same words, so they share a set, and only the
        // length tells their entries apart.
        assert_eq!(locate(b"ab"), locate(b"ab\0"));
        assert_eq!(locate(b"ab"), locate(b"ab\0\0"));
        let mut c = KeyCache::default();
        c.get(b"ab\0", None);
        assert_eq!(c.cached(b"ab\0"), Some(classify(b"ab\0", None)));
        assert_eq!(c.cached(b"ab"), None);
        assert_eq!(c.cached(b"ab\0\0"), None);
        c.get(b"ab", None);
        assert_eq!(c.cached(b"ab"), Some(classify(b"ab", None)));
        // The same for parents: `customer` names a person, `customer\0` too (NUL
        // splits words), and the memo keeps them as two entries.
        for k in [&b"\0"[..], b"", b"\0\0"] {
            for p in [Some(&b"customer"[..]), Some(b"customer\0"), None, Some(b"")] {
                assert_eq!(c.get(k, p), classify(k, p), "{k:?} under {p:?}");
            }
        }
        assert_eq!(word_at(b"abcdefghij", 0), u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(
            word_at(b"abcdefghij", 1),
            u64::from_le_bytes(*b"ij\0\0\0\0\0\0")
        );
        assert_eq!(word_at(b"abcdefghij", 2), 0);
        for n in 0..=8 {
            let rest = &b"\x81bcdef\xff\x01"[..n];
            let mut want = [0u8; 8];
            want[..n].copy_from_slice(rest);
            assert_eq!(
                crate::text::swar::word(rest),
                u64::from_le_bytes(want),
                "{n} bytes"
            );
        }
        // A stored key holds exactly its own bytes.
        let k = padded(b"user_name_x");
        assert!(holds(&k, b"user_name_x"));
        assert!(!holds(&k, b"user_name_y"));
        assert!(!holds(&k, b"user_name"));
        assert!(
            holds(&k, b"user_nam"),
            "a prefix of whole words: the lengths differ"
        );
    }

    #[test]
    fn parents_are_memoised_apart_from_keys() {
        // More parents than the memo holds, in turns: every entry is evicted.
        let parents = [
            "customer", "product", "order", "contact", "user", "sku", "员工",
        ];
        let mut c = KeyCache::default();
        for i in 0..200 {
            let p = parents[(i * 3) % parents.len()].as_bytes();
            for k in ["name", "mobile"] {
                assert_eq!(
                    c.get(k.as_bytes(), Some(p)),
                    classify(k.as_bytes(), Some(p))
                );
            }
        }
        // A key's slot holds no parent: the same key under two parents is one entry.
        assert!(c.get(b"name", Some(b"customer")).person);
        assert!(!c.get(b"name", Some(b"product")).person);
        assert_eq!(c.cached(b"name").map(|k| k.person), Some(false));
    }

    #[test]
    fn two_word_keys_compare_both_words() {
        // Two keys of 9 to 16 bytes in one set, equal in their first eight bytes: the
        // second word alone tells them apart.
        let (a, b) = (0..100_000)
            .map(|i| {
                (
                    b"key_aaaa_0000000".to_vec(),
                    format!("key_aaaa_{i:07}").into_bytes(),
                )
            })
            .find(|(a, b)| a != b && locate(a) == locate(b))
            .unwrap();
        let mut c = KeyCache::default();
        c.get(&a, None);
        c.get(&b, None);
        assert!(c.cached(&a).is_some() && c.cached(&b).is_some());
        // Parents the same way: the first names a person, the second does not.
        let (p, q) = (&b"customer_profile"[..], &b"customerproducts"[..]);
        assert!(names_person(p) && !names_person(q));
        for _ in 0..2 {
            assert!(c.get(b"name", Some(p)).person);
            assert!(!c.get(b"name", Some(q)).person);
        }
    }

    #[test]
    fn the_two_word_path_hashes_as_locate() {
        // The fast path of keys up to 16 bytes must pick the set `locate` picks (where
        // `cached` and longer keys look), at every length up to 16.
        for n in 0..=16 {
            for seed in 0..64u8 {
                let k: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(31) ^ seed).collect();
                let (w0, w1) = (word_at(&k, 0), word_at(&k, 1));
                assert_eq!(set_of(hash_two(w0, w1)), locate(&k), "{k:?}");
            }
        }
    }

    #[test]
    fn long_keys_and_parents_bypass_the_cache() {
        let mut c = KeyCache::default();
        let long = [b'a'; CACHED_KEY_MAX + 1];
        assert_eq!(c.get(&long, None), classify(&long, None));
        assert_eq!(c.get(b"name", Some(&long)), classify(b"name", Some(&long)));
        let max = [b'a'; CACHED_KEY_MAX];
        assert_eq!(c.get(&max, Some(&max)), classify(&max, Some(&max)));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Keys and parents of any length around the word sizes and the limit (0 to 45
        /// bytes, NUL and non-ASCII bytes among them), asked in any order: every answer
        /// is `classify`'s, and each cacheable key is held once asked.
        #[test]
        fn any_bytes_answer_as_classify(
            pool in proptest::collection::vec(
                proptest::collection::vec(prop::sample::select(b"ab_\0\xe6id".to_vec()), 0..46),
                1..10,
            ),
            seq in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<bool>()), 1..200),
        ) {
            let mut c = KeyCache::default();
            for (k, p, has_parent) in seq {
                let (k, p) = (k.get(&pool), p.get(&pool));
                let p = has_parent.then_some(p.as_slice());
                prop_assert_eq!(c.get(k, p), classify(k, p));
                if !k.is_empty() && k.len() <= CACHED_KEY_MAX {
                    prop_assert_eq!(c.cached(k), Some(classify(k, None)));
                }
            }
        }

        /// Whatever the sequence (few distinct pairs, so hits, misses and evictions all
        /// happen), every answer is `classify`'s.
        #[test]
        fn always_answers_classify(
            seq in proptest::collection::vec(
                (
                    prop::sample::select(vec![
                        "name", "phone", "mobile\0", "id", "user_id", "card_no", "email", "",
                        "a_rather_long_key_name_of_forty_bytes_xx", "手机号",
                        "user_id_card", "address_verified", "address_verifies", "address_verified1",
                    ]),
                    prop::option::of(prop::sample::select(vec![
                        "customer", "product", "", "user", "contact\0", "orders",
                        "customer_profile", "customerproducts", "customer_profiles",
                    ])),
                ),
                1..400,
            )
        ) {
            let mut c = KeyCache::default();
            for (k, p) in seq {
                let p = p.map(str::as_bytes);
                prop_assert_eq!(c.get(k.as_bytes(), p), classify(k.as_bytes(), p));
                // What was just asked is held (for cacheable keys): the cache hits.
                if !k.is_empty() && k.len() <= CACHED_KEY_MAX {
                    prop_assert_eq!(c.cached(k.as_bytes()), Some(classify(k.as_bytes(), None)));
                }
            }
        }
    }
}
