//! The privacy guard every backend scenario runs under can see a leak: a trace carrying a seeded
//! personal value is caught, also inside a larger token or a Debug-quoted string.

mod support;

use erasure_testkit::{Seed, SeedConfig};

#[test]
fn the_guard_catches_a_personal_value_in_a_trace() {
    support::guard_traces();
    assert!(support::trace_hits().is_empty());
    let c = Seed::new(SeedConfig::new(50)).customer(12);
    tracing::debug!(target: "some::crate", note = "nothing personal", "clean event");
    assert!(support::trace_hits().is_empty());
    tracing::trace!(target: "some::crate", user = %c.users[0].email, "a careless event");
    let span = tracing::info_span!(target: "some::crate", "careless", name = %c.users[0].last_name);
    drop(span);
    assert_eq!(
        support::trace_hits().len(),
        2,
        "{:?}",
        support::trace_hits()
    );
    // Inside a larger token, and in a Debug-quoted string.
    let embedded = format!("xx{}yy", c.users[0].email);
    tracing::trace!(target: "some::crate", key = %embedded, "an embedding event");
    tracing::trace!(target: "some::crate", "in a message: {embedded}");
    let quoted = Some(format!("Dear {},", c.users[0].first_name));
    tracing::trace!(target: "some::crate", greeting = ?quoted, "a Debug field");
    let hits = support::trace_hits();
    assert_eq!(hits.len(), 5, "{hits:?}");
    assert!(hits.iter().all(|(_, target)| target == "some::crate"));
}

#[test]
fn values_are_found_inside_larger_tokens_and_debug_strings() {
    let seed = Seed::new(SeedConfig::new(50));
    let c = seed.customer(7);
    let u = &c.users[0];
    let whose = |text: &str| support::personal_values_in(text);
    // Nothing in innocent text.
    assert!(whose("erasure committed customer=9f86d081884c7d65 rows=12 elapsed=1.2ms").is_empty());
    // A value as a token of its own, glued into a larger one, and Debug-quoted.
    for text in [
        format!("email={}", u.email),
        format!("xx{}yy", u.email),
        format!("xx{}yy", u.last_name),
        format!("{:?}", format!("ring at {}", u.last_name)),
        format!("{:?}", Some((u.first_name.as_str(), 1))),
        format!("{:?}", vec![u.iban.clone()]),
        format!("ip:{}!", u.ip),
        format!("city-{}", c.addresses.first().map_or(&u.email, |a| &a.city)),
    ] {
        let found = whose(&text);
        assert!(!found.is_empty(), "nothing found in {text:?}");
        assert!(
            found
                .iter()
                .all(|w| w.starts_with(&format!("customer {} ", c.id))),
            "{found:?}"
        );
    }
    // Phone numbers: whole (also inside a larger token), without spaces, in digits, national,
    // or the digit group as a number of its own.
    let group = u.phone.rsplit(' ').next().expect("digit group");
    let digits = u.phone.replace([' ', '+'], "");
    for text in [
        format!("xx{}yy", u.phone),
        format!("x{}y", u.phone.replace(' ', "")),
        format!("phone={digits}"),
        format!("phone=0{}", &digits[2..]),
        format!("tel:{group};"),
        group.to_owned(),
        format!("{:?}", u.phone),
    ] {
        assert!(!whose(&text).is_empty(), "nothing found in {text:?}");
    }
    // But nine digits inside a longer number, a decimal or a word are an innocent coincidence
    // (a timestamp, an order id, an elapsed time), not a hit.
    for text in [
        format!("order_id=1{group}7"),
        format!("erasure_t_{group}0_ab12"),
        format!("elapsed_secs=0.{group}"),
        format!("elapsed=1.{group}s"),
        format!("{group}ns"),
    ] {
        assert!(whose(&text).is_empty(), "{text:?}: {:?}", whose(&text));
    }
}
