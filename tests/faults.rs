//! Faults beyond a handler's error: a failing commit, a dropped future, secrets in `Debug`, and
//! replacement values that must not link back to a person.

mod support;

use std::time::Duration;

use erasure::sql::{Sql, Update};
use erasure::{
    Backend, DeletionHandler, Dialect, Erasure, ErasureContext, Error, HandlerError, Outcome,
    PseudonymKey, Replacement, Subject, async_trait, ident,
};
use erasure_testkit::{SeedConfig, Shape, TestBackend, TestDb};
use sha2::Digest;
use support::{Shop, backend_tests};

/// Does its writes, then waits long enough for the caller to give up on the erasure.
struct Slow;

#[async_trait]
impl<DB: Backend> DeletionHandler<DB> for Slow {
    fn name(&self) -> &str {
        "slow"
    }

    fn description(&self) -> &str {
        "writes, then sleeps (test)"
    }

    async fn erase(&self, cx: &mut ErasureContext<'_, DB>) -> Result<Outcome, HandlerError> {
        cx.execute(
            Update::new(ident!("orders"), erasure::sql::Condition::always())
                .set(ident!("notes"), "wiped"),
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok(Outcome::new())
    }
}

async fn a_dropped_erasure_changes_nothing_and_the_connection_stays_usable<DB: TestBackend>(
    db: TestDb<DB>,
) {
    let shop = Shop::new(db, SeedConfig::new(20).shape(Shape::typical())).await;
    // One connection only: the one the dropped erasure held must come back healthy.
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(1)
        .connect_with(shop.db.pool.connect_options().as_ref().clone())
        .await
        .expect("pool");
    let c = shop.seed.customer(3);
    let before = shop.dump().await;
    let slow = erasure::standard_chain::<DB>()
        .register(99, Slow)
        .build()
        .expect("chain");
    let erasure = Erasure::new(c.subject());
    let cancelled =
        tokio::time::timeout(Duration::from_millis(300), slow.erase(&pool, &erasure)).await;
    assert!(
        cancelled.is_err(),
        "the erasure was still running when it was dropped"
    );
    // The dropped transaction was rolled back before anyone else saw it.
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let report = chain
        .erase(&pool, &erasure)
        .await
        .expect("the pooled connection is usable");
    assert!(!report.is_noop());
    let after = shop.dump().await;
    assert!(
        support::rows(&after, "orders")
            .iter()
            .all(|o| o["notes"] != erasure::Value::from("wiped"))
    );
    shop.assert_only_owned_changed(&before, &after, &[erasure_testkit::Owner::Customer(c.id)]);
    support::assert_clean(&shop.residue(&c.needles()).await);
}

/// A constraint checked only at commit, which the erasure violates: the commit fails.
async fn deferred_guard<DB: Backend>(pool: &sqlx::Pool<DB>, customer: i64) {
    let ddl = match DB::DIALECT {
        Dialect::Sqlite => {
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED)"
        }
        Dialect::Postgres => {
            "CREATE TABLE invoices (id BIGINT PRIMARY KEY, customer_id BIGINT REFERENCES customers (id) DEFERRABLE INITIALLY DEFERRED)"
        }
        Dialect::MySql => unreachable!("MySQL has no deferred constraints"),
    };
    let mut conn = pool.acquire().await.expect("conn");
    DB::execute(&mut conn, &Sql::new(ddl))
        .await
        .expect("create");
    let mut insert =
        erasure::sql::Insert::new(ident!("invoices"), [ident!("id"), ident!("customer_id")]);
    insert.row([1.into(), customer.into()]);
    DB::execute(&mut conn, &insert.to_sql())
        .await
        .expect("insert");
}

async fn a_failing_commit_leaves_everything_as_it_was<DB: TestBackend>(db: TestDb<DB>) {
    if DB::DIALECT == Dialect::MySql {
        // InnoDB checks every constraint at once; nothing can fail at commit on its own.
        return;
    }
    let shop = Shop::new(db, SeedConfig::new(10).shape(Shape::typical())).await;
    let c = shop.seed.customer(2);
    deferred_guard(&shop.db.pool, c.id).await;
    let before = shop.dump().await;
    let chain = erasure::standard_chain::<DB>().build().expect("chain");
    let err = chain
        .erase(&shop.db.pool, &Erasure::new(c.subject()))
        .await
        .expect_err("commit fails");
    assert!(matches!(err, Error::Commit(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("could not commit the erasure"),
        "{err}"
    );
    assert_eq!(before.diff(&shop.dump().await), None);
    // The pool is still healthy.
    let other = shop.seed.customer(4);
    chain
        .erase(&shop.db.pool, &Erasure::new(other.subject()))
        .await
        .expect("next erasure");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let hex = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let key = PseudonymKey::from_hex(hex).expect("key");
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .pseudonym_key(key.clone())
        .build()
        .expect("chain");
    let requests = erasure::requests::Requests::<sqlx::Sqlite>::new(key.clone());
    for shown in [
        format!("{key:?}"),
        format!("{chain:?}"),
        format!("{requests:?}"),
    ] {
        assert!(
            !shown.contains(hex) && !shown.contains(&hex[..8]),
            "{shown}"
        );
    }
    let token = erasure::requests::Token::from_string("e3b0c44298fc1c149afbf4c8996fb924");
    assert!(!format!("{token:?}").contains("e3b0c442"));
}

async fn replacement_values_do_not_link_back<DB: TestBackend>(db: TestDb<DB>) {
    let shop = Shop::new(db, SeedConfig::new(10).shape(Shape::typical())).await;
    let g = shop.seed.guest(0);
    let email = g.users[0].email.clone();
    let mut mappings = erasure::StandardMappings::default();
    mappings
        .order
        .anonymize
        .insert(ident!("email"), Replacement::KeyedPseudonym);
    mappings
        .order
        .anonymize
        .insert(ident!("notes"), Replacement::Fixed("anonymized".into()));
    // Two erasures of the same email, by two chains (each with its own random key, the default).
    let first = erasure::standard_chain_with::<DB>(&mappings)
        .build()
        .expect("chain");
    let second = erasure::standard_chain_with::<DB>(&mappings)
        .build()
        .expect("chain");
    let subject = Subject::guest(email.clone()).expect("guest");
    let r1 = first
        .erase(&shop.db.pool, &Erasure::new(subject.clone()))
        .await
        .expect("erase");
    assert!(!r1.is_noop());
    let after_first = shop.dump().await;
    let pseudonyms: Vec<String> = support::rows(&after_first, "orders")
        .iter()
        .filter(|o| {
            o["id"]
                .as_i64()
                .and_then(|id| shop.seed.owner("orders", id))
                == Some(erasure_testkit::Owner::Guest(0))
        })
        .filter_map(|o| o["email"].as_str().map(str::to_owned))
        .collect();
    assert!(!pseudonyms.is_empty());
    // No replacement is an unkeyed hash of the original: anyone could recompute that one.
    let unkeyed: Vec<String> = [
        hex::encode(sha2::Sha256::digest(email.as_bytes())),
        hex::encode(sha2::Sha256::digest(email.to_lowercase().as_bytes())),
        hex::encode(sha2::Sha256::digest(email.as_bytes()))[..32].to_owned(),
    ]
    .into();
    for p in &pseudonyms {
        assert!(
            !unkeyed.contains(p),
            "a replacement equals an unkeyed hash of the email"
        );
        assert_ne!(p, &email);
    }
    // The same email ordered again as a guest and erased by the other chain gets a value that
    // does not link to the first.
    let mut conn = shop.db.pool.acquire().await.expect("conn");
    let mut insert = erasure::sql::Insert::new(
        ident!("orders"),
        [
            "id",
            "order_no",
            "email",
            "status",
            "currency",
            "total_cents",
            "ordered_at",
        ]
        .map(|c| erasure::Ident::new(c).expect("ident")),
    );
    insert.row([
        9_999_999.into(),
        "AGAIN-1".into(),
        email.as_str().into(),
        "COMPLETED".into(),
        "EUR".into(),
        100.into(),
        chrono::Utc::now().into(),
    ]);
    DB::execute(&mut conn, &insert.to_sql())
        .await
        .expect("insert");
    drop(conn);
    second
        .erase(&shop.db.pool, &Erasure::new(subject))
        .await
        .expect("erase");
    let again = support::row(&shop.dump().await, "orders", 9_999_999).expect("order");
    let p2 = again["email"].as_str().expect("pseudonym").to_owned();
    assert!(
        !pseudonyms.contains(&p2),
        "two erasures of one email must not be linkable"
    );
    assert_eq!(
        again["notes"],
        erasure::Value::from("anonymized"),
        "the same fixed value for everyone"
    );
}

backend_tests!(
    a_dropped_erasure_changes_nothing_and_the_connection_stays_usable,
    a_failing_commit_leaves_everything_as_it_was,
    replacement_values_do_not_link_back,
);
