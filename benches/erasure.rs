//! Criterion benches: the standard chain against the same writes by hand, a dry run, and the
//! export against the same reads by hand.
//!
//! `cargo bench --bench erasure`. Every measured erasure is real and consumes a seeded
//! subject, so the shop holds enough of them; the full set of scenarios, with shops of a million
//! customers, is the bench report (`cargo run --release --all-features --example bench_report`).

mod support;

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use erasure::Erasure;
use erasure_testkit::Shape;
use support::SqliteShop;

fn chain_vs_hand_written(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let shop = rt.block_on(SqliteShop::new(
        10_000,
        Shape::bare(),
        8_000,
        Shape::typical(),
        false,
    ));
    let chain = erasure::standard_chain::<sqlx::Sqlite>()
        .build()
        .expect("chain");
    let subjects = shop.subjects();
    let next = Cell::new(0usize);
    let take = || {
        let i = next.get();
        next.set(i + 1);
        subjects
            .get(i)
            .cloned()
            .expect("enough seeded subjects for the measurement")
    };
    let mut group = c.benchmark_group("typical subject");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("standard chain", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let batch: Vec<_> = (0..iters).map(|_| take()).collect();
            let (chain, pool) = (chain.clone(), shop.pool.clone());
            async move {
                let t0 = Instant::now();
                for (_, subject) in batch {
                    chain
                        .erase(&pool, &Erasure::new(subject))
                        .await
                        .expect("erase");
                }
                t0.elapsed()
            }
        })
    });
    group.bench_function("hand-written SQL", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let batch: Vec<_> = (0..iters).map(|_| take()).collect();
            let pool = shop.pool.clone();
            async move {
                let t0 = Instant::now();
                for (id, _) in batch {
                    support::hand_written(&pool, id)
                        .await
                        .expect("hand-written");
                }
                t0.elapsed()
            }
        })
    });
    group.bench_function("dry run", |b| {
        // A dry run changes nothing: one subject serves every iteration.
        let (_, subject) = take();
        b.to_async(&rt).iter(|| {
            let (chain, pool, subject) = (chain.clone(), shop.pool.clone(), subject.clone());
            async move {
                chain
                    .dry_run(&pool, &Erasure::new(subject))
                    .await
                    .expect("dry run")
            }
        })
    });
    group.finish();

    // Export: read-only, so one subject serves every iteration.
    let (id, subject) = take();
    let mut group = c.benchmark_group("export");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("chain export", |b| {
        b.to_async(&rt).iter(|| {
            let (chain, pool, subject) = (chain.clone(), shop.pool.clone(), subject.clone());
            async move {
                let mut out = Vec::with_capacity(64 * 1024);
                chain
                    .export(&pool, &subject, &mut out)
                    .await
                    .expect("export");
                out.len()
            }
        })
    });
    group.bench_function("hand-written export", |b| {
        b.to_async(&rt).iter(|| {
            let pool = shop.pool.clone();
            async move {
                let mut out = Vec::with_capacity(64 * 1024);
                support::hand_written_export(&pool, id, &mut out)
                    .await
                    .expect("hand-written export");
                out.len()
            }
        })
    });
    group.finish();
}

criterion_group!(benches, chain_vs_hand_written);
criterion_main!(benches);
