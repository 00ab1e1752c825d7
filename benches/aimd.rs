//! Cost of the adaptive machinery: one controller tick, and one latency record into a ring's
//! histogram (the per-sampled-completion cost), plus a P99 query at tick time.

#![allow(missing_docs, reason = "criterion generates the bench entry points")]

use std::hint::black_box;

use auraio::aimd::{Controller, TickInput};
use auraio::{DefaultTuning, Histogram};
use criterion::{criterion_group, criterion_main, Criterion};

fn tick(c: &mut Criterion) {
    let mut ctl = Controller::<DefaultTuning>::new(16, 4096);
    let mut x: u64 = 1;
    c.bench_function("aimd_tick", |b| {
        b.iter(|| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let input = TickInput {
                elapsed_ns: 10_000_000,
                completions: 1000 + (x >> 54),
                bytes: 4096 * 1000,
                samples: 125,
                p99_ns: 80_000 + (x >> 48),
                mean_ns: 40_000,
                pending: ctl.decision().limit,
                in_flight_sum: u64::from(ctl.decision().limit) * 40,
                in_flight_samples: 40,
                submits: 100,
                sqes: 1000,
                hold_ns: 0,
            };
            black_box(ctl.tick(black_box(&input)))
        })
    });
}

fn histogram(c: &mut Criterion) {
    let mut h = Histogram::new();
    let mut x: u64 = 1;
    c.bench_function("histogram_record", |b| {
        b.iter(|| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            h.record(black_box(1_000 + (x >> 40)));
        })
    });
    c.bench_function("histogram_p99_and_clear", |b| {
        b.iter(|| {
            for i in 0..125u64 {
                h.record(20_000 + i * 97);
            }
            let p = black_box(h.percentile(99.0));
            h.clear();
            p
        })
    });
}

criterion_group!(benches, tick, histogram);
criterion_main!(benches);
