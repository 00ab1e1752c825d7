//! Where random I/O goes: fio's distributions (`random_distribution`) and its coverage of
//! every block once per pass (the random map, or `random_generator=lfsr`).
//!
//! Offsets are positions `0..n` in units of the job's alignment. Uniform random I/O with one
//! block size visits each position once per pass by default, as fio's random map makes it do:
//! the positions are a pseudo-random permutation (a Feistel network over the next power of
//! two, walking past values of `n` and above), a new one each pass. `norandommap` draws with
//! replacement instead; fio turns its map off for the skewed distributions, and so does bffio.
//! Mixed sizes take [`crate::random_map`] instead of a permutation.
//! Zipf and Pareto ranks are scattered over the positions by a hash (fio's default), or
//! placed from a chosen base with the optional second value.

/// A pseudo-random sequence (xorshift64*), one per thread.
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A uniform value in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// fio's `random_distribution` for one direction.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// `random`: uniform.
    Uniform,
    /// `zipf:THETA[:BASE]`.
    Zipf { theta: f64, base: Option<f64> },
    /// `pareto:H[:BASE]`.
    Pareto { h: f64, base: Option<f64> },
    /// `normal:DEV[:BASE]`: the deviation in percent of the range, centred on BASE (0.5).
    Normal { dev_pct: f64, base: f64 },
    /// `zoned:P/R:...`: P percent of the I/O to the next R percent of the range (cumulative
    /// access percentages and range shares).
    Zoned(Vec<(u32, f64)>),
    /// `zoned_abs:P/SIZE:...`: as zoned, the zones in bytes.
    ZonedAbs(Vec<(u32, u64)>),
}

impl Distribution {
    /// Parses one direction's distribution.
    pub fn parse(v: &str, size: impl Fn(&str) -> Result<u64, String>) -> Result<Self, String> {
        let v = v.trim();
        let (name, rest) = v.split_once(':').unwrap_or((v, ""));
        let nums = || -> Result<Vec<f64>, String> {
            rest.split(':')
                .filter(|s| !s.is_empty())
                .map(|s| s.trim().parse::<f64>().map_err(|_| format!("`{s}`")))
                .collect()
        };
        let base = |n: &[f64]| -> Result<Option<f64>, String> {
            match n.get(1) {
                Some(&b) if (0.0..=1.0).contains(&b) => Ok(Some(b)),
                Some(b) => Err(format!("base {b} (0 to 1)")),
                None => Ok(None),
            }
        };
        let zones = |total_of: &dyn Fn(&str) -> Result<f64, String>| {
            let mut out = Vec::new();
            let (mut pct, mut at) = (0u32, 0.0);
            for z in rest.split(':').filter(|s| !s.is_empty()) {
                let (p, r) = z
                    .split_once('/')
                    .ok_or_else(|| format!("`{z}` (P/RANGE)"))?;
                let p: u32 = p
                    .trim()
                    .parse()
                    .ok()
                    .filter(|&p| p <= 100)
                    .ok_or_else(|| format!("`{p}` (a percentage)"))?;
                pct += p;
                at += total_of(r.trim())?;
                out.push((pct, at));
            }
            if out.is_empty() || pct != 100 {
                return Err(format!(
                    "`{v}`: the access percentages add up to {pct}, not 100"
                ));
            }
            Ok(out)
        };
        match name {
            "random" if rest.is_empty() => Ok(Distribution::Uniform),
            "zipf" => {
                let n = nums()?;
                match n.first() {
                    Some(&theta) if theta > 0.0 && theta != 1.0 && n.len() <= 2 => {
                        Ok(Distribution::Zipf {
                            theta,
                            base: base(&n)?,
                        })
                    }
                    _ => Err(format!("`{v}`: zipf needs a theta above 0, not 1")),
                }
            }
            "pareto" => {
                let n = nums()?;
                match n.first() {
                    Some(&h) if h > 0.0 && h < 1.0 && n.len() <= 2 => Ok(Distribution::Pareto {
                        h,
                        base: base(&n)?,
                    }),
                    _ => Err(format!("`{v}`: pareto needs a power between 0 and 1")),
                }
            }
            "normal" | "gauss" => {
                let n = nums()?;
                match n.first() {
                    Some(&d) if (0.0..=100.0).contains(&d) && n.len() <= 2 => {
                        Ok(Distribution::Normal {
                            dev_pct: d,
                            base: base(&n)?.unwrap_or(0.5),
                        })
                    }
                    _ => Err(format!("`{v}`: normal needs a deviation from 0 to 100")),
                }
            }
            "zoned" => {
                let z = zones(&|r: &str| {
                    r.parse::<f64>()
                        .ok()
                        .filter(|x| (0.0..=100.0).contains(x))
                        .map(|x| x / 100.0)
                        .ok_or_else(|| format!("`{r}` (a percentage)"))
                })?;
                if z.last().is_some_and(|l| l.1 > 1.0 + 1e-9) {
                    return Err(format!("`{v}`: the ranges cover more than 100%"));
                }
                Ok(Distribution::Zoned(z))
            }
            "zoned_abs" => {
                let z = zones(&|r: &str| size(r).map(|b| b as f64))?;
                Ok(Distribution::ZonedAbs(
                    z.into_iter().map(|(p, b)| (p, b as u64)).collect(),
                ))
            }
            _ => Err(format!(
                "`{v}` (random, zipf:THETA, pareto:H, normal:DEV, zoned:P/R:..., zoned_abs:P/SIZE:...)"
            )),
        }
    }

    /// Whether the distribution is fio's uniform one.
    pub fn uniform(&self) -> bool {
        *self == Distribution::Uniform
    }
}

/// The positions of one file region for one direction: drawn from the distribution, or a
/// permutation per pass.
pub struct Picker {
    n: u64,
    kind: Kind,
}

enum Kind {
    Draw(Distribution, Zeta),
    Perm(Permutation),
}

/// Gray et al.'s constants for drawing Zipf ranks in O(1) ("Quickly generating
/// billion-record synthetic databases", SIGMOD 1994), as fio draws them.
#[derive(Default)]
struct Zeta {
    zetan: f64,
    eta: f64,
    alpha: f64,
    /// Where rank 1 lands (fio's random base), in positions.
    shift: u64,
}

/// Draws for a position an I/O fits at before it takes the last place it fits.
const REDRAWS: u32 = 16;

/// Terms of the zeta sum computed; beyond it the sum's tail is negligible for the ranks a
/// run draws, and setting up a billion-position device stays fast (fio caps it likewise).
const ZETA_TERMS: u64 = 10_000_000;

impl Picker {
    /// A picker over `n` positions (at least 1). `cover`: uniform draws visit each position
    /// once per pass. `bytes_per_position` scales `zoned_abs`'s zones.
    pub fn new(
        n: u64,
        dist: &Distribution,
        cover: bool,
        bytes_per_position: u64,
        rng: &mut Rng,
    ) -> Self {
        let n = n.max(1);
        if cover && dist.uniform() {
            return Picker {
                n,
                kind: Kind::Perm(Permutation::new(n, rng.next())),
            };
        }
        let mut z = Zeta {
            shift: rng.next() % n,
            ..Zeta::default()
        };
        if let Distribution::Zipf { theta, .. } = dist {
            let terms = n.min(ZETA_TERMS);
            z.zetan = (1..=terms).map(|i| (i as f64).powf(-theta)).sum();
            let zeta2 = 1.0 + 2f64.powf(-theta);
            z.alpha = 1.0 / (1.0 - theta);
            z.eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / z.zetan);
        }
        let dist = match dist {
            Distribution::ZonedAbs(zones) => Distribution::Zoned(
                zones
                    .iter()
                    .map(|&(p, b)| (p, (b as f64 / (n * bytes_per_position) as f64).min(1.0)))
                    .collect(),
            ),
            d => d.clone(),
        };
        Picker {
            n,
            kind: Kind::Draw(dist, z),
        }
    }

    /// The next position, below `limit` (at most `n`: a larger I/O has fewer places). A
    /// position the I/O does not fit at is drawn again (a few times, then the last place it
    /// fits), so large I/Os do not pile up at the region's end.
    pub fn next(&mut self, rng: &mut Rng, limit: u64) -> u64 {
        let limit = limit.clamp(1, self.n);
        for _ in 0..REDRAWS {
            let p = self.draw(rng);
            if p < limit {
                return p;
            }
        }
        self.draw(rng).min(limit - 1)
    }

    fn draw(&mut self, rng: &mut Rng) -> u64 {
        let n = self.n;
        let p = match &mut self.kind {
            Kind::Perm(p) => p.next(rng),
            Kind::Draw(d, z) => match d {
                Distribution::Uniform => rng.next() % n,
                Distribution::Zipf { theta, base } => {
                    let u = rng.unit();
                    let uz = u * z.zetan;
                    let rank = if uz < 1.0 {
                        0
                    } else if uz < 1.0 + 0.5f64.powf(*theta) {
                        1
                    } else {
                        ((n as f64 * (z.eta * u - z.eta + 1.0).powf(z.alpha)) as u64).min(n - 1)
                    };
                    place(rank, *base, z.shift, n)
                }
                Distribution::Pareto { h, base } => {
                    let power = h.ln() / (1.0 - *h).ln();
                    let rank = (((n - 1) as f64) * rng.unit().powf(power)) as u64;
                    place(rank.min(n - 1), *base, z.shift, n)
                }
                Distribution::Normal { dev_pct, base } => {
                    // Box-Muller; values past the range are drawn again (then clamped).
                    let sigma = *dev_pct / 100.0 * n as f64;
                    let centre = *base * n as f64;
                    let mut x = centre;
                    for _ in 0..8 {
                        let (u1, u2) = (rng.unit().max(f64::MIN_POSITIVE), rng.unit());
                        let g = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                        x = centre + g * sigma;
                        if (0.0..n as f64).contains(&x) {
                            break;
                        }
                    }
                    (x.max(0.0) as u64).min(n - 1)
                }
                Distribution::ZonedAbs(_) => unreachable!("Picker::new makes zoned_abs zoned"),
                Distribution::Zoned(zones) => {
                    let pct = (rng.next() % 100) as u32;
                    let i = zones
                        .iter()
                        .position(|z| pct < z.0)
                        .unwrap_or(zones.len() - 1);
                    let from = if i == 0 { 0.0 } else { zones[i - 1].1 };
                    let to = zones[i].1.max(from);
                    let (a, b) = ((from * n as f64) as u64, ((to * n as f64) as u64).max(1));
                    let span = b.saturating_sub(a).max(1);
                    (a + rng.next() % span).min(n - 1)
                }
            },
        };
        p
    }
}

/// Where rank `rank` lands: scattered by a hash from a random shift (fio's default), or
/// from `base` (a share of the range) onwards.
fn place(rank: u64, base: Option<f64>, shift: u64, n: u64) -> u64 {
    match base {
        Some(b) => ((b * n as f64) as u64 + rank) % n,
        None => (mix(rank) % n + shift) % n,
    }
}

/// A 64-bit mixing function (splitmix64's finaliser).
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A pseudo-random permutation of `0..n`, one per pass: a 4-round Feistel network over
/// `2^(2 half) >= n` (a bijection, under four times `n`), whose outputs of `n` and above are
/// walked past (so a position costs under four runs of the network on average).
struct Permutation {
    n: u64,
    half: u32,
    key: u64,
    /// Index of the next position in this pass.
    i: u64,
}

impl Permutation {
    fn new(n: u64, key: u64) -> Self {
        let bits = (64 - (n - 1).leading_zeros()).max(2);
        Permutation {
            n,
            half: bits.div_ceil(2),
            key,
            i: 0,
        }
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for round in 0..4u64 {
            let f = mix(r ^ self
                .key
                .wrapping_add(round.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
                & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half) | r
    }

    fn next(&mut self, rng: &mut Rng) -> u64 {
        if self.i == self.n {
            // A new pass, a new order.
            self.i = 0;
            self.key = rng.next();
        }
        // Cycle walking: the permutation of 0..2^(2 half) restricted to 0..n is a
        // permutation of 0..n, and the walk from any start ends (the cycle returns to it).
        let mut x = self.encrypt(self.i);
        while x >= self.n {
            x = self.encrypt(x);
        }
        self.i += 1;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picker(n: u64, d: &str, cover: bool) -> (Picker, Rng) {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let d = Distribution::parse(d, |s| s.parse().map_err(|_| s.to_string())).unwrap();
        (Picker::new(n, &d, cover, 1, &mut rng), rng)
    }

    #[test]
    fn a_pass_visits_every_position_once() {
        for n in [1, 2, 3, 1000, 4097] {
            let (mut p, mut rng) = picker(n, "random", true);
            for pass in 0..2 {
                let mut seen = vec![false; n as usize];
                for _ in 0..n {
                    let x = p.next(&mut rng, n) as usize;
                    assert!(!seen[x], "n {n} pass {pass}: {x} twice");
                    seen[x] = true;
                }
            }
        }
        // Not the identity: the order is shuffled.
        let (mut p, mut rng) = picker(1000, "random", true);
        let first: Vec<u64> = (0..10).map(|_| p.next(&mut rng, 1000)).collect();
        assert_ne!(first, (0..10).collect::<Vec<_>>());
    }

    /// The share of draws on the hottest `share` of the positions.
    fn hot(d: &str, share: f64) -> f64 {
        let n = 10_000u64;
        let (mut p, mut rng) = picker(n, d, false);
        let mut hits = vec![0u32; n as usize];
        let draws = 200_000;
        for _ in 0..draws {
            hits[p.next(&mut rng, n) as usize] += 1;
        }
        hits.sort_unstable_by(|a, b| b.cmp(a));
        let top = (n as f64 * share) as usize;
        hits[..top].iter().map(|&h| f64::from(h)).sum::<f64>() / f64::from(draws)
    }

    #[test]
    fn skewed_distributions_concentrate_the_io() {
        // Uniform: 20 draws per position on average; the busiest tenth of the positions
        // (Poisson's upper tail) takes about 14% of them.
        let uniform = hot("random", 0.1);
        assert!((0.10..0.17).contains(&uniform), "uniform: {uniform}");
        // Zipf 1.2 and Pareto 0.9 put most I/O on a tenth of the positions; normal with a
        // deviation of 5% puts most on the tenth around the centre.
        for d in ["zipf:1.2", "pareto:0.9", "normal:5"] {
            let h = hot(d, 0.1);
            assert!(h > 0.5, "{d}: {h} of the I/O on the hottest tenth");
        }
        assert!(
            hot("zipf:1.2", 0.1) > hot("zipf:0.8", 0.1),
            "theta sharpens zipf"
        );
    }

    #[test]
    fn zones_take_their_share_and_bases_move_the_hot_spot() {
        let n = 1000u64;
        let (mut p, mut rng) = picker(n, "zoned:60/10:30/20:10/70", false);
        let (mut z1, mut z2) = (0, 0);
        for _ in 0..100_000 {
            match p.next(&mut rng, n) {
                x if x < 100 => z1 += 1,
                x if x < 300 => z2 += 1,
                _ => {}
            }
        }
        assert!(
            (59_000..61_000).contains(&z1) && (29_000..31_000).contains(&z2),
            "{z1} {z2}"
        );
        let (mut p, mut rng) = picker(n, "normal:1:0.25", false);
        let near = (0..10_000)
            .filter(|_| (200..300).contains(&p.next(&mut rng, n)))
            .count();
        assert!(near > 9_000, "{near} of 10000 near a quarter of the range");
        let (mut p, mut rng) = picker(n, "zipf:1.5:0", false);
        let low = (0..10_000).filter(|_| p.next(&mut rng, n) < 50).count();
        assert!(
            low > 7_000,
            "{low}: zipf from base 0 starts at the range's start"
        );
        // zoned_abs: 90% of the I/O on the first 100 positions (bytes per position: 1).
        let (mut p, mut rng) = picker(n, "zoned_abs:90/100:10/900", false);
        let first = (0..10_000).filter(|_| p.next(&mut rng, n) < 100).count();
        assert!((8_800..9_200).contains(&first), "{first}");
    }

    #[test]
    fn bad_distributions_say_why() {
        let size = |s: &str| s.parse::<u64>().map_err(|_| s.to_string());
        for bad in [
            "zipf",
            "zipf:1",
            "zipf:1.2:2",
            "pareto:1.5",
            "normal:200",
            "zoned:50/10:40/20",
            "zoned:60/80:40/80",
            "lognormal:1",
        ] {
            assert!(Distribution::parse(bad, size).is_err(), "{bad}");
        }
    }
}
