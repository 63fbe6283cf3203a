//! Behavioural detections over many requests, per actor: `not_found_burst`,
//! `auth_failure_burst`, `enumeration`, `off_hours` (and the blocks they put in
//! force). State lives in shared slot tables (bounded by `max_actors`), distinct counts
//! in a fixed 512-bit sketch per entry, windows are fixed and aligned, and each alert
//! fires once per actor and window.

use crate::config::de::Switch;
use crate::config::{BehaviorRule, DetectionPolicy, OffHoursPolicy};
use crate::host::Host;
use crate::protect::slots::{hash64, Entry, SlotError, SlotTable};

/// Words of the distinct-count sketch.
const SKETCH_WORDS: usize = 8;
/// Bits of the distinct-count sketch.
const SKETCH_BITS: u32 = 64 * SKETCH_WORDS as u32;
/// Above this, the 512-bit sketch saturates; thresholds are capped here.
pub const MAX_DISTINCT: u32 = 2000;

type Sketch = [u64; SKETCH_WORDS];

/// Linear-counting estimate of distinct items from the sketch.
fn estimate(bits: &Sketch) -> u32 {
    let ones: u32 = bits.iter().map(|w| w.count_ones()).sum();
    let zeros = SKETCH_BITS - ones;
    if zeros == 0 {
        return MAX_DISTINCT * 2;
    }
    let m = f64::from(SKETCH_BITS);
    let n = -m * (f64::from(zeros) / m).ln();
    // Rounded estimate; exact for small counts without collisions.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let r = n.round() as u32;
    r
}

fn sketch_add(bits: &mut Sketch, item_hash: u64) {
    // splitmix64 finaliser: spreads FNV's weak low bits.
    let mut z = item_hash.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let bit = z % u64::from(SKETCH_BITS);
    if let Some(w) = bits.get_mut((bit / 64) as usize) {
        *w |= 1 << (bit % 64);
    }
}

/// The words of a burst entry: window start, count, flags, then the sketch.
const W_WINDOW: usize = 0;
const W_COUNT: usize = 1;
const W_FLAGS: usize = 2;
const W_SKETCH: usize = 3;
const BURST_WORDS: usize = W_SKETCH + SKETCH_WORDS;
const FLAG_ALERTED: u64 = 1;

fn sketch_of(e: &Entry<BURST_WORDS>) -> Sketch {
    let mut s = [0u64; SKETCH_WORDS];
    for (d, w) in s.iter_mut().zip(e.w.iter().skip(W_SKETCH)) {
        *d = *w;
    }
    s
}

fn set_sketch(e: &mut Entry<BURST_WORDS>, s: &Sketch) {
    for (d, w) in e.w.iter_mut().skip(W_SKETCH).zip(s.iter()) {
        *d = *w;
    }
}

/// What happened on one response, as behaviour sees it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Hash of the actor (see `actor_hash`).
    pub actor: u64,
    /// Response status.
    pub status: u16,
    /// The answer was meshward's own (never counted as the actor's failure).
    pub own_answer: bool,
    /// Normalised path.
    pub path: &'a str,
    /// Method and template, e.g. `GET /users/{int}`.
    pub api: &'a str,
    /// The value of the templated id segment, for enumeration.
    pub id: Option<&'a [u8]>,
    /// Highest level of sensitive data in the call (request or response).
    pub level: u8,
}

/// An alert that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Alert id.
    pub alert: &'static str,
    /// The count that crossed the threshold (answers, distinct ids, or 1).
    pub count: u64,
    /// Window length, ms.
    pub window_ms: u64,
    /// Alert or block.
    pub action: Switch,
}

/// One event of a burst detection.
#[derive(Debug, Clone, Copy)]
struct BurstEvent {
    /// Entry key (actor, or actor and template).
    key: u64,
    /// Item for the distinct sketch.
    item: Option<u64>,
    /// Events needed in the window.
    count_needed: u32,
    /// Distinct items needed in the window.
    distinct_needed: u32,
}

/// The behavioural detector of one configuration.
#[derive(Debug, Clone)]
pub struct Behavior {
    not_found: Option<(BehaviorRule, SlotTable<BURST_WORDS>)>,
    auth_fail: Option<(BehaviorRule, SlotTable<BURST_WORDS>)>,
    enumeration: Option<(BehaviorRule, SlotTable<BURST_WORDS>)>,
    off_hours: Option<(OffHoursPolicy, SlotTable<1>)>,
    /// Actors under a block: blocked-until ms and the alert index.
    blocks: Option<SlotTable<2>>,
}

/// Alert ids by index (the order of `crate::config::ALERTS`).
fn alert_index(alert: &str) -> u64 {
    crate::config::ALERTS
        .iter()
        .position(|a| *a == alert)
        .map_or(0, |i| i as u64)
}

/// Hash of an actor: trusted account, else principal, else source IP; `None` without
/// any (forwarded addresses are not actors).
pub fn actor_hash(account: Option<&str>, principal: Option<&str>, ip: Option<&str>) -> Option<u64> {
    if let Some(a) = account {
        return Some(hash64(&[b"a", a.as_bytes()]));
    }
    if let Some(p) = principal {
        return Some(hash64(&[b"p", p.as_bytes()]));
    }
    ip.map(|i| hash64(&[b"i", i.as_bytes()]))
}

impl Behavior {
    /// Builds the detector; tables are prefixed with the plugin name.
    pub fn new(plugin: &str, p: &DetectionPolicy) -> Self {
        let t = |name: &str| {
            SlotTable::<BURST_WORDS>::new(format!("{plugin}|mw|bh|{name}"), p.max_actors)
        };
        let cap = |mut r: BehaviorRule| {
            r.distinct = r.distinct.min(MAX_DISTINCT);
            r
        };
        let any_block = [&p.not_found_burst, &p.auth_failure_burst, &p.enumeration]
            .iter()
            .any(|r| r.as_ref().is_some_and(|r| r.action == Switch::Block))
            || p.off_hours
                .as_ref()
                .is_some_and(|o| o.action == Switch::Block);
        Self {
            not_found: p.not_found_burst.clone().map(|r| (cap(r), t("nf"))),
            auth_fail: p.auth_failure_burst.clone().map(|r| (r, t("af"))),
            enumeration: p.enumeration.clone().map(|mut r| {
                r.count = r.count.min(MAX_DISTINCT);
                (r, t("en"))
            }),
            off_hours: p.off_hours.clone().map(|o| {
                (
                    o,
                    SlotTable::new(format!("{plugin}|mw|bh|oh"), p.max_actors),
                )
            }),
            blocks: any_block
                .then(|| SlotTable::new(format!("{plugin}|mw|bh|block"), p.max_actors)),
        }
    }

    /// Whether anything is configured at all.
    pub fn is_active(&self) -> bool {
        self.not_found.is_some()
            || self.auth_fail.is_some()
            || self.enumeration.is_some()
            || self.off_hours.is_some()
    }

    /// The alert whose block is in force for `actor`, if any.
    pub fn blocked(
        &self,
        host: &dyn Host,
        actor: u64,
        now_ms: u64,
    ) -> Result<Option<&'static str>, SlotError> {
        let Some(t) = &self.blocks else {
            return Ok(None);
        };
        Ok(t.get(host, actor)?.filter(|e| e.w[0] > now_ms).map(|e| {
            crate::config::ALERTS
                .get(usize::try_from(e.w[1]).unwrap_or(0))
                .copied()
                .unwrap_or("not_found_burst")
        }))
    }

    fn block(
        &self,
        host: &dyn Host,
        actor: u64,
        alert: &'static str,
        until_ms: u64,
        now_ms: u64,
    ) -> Result<(), SlotError> {
        if let Some(t) = &self.blocks {
            t.update(host, actor, now_ms, |e| {
                let mut e = e.unwrap_or_default();
                if e.w[0] < until_ms {
                    e.w = [until_ms, alert_index(alert)];
                }
                (e, ())
            })?;
        }
        Ok(())
    }

    /// Counts a burst event and reports whether the alert fires now: the count that
    /// crossed and the end of the window.
    fn burst(
        rule: &BehaviorRule,
        table: &SlotTable<BURST_WORDS>,
        host: &dyn Host,
        ev: BurstEvent,
        now_ms: u64,
    ) -> Result<Option<(u64, u64)>, SlotError> {
        let BurstEvent {
            key,
            item,
            count_needed,
            distinct_needed,
        } = ev;
        let window = now_ms - now_ms % rule.per_ms;
        table.update(host, key, now_ms, |e| {
            let mut e = e.filter(|e| e.w[W_WINDOW] == window).unwrap_or_default();
            e.w[W_WINDOW] = window;
            e.w[W_COUNT] += 1;
            let mut sketch = sketch_of(&e);
            if let Some(h) = item {
                sketch_add(&mut sketch, h);
                set_sketch(&mut e, &sketch);
            }
            let distinct = estimate(&sketch);
            let fire = e.w[W_FLAGS] & FLAG_ALERTED == 0
                && e.w[W_COUNT] >= u64::from(count_needed)
                && distinct >= distinct_needed;
            if fire {
                e.w[W_FLAGS] |= FLAG_ALERTED;
            }
            let count = if item.is_some() && distinct_needed > 0 && count_needed <= 1 {
                u64::from(distinct)
            } else {
                e.w[W_COUNT]
            };
            (e, fire.then_some((count, window + rule.per_ms)))
        })
    }

    /// Accounts one response; returns the alerts that fire now (at most once per actor
    /// and window each) and records blocks they put in force.
    pub fn observe(
        &self,
        host: &dyn Host,
        o: &Observation<'_>,
        now_ms: u64,
    ) -> Result<Vec<Fired>, SlotError> {
        let mut fired = Vec::new();
        if !o.own_answer {
            if let Some((r, t)) = &self.not_found {
                if o.status == 404 || o.status == 405 {
                    let item = hash64(&[o.path.as_bytes()]);
                    if let Some((count, until)) = Self::burst(
                        r,
                        t,
                        host,
                        BurstEvent {
                            key: o.actor,
                            item: Some(item),
                            count_needed: r.count,
                            distinct_needed: r.distinct,
                        },
                        now_ms,
                    )? {
                        fired.push(("not_found_burst", r, count, until));
                    }
                }
            }
            if let Some((r, t)) = &self.auth_fail {
                if o.status == 401 || o.status == 403 {
                    if let Some((count, until)) = Self::burst(
                        r,
                        t,
                        host,
                        BurstEvent {
                            key: o.actor,
                            item: None,
                            count_needed: r.count,
                            distinct_needed: 0,
                        },
                        now_ms,
                    )? {
                        fired.push(("auth_failure_burst", r, count, until));
                    }
                }
            }
            if let (Some((r, t)), Some(id)) = (&self.enumeration, o.id) {
                if (200..300).contains(&o.status) {
                    let key = hash64(&[&o.actor.to_le_bytes(), o.api.as_bytes()]);
                    let item = hash64(&[id]);
                    if let Some((count, until)) = Self::burst(
                        r,
                        t,
                        host,
                        BurstEvent {
                            key,
                            item: Some(item),
                            count_needed: 1,
                            distinct_needed: r.count,
                        },
                        now_ms,
                    )? {
                        fired.push(("enumeration", r, count, until));
                    }
                }
            }
        }
        let mut out: Vec<Fired> = fired
            .into_iter()
            .map(|(alert, r, count, until)| (alert, r.action, count, r.per_ms, until))
            .map(|(alert, action, count, window_ms, until)| {
                if action == Switch::Block {
                    let _ = self.block(host, o.actor, alert, until, now_ms);
                }
                Fired {
                    alert,
                    count,
                    window_ms,
                    action,
                }
            })
            .collect();
        if let Some((oh, t)) = &self.off_hours {
            if o.level >= oh.min_level && quiet(oh, now_ms) {
                let due = t.update(host, o.actor, now_ms, |e| {
                    let mut e = e.unwrap_or_default();
                    let due = e.w[0] == 0 || now_ms.saturating_sub(e.w[0]) >= oh.per_ms;
                    if due {
                        e.w[0] = now_ms.max(1);
                    }
                    (e, due)
                })?;
                if due {
                    if oh.action == Switch::Block {
                        self.block(host, o.actor, "off_hours", now_ms + oh.per_ms, now_ms)?;
                    }
                    out.push(Fired {
                        alert: "off_hours",
                        count: 1,
                        window_ms: oh.per_ms,
                        action: oh.action,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Whether `now_ms` falls in the quiet period (`from`..`to`, wrapping midnight).
pub fn quiet(oh: &OffHoursPolicy, now_ms: u64) -> bool {
    let minute_utc = i64::try_from((now_ms / 60_000) % 1440).unwrap_or(0);
    let local = (minute_utc + i64::from(oh.offset_min)).rem_euclid(1440);
    let (from, to) = (i64::from(oh.from_min), i64::from(oh.to_min));
    if from < to {
        local >= from && local < to
    } else {
        local >= from || local < to
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load_value;
    use crate::host::MemHost;
    use serde_json::json;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    fn behavior(b: serde_json::Value) -> Behavior {
        let p = load_value(json!({"detection": {"behavior": b}}))
            .unwrap()
            .policy;
        Behavior::new("p", &p.detection)
    }

    fn obs<'a>(actor: u64, status: u16, path: &'a str, id: Option<&'a [u8]>) -> Observation<'a> {
        Observation {
            actor,
            status,
            own_answer: false,
            path,
            api: "GET /users/{int}",
            id,
            level: 0,
        }
    }

    #[test]
    fn not_found_burst_needs_count_and_distinct_paths_and_fires_once() {
        let b =
            behavior(json!({"not_found_burst": {"count": 5, "distinct_paths": 3, "per": "1m"}}));
        let h = MemHost::default();
        let t0 = 60_000 * 100;
        // Many 404s on one path: count reached, distinct not.
        for i in 0..10 {
            assert!(b
                .observe(&h, &obs(1, 404, "/same", None), t0 + i)
                .unwrap()
                .is_empty());
        }
        let mut fired = Vec::new();
        for (i, p) in ["/a", "/b", "/c", "/d", "/e"].iter().enumerate() {
            fired.extend(b.observe(&h, &obs(2, 404, p, None), t0 + i as u64).unwrap());
        }
        assert_eq!(fired.len(), 1, "{fired:?}");
        assert_eq!(fired[0].alert, "not_found_burst");
        assert_eq!(fired[0].count, 5);
        // Own answers and other statuses do not count.
        let mut o = obs(3, 404, "/x", None);
        o.own_answer = true;
        for i in 0..20 {
            assert!(b.observe(&h, &o, t0 + i).unwrap().is_empty());
        }
        // A new window fires again.
        let t1 = t0 + 60_000;
        let n: usize = ["/a", "/b", "/c", "/d", "/e"]
            .iter()
            .map(|p| b.observe(&h, &obs(2, 404, p, None), t1).unwrap().len())
            .sum();
        assert_eq!(n, 1);
    }

    #[test]
    fn auth_failures_and_block_in_force() {
        let b =
            behavior(json!({"auth_failure_burst": {"count": 3, "per": "5m", "action": "block"}}));
        let h = MemHost::default();
        let t0 = 300_000 * 7;
        assert_eq!(b.blocked(&h, 9, t0).unwrap(), None);
        let fired: Vec<_> = (0..3)
            .flat_map(|i| b.observe(&h, &obs(9, 401, "/login", None), t0 + i).unwrap())
            .collect();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].action, Switch::Block);
        assert_eq!(
            b.blocked(&h, 9, t0 + 10).unwrap(),
            Some("auth_failure_burst")
        );
        assert_eq!(b.blocked(&h, 8, t0 + 10).unwrap(), None);
        assert_eq!(
            b.blocked(&h, 9, t0 + 300_000).unwrap(),
            None,
            "until the window ends"
        );
    }

    #[test]
    fn enumeration_counts_distinct_ids_per_template() {
        let b = behavior(json!({"enumeration": {"distinct_ids": 50, "per": "5m"}}));
        let h = MemHost::default();
        let mut fired = Vec::new();
        // The sketch is approximate: well below the threshold nothing fires.
        for i in 0..44u32 {
            let id = i.to_string();
            fired.extend(
                b.observe(&h, &obs(4, 200, "/users/x", Some(id.as_bytes())), 1000)
                    .unwrap(),
            );
        }
        // Repeats do not count.
        for _ in 0..100 {
            fired.extend(
                b.observe(&h, &obs(4, 200, "/users/x", Some(b"7")), 1000)
                    .unwrap(),
            );
        }
        assert!(fired.is_empty());
        for i in 44..60u32 {
            let id = i.to_string();
            fired.extend(
                b.observe(&h, &obs(4, 200, "/users/x", Some(id.as_bytes())), 1000)
                    .unwrap(),
            );
        }
        assert_eq!(fired.len(), 1, "once per window");
        assert_eq!(fired[0].alert, "enumeration");
        assert!((48..=56).contains(&fired[0].count), "{}", fired[0].count);
        // Another template of the same actor is tracked apart.
        let mut o = obs(4, 200, "/orders/x", Some(b"1"));
        o.api = "GET /orders/{int}";
        assert!(b.observe(&h, &o, 1000).unwrap().is_empty());
    }

    #[test]
    fn sketch_estimates_are_close() {
        for n in [10u64, 50, 200, 600, 1500] {
            let mut s = [0u64; SKETCH_WORDS];
            for i in 0..n {
                sketch_add(&mut s, hash64(&[&i.to_le_bytes()]));
            }
            let e = f64::from(estimate(&s));
            let err = (e - n as f64).abs() / n as f64;
            assert!(err < 0.15, "n={n} estimate={e}");
        }
    }

    #[test]
    fn off_hours_wraps_midnight_and_fires_once_per_period() {
        let b = behavior(json!({"off_hours": {"from": "22:00", "to": "06:00",
            "utc_offset": "+08:00", "min_level": 3, "per": "1h"}}));
        let h = MemHost::default();
        let day = 86_400_000u64 * 20_000;
        // 15:00 UTC = 23:00 at +08:00: quiet.
        let t = day + 15 * 3_600_000;
        let mut o = obs(5, 200, "/users/1", None);
        o.level = 4;
        assert_eq!(b.observe(&h, &o, t).unwrap().len(), 1);
        assert!(
            b.observe(&h, &o, t + 60_000).unwrap().is_empty(),
            "once per hour"
        );
        assert_eq!(b.observe(&h, &o, t + 3_600_000).unwrap().len(), 1);
        // 04:00 UTC = 12:00 local: not quiet.
        assert!(b.observe(&h, &o, day + 4 * 3_600_000).unwrap().is_empty());
        // Low-level data never counts.
        o.level = 2;
        assert!(b.observe(&h, &o, t + 7_200_000).unwrap().is_empty());
    }

    #[test]
    fn state_stays_bounded_with_many_actors() {
        let b = behavior(json!({"not_found_burst": {"count": 2, "distinct_paths": 1},
                                 "max_actors": 1000}));
        let h = MemHost::default();
        for a in 0..100_000u64 {
            b.observe(&h, &obs(a + 1, 404, "/x", None), 1000).unwrap();
        }
        assert!(h.shared_len() <= 250 + 1, "{} keys", h.shared_len());
        assert!(h.shared_bytes() <= 251 * (4 * (2 + BURST_WORDS) * 8 + 32));
    }
}
