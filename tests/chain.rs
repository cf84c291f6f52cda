//! Building chains: position order, static registration, build-time rejection of bad chains.

mod support;

use std::sync::{Arc, Mutex};

use erasure::{
    Backend, BuildError, Chain, ChainProblem, DeletionHandler, Erasure, ErasureContext,
    HandlerError, Outcome, Subject, async_trait,
};
use erasure_fixture_registered::LoyaltyPoints;
use sqlx::Sqlite;

/// Records the order in which handlers ran.
#[derive(Clone)]
struct Recorder {
    name: String,
    log: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "records that it ran"
    }

    async fn erase(&self, _cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        self.log.lock().expect("log").push(self.name.clone());
        Ok(Outcome::new())
    }
}

fn recorder(name: impl Into<String>, log: &Arc<Mutex<Vec<String>>>) -> Recorder {
    Recorder {
        name: name.into(),
        log: Arc::clone(log),
    }
}

fn permutations(items: &[u32]) -> Vec<Vec<u32>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            out.push(tail);
        }
    }
    out
}

/// Every permutation of registration order of five handlers runs them by position.
#[tokio::test]
async fn handlers_run_in_position_order_whatever_the_registration_order() {
    let _traces = support::checked_traces();
    let pool = erasure::sqlite::open("sqlite::memory:", 1)
        .await
        .expect("pool");
    let orders = permutations(&[100, 5, 30, 70, 10]);
    assert_eq!(orders.len(), 120);
    for order in orders {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut builder = Chain::<Sqlite>::builder();
        for &p in &order {
            builder = builder.register(p, recorder(format!("h{p}"), &log));
        }
        let chain = builder.build().expect("chain");
        assert_eq!(chain.positions(), vec![5, 10, 30, 70, 100]);
        let described: Vec<u32> = chain
            .describe()
            .handlers
            .iter()
            .map(|h| h.position)
            .collect();
        assert_eq!(described, vec![5, 10, 30, 70, 100]);
        let report = chain
            .erase(&pool, &Erasure::new(Subject::customer(1)))
            .await
            .expect("erase");
        assert_eq!(
            *log.lock().expect("log"),
            ["h5", "h10", "h30", "h70", "h100"],
            "{order:?}"
        );
        let reported: Vec<u32> = report.handlers.iter().map(|h| h.position).collect();
        assert_eq!(reported, vec![5, 10, 30, 70, 100]);
    }
}

#[tokio::test]
async fn statically_registered_handlers_from_another_crate_are_collected() {
    let _traces = support::checked_traces();
    // Referencing the crate keeps it (and its registration) linked.
    let _ = LoyaltyPoints;
    let chain = Chain::<Sqlite>::builder()
        .with_registered()
        .build()
        .expect("chain");
    let listed = chain.describe();
    assert!(
        listed
            .handlers
            .iter()
            .any(|h| h.position == 60 && h.name == "loyalty-points"),
        "{listed}"
    );

    // Registered handlers slot between the standard ones.
    let chain = erasure::standard_chain::<Sqlite>()
        .with_registered()
        .build()
        .expect("chain");
    let positions = chain.positions();
    assert_eq!(positions, vec![5, 10, 20, 25, 30, 40, 50, 60, 70, 80, 100]);
}

#[test]
fn duplicate_positions_are_rejected_naming_both_handlers() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let err = Chain::<Sqlite>::builder()
        .register(10, recorder("first", &log))
        .register(20, recorder("other", &log))
        .register(10, recorder("second", &log))
        .build()
        .expect_err("duplicate");
    assert_eq!(
        err.problems(),
        [ChainProblem::DuplicatePosition {
            position: 10,
            first: "first".into(),
            second: "second".into(),
        }]
    );
    assert_eq!(
        err.to_string(),
        "invalid chain: position 10 is taken by both `first` and `second`"
    );

    // A static registration colliding with an explicit one is caught the same way.
    let _ = LoyaltyPoints;
    let err = Chain::<Sqlite>::builder()
        .register(60, recorder("mine", &log))
        .with_registered()
        .build()
        .expect_err("duplicate");
    assert!(
        err.to_string().contains("`mine` and `loyalty-points`"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let err: BuildError = Chain::<Sqlite>::builder()
        .register(10, recorder("a", &log))
        .register(10, recorder("b", &log))
        .replace(30, recorder("c", &log))
        .remove(40)
        .build()
        .expect_err("invalid");
    assert_eq!(err.problems().len(), 3, "{err}");
    assert!(matches!(
        err.problems()[1],
        ChainProblem::NothingToReplace { position: 30, .. }
    ));
    assert_eq!(err.problems()[2], ChainProblem::NothingToRemove(40));
}

#[test]
fn an_empty_chain_is_rejected() {
    let err = Chain::<Sqlite>::builder().build().expect_err("empty");
    assert_eq!(err.problems(), [ChainProblem::Empty]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let err = Chain::<Sqlite>::builder()
        .register(1, recorder("only", &log))
        .remove(1)
        .build()
        .expect_err("empty");
    assert_eq!(err.problems(), [ChainProblem::Empty]);
}

#[tokio::test]
async fn replace_and_remove_change_what_runs() {
    let _traces = support::checked_traces();
    let pool = erasure::sqlite::open("sqlite::memory:", 1)
        .await
        .expect("pool");
    let log = Arc::new(Mutex::new(Vec::new()));
    let chain = Chain::<Sqlite>::builder()
        .register(10, recorder("a", &log))
        .register(20, recorder("b", &log))
        .register(30, recorder("c", &log))
        .replace(20, recorder("b2", &log))
        .remove(30)
        .build()
        .expect("chain");
    chain
        .erase(&pool, &Erasure::new(Subject::customer(1)))
        .await
        .expect("erase");
    assert_eq!(*log.lock().expect("log"), ["a", "b2"]);
    let text = chain.describe().to_string();
    assert!(text.contains("b2") && !text.contains(" c "), "{text}");
}

#[test]
fn handler_names_are_unique_like_positions() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let err = Chain::<Sqlite>::builder()
        .register(10, recorder("same", &log))
        .register(20, recorder("other", &log))
        .register(30, recorder("same", &log))
        .build()
        .expect_err("duplicate name");
    assert_eq!(
        err.problems(),
        [ChainProblem::DuplicateName {
            name: "same".into(),
            first: 10,
            second: 30
        }]
    );
    assert!(
        err.to_string()
            .contains("the name `same` is taken by the handlers at positions 10 and 30"),
        "{err}"
    );
}

#[test]
fn a_handler_is_left_out_by_name_and_an_unknown_name_lists_the_known_ones() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let chain = erasure::standard_chain::<Sqlite>()
        .without("b2b-admin-guard")
        .without("cashback")
        .without("recurring-orders")
        .build()
        .expect("chain");
    assert_eq!(chain.positions(), vec![10, 20, 30, 50, 70, 80, 100]);
    let err = Chain::<Sqlite>::builder()
        .register(10, recorder("baskets", &log))
        .register(20, recorder("alerts", &log))
        .without("b2b")
        .build()
        .expect_err("unknown");
    assert_eq!(
        err.to_string(),
        "invalid chain: no handler is named `b2b`; the handlers are: alerts, baskets"
    );
}
