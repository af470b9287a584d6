//! The fuzz targets under a plain `cargo test`, on the stable toolchain and without libFuzzer: every seed in
//! `corpus/<target>/`, then deterministic mutations of them (an xorshift PRNG, so a failure reproduces), as a
//! quick regression check. `FUZZ_REPLAY_ITERATIONS` sets how many mutated inputs each target gets.

use std::path::Path;

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    paths.sort(); // a fixed order, so the PRNG's choices are the same on every machine
    let seeds: Vec<_> = paths
        .iter()
        .map(|p| std::fs::read(p).expect("corpus file"))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A few byte-level edits of `input`, like libFuzzer's cheapest mutators.
fn mutate(rng: &mut XorShift, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if at < out.len() => out[at] ^= 1 << rng.below(8),
            1 if at < out.len() => out[at] = rng.next() as u8,
            2 => out.insert(at, rng.next() as u8),
            3 if at < out.len() => {
                out.remove(at);
            }
            _ => out.truncate(at.max(1)),
        }
    }
    out
}

fn replay(target: &str, run: fn(&[u8])) {
    let seeds = seeds(target);
    for seed in &seeds {
        run(seed);
    }
    let iterations: usize = std::env::var("FUZZ_REPLAY_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for i in 0..iterations {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed);
        let outcome = std::panic::catch_unwind(|| run(&input));
        assert!(
            outcome.is_ok(),
            "{target}: mutated input {i} fails: {input:?}"
        );
    }
}

#[test]
fn framing_corpus() {
    replay("framing", flytecodec_fuzz::framing);
}

#[test]
fn wire_corpus() {
    replay("wire", flytecodec_fuzz::wire);
}

#[test]
fn columns_corpus() {
    replay("columns", flytecodec_fuzz::columns);
}
