//! The privacy guard every backend scenario runs under can see a leak: a trace carrying a seeded
//! personal value is caught.

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
    let hits = support::trace_hits();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|(_, target)| target == "some::crate"));
}
