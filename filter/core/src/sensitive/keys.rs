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
    /// The enclosing object is about a person (`user`, `customer`, `contact`, ...).
    pub person: bool,
}

impl KeyCtx {
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
    let mut c = KeyCtx::default();
    if key.is_empty() {
        return c;
    }
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
    if let Some(p) = parent {
        let pw = Words::split(p);
        c.person = pw.any(PERSON_WORDS)
            || (!p.is_ascii()
                && contains_any(p, &["用户", "客户", "联系人", "会员", "员工", "乘客"]));
    }
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
/// the records of a body and across requests of an API): 512 slots of ~100 bytes,
/// allocated on first use. A slot holds the key and its parent key themselves (a hash
/// only picks the set), so a hit is always the classification of the same pair: a
/// body cannot plant a classification for another pair by colliding hashes. Keys or
/// parents longer than [`CACHED_KEY_MAX`] bytes bypass it.
///
/// Keys are read as little-endian 64-bit words, zero-padded: one copy gives both the
/// hash and the words a slot is compared with (no byte loop, no `memcmp`). Four ways
/// keep three or four hot pairs that share a set from evicting each other on every
/// request (two ways did, for one unlucky set of the bench).
#[derive(Debug, Default)]
pub struct KeyCache {
    slots: Vec<Slot>,
    /// Round-robin victim choice when a set is full.
    clock: usize,
}

/// The longest key (and parent key) the cache holds, in bytes.
pub const CACHED_KEY_MAX: usize = 40;

/// [`CACHED_KEY_MAX`] in 64-bit words.
const WORDS: usize = CACHED_KEY_MAX / 8;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    used: bool,
    len: u8,
    /// 0: no parent; otherwise the parent's length + 1.
    parent_len: u8,
    key: [u64; WORDS],
    parent: [u64; WORDS],
    ctx: KeyCtx,
}

const SLOTS: usize = 512;
const WAYS: usize = 4;

/// `b` (at most [`CACHED_KEY_MAX`] bytes; longer is cut) as little-endian words,
/// zero-padded.
fn words(b: &[u8]) -> [u64; WORDS] {
    let mut buf = [0u8; CACHED_KEY_MAX];
    let n = b.len().min(CACHED_KEY_MAX);
    if let (Some(d), Some(s)) = (buf.get_mut(..n), b.get(..n)) {
        d.copy_from_slice(s);
    }
    let mut out = [0u64; WORDS];
    for (o, c) in out.iter_mut().zip(buf.chunks_exact(8)) {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        *o = u64::from_le_bytes(a);
    }
    out
}

/// Mixes the words into `h` (FxHash's step; the set index takes the top bits, which
/// depend on every input bit).
fn mix(h: u64, w: &[u64; WORDS]) -> u64 {
    let mut h = h;
    for &x in w {
        h = (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    h
}

/// `a == b`, without a branch per word.
fn same(a: &[u64; WORDS], b: &[u64; WORDS]) -> bool {
    let mut d = 0;
    for (x, y) in a.iter().zip(b) {
        d |= x ^ y;
    }
    d == 0
}

/// The first slot of a pair's set (it lives in one of the [`WAYS`] slots from there)
/// and its words. `parent_len` as in [`Slot`].
fn locate(key: &[u8], parent: &[u8], parent_len: u8) -> (usize, [u64; WORDS], [u64; WORDS]) {
    let (kw, pw) = (words(key), words(parent));
    let seed = (key.len() as u64) << 8 | u64::from(parent_len);
    let h = mix(mix(seed, &pw), &kw);
    let set = (h >> (64 - (SLOTS / WAYS).trailing_zeros())) as usize;
    (set * WAYS, kw, pw)
}

impl KeyCache {
    /// [`classify`], memoised.
    pub fn get(&mut self, key: &[u8], parent: Option<&[u8]>) -> KeyCtx {
        let p = parent.unwrap_or_default();
        if key.len() > CACHED_KEY_MAX || p.len() > CACHED_KEY_MAX {
            return classify(key, parent);
        }
        let parent_len = parent.map_or(0, |p| p.len() as u8 + 1);
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); SLOTS];
        }
        let (first, kw, pw) = locate(key, p, parent_len);
        let Some(set) = self.slots.get_mut(first..first + WAYS) else {
            return classify(key, parent);
        };
        for s in set.iter() {
            if s.used
                && usize::from(s.len) == key.len()
                && s.parent_len == parent_len
                && same(&s.key, &kw)
                && same(&s.parent, &pw)
            {
                return s.ctx;
            }
        }
        let ctx = classify(key, parent);
        // An empty way, else round robin.
        let way = match set.iter().position(|s| !s.used) {
            Some(w) => w,
            None => {
                self.clock = self.clock.wrapping_add(1);
                self.clock % WAYS
            }
        };
        if let Some(slot) = set.get_mut(way) {
            *slot = Slot {
                used: true,
                len: key.len() as u8,
                parent_len,
                key: kw,
                parent: pw,
                ctx,
            };
        }
        ctx
    }
}

#[cfg(test)]
mod cache_tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_parent_is_part_of_the_entry() {
        let mut c = KeyCache::default();
        for _ in 0..3 {
            assert!(c.get(b"name", Some(b"customer")).person);
            assert!(!c.get(b"name", Some(b"product")).person);
            assert!(!c.get(b"name", None).person);
            assert!(!c.get(b"name", Some(b"")).person);
        }
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
        // Slots hold zero-padded words: `""` and `"\0"` have the same words and differ
        // in length only (and classify differently under a person parent).
        assert_ne!(
            classify(b"", Some(b"customer")),
            classify(b"\0", Some(b"customer"))
        );
        // A parent under which both land in the same set, so one evicts or shadows the
        // other unless the length is compared.
        let p = (0..10_000)
            .map(|i| format!("customer_{i}"))
            .find(|p| {
                let l = p.len() as u8 + 1;
                locate(b"", p.as_bytes(), l).0 == locate(b"\0", p.as_bytes(), l).0
            })
            .unwrap();
        assert_ne!(
            classify(b"", Some(p.as_bytes())),
            classify(b"\0", Some(p.as_bytes()))
        );
        let mut c = KeyCache::default();
        for k in [&b""[..], b"\0", b"", b"\0", b"\0\0"] {
            assert_eq!(
                c.get(k, Some(p.as_bytes())),
                classify(k, Some(p.as_bytes()))
            );
        }
        let mut c = KeyCache::default();
        for k in [&b""[..], b"\0", b"", b"\0\0", b"\0"] {
            for p in [Some(&b"customer"[..]), Some(b"customer\0"), None, Some(b"")] {
                assert_eq!(c.get(k, p), classify(k, p), "{k:?} under {p:?}");
            }
        }
        assert_eq!(
            words(b"abcdefghij")[..2],
            [
                u64::from_le_bytes(*b"abcdefgh"),
                u64::from_le_bytes(*b"ij\0\0\0\0\0\0")
            ]
        );
        assert_eq!(words(b"abcdefghij")[2..], [0, 0, 0]);
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
        /// Whatever the sequence (few distinct pairs, so hits, misses and evictions all
        /// happen), every answer is `classify`'s.
        #[test]
        fn always_answers_classify(
            seq in proptest::collection::vec(
                (
                    prop::sample::select(vec![
                        "name", "phone", "mobile\0", "id", "user_id", "card_no", "email", "",
                        "a_rather_long_key_name_of_forty_bytes_xx", "手机号",
                    ]),
                    prop::option::of(prop::sample::select(vec![
                        "customer", "product", "", "user", "contact\0", "orders",
                    ])),
                ),
                1..400,
            )
        ) {
            let mut c = KeyCache::default();
            for (k, p) in seq {
                let p = p.map(str::as_bytes);
                prop_assert_eq!(c.get(k.as_bytes(), p), classify(k.as_bytes(), p));
            }
        }
    }
}
