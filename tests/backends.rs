//! Says which databases the test suite ran on and which it skipped.
//!
//! Not a libtest harness (`harness = false` in Cargo.toml), so what it prints is shown by
//! `cargo test` instead of being captured. With `ERASURE_REQUIRE_BACKENDS=1` (CI) an unreachable
//! server fails the run here too. It answers `--list` as libtest would, so cargo-nextest runs it
//! as one test named `backends`.

fn main() {
    // Enough of libtest's listing protocol for cargo-nextest: one test, never ignored.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("backends: test");
        }
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    #[allow(unused_mut)] // filled only with the postgres and mysql features
    let mut missing: Vec<&'static str> = Vec::new();
    println!("\nerasure test backends:");
    println!("  sqlite    in memory and in files: always");
    #[cfg(feature = "postgres")]
    runtime.block_on(report::<sqlx::Postgres>(&mut missing));
    #[cfg(not(feature = "postgres"))]
    println!("  postgres  skipped: the `postgres` feature is off (use --all-features)");
    #[cfg(feature = "mysql")]
    runtime.block_on(report::<sqlx::MySql>(&mut missing));
    #[cfg(not(feature = "mysql"))]
    println!("  mysql     skipped: the `mysql` feature is off (use --all-features)");
    let _ = &runtime;
    if !missing.is_empty() && erasure_testkit::db::backends_required() {
        eprintln!(
            "ERASURE_REQUIRE_BACKENDS is set and {} unreachable",
            missing.join(", ")
        );
        std::process::exit(1);
    }
}

#[allow(dead_code)]
async fn report<DB: erasure_testkit::TestBackend>(missing: &mut Vec<&'static str>) {
    match DB::fresh(1).await {
        Ok(db) => println!("  {:<9} {}: reachable, tests ran", DB::LABEL, db.url),
        Err(e) if e.is_unreachable() => {
            println!("  {:<9} skipped: {e}", DB::LABEL);
            missing.push(DB::LABEL);
        }
        Err(e) => {
            println!("  {:<9} FAILED to set up: {e}", DB::LABEL);
            missing.push(DB::LABEL);
        }
    }
}
