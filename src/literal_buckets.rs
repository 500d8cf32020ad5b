//! The order in which the secret scan hands its literals to `aho-corasick`,
//! so that the vectorised search (Teddy) puts alike literals in one bucket.
//!
//! Teddy keys a pattern on its first three bytes. A position of the text is
//! a candidate for a bucket when each of its three bytes has a low four bits
//! and a high four bits that some pattern of the bucket has at that place,
//! and every candidate costs a check. So a bucket of `ghp_` and `ghs_`
//! takes little but those; a bucket of `ghs_` and ` -p` also takes ` ms`,
//! `g-s` and the like, which logs are full of. Teddy picks the buckets
//! itself: patterns whose first three bytes agree in their low four bits
//! (`assw` and `ASSW`) share one; any other pattern goes to the bucket its
//! index picks, 15 minus the index modulo 16 (with 8 buckets, 7 minus the
//! index modulo 8). The order is the only say we have. Matches are the
//! same in any order: it only picks which of two patterns starting at one
//! byte is reported, and only positions are used.

use std::collections::HashMap;

/// The bytes of a pattern that Teddy keys on.
const KEY_LEN: usize = 3;
/// Past this many patterns, `aho-corasick` does not use Teddy.
const TEDDY_MAX: usize = 64;

/// How many buckets Teddy has for this many patterns here: 16 (its "fat"
/// variant) with AVX2 and more than 32 patterns, else 8 (on ARM, such as
/// Apple's, and on x86 without AVX2).
pub fn teddy_buckets_for(patterns: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if patterns > 32 && std::arch::is_x86_feature_detected!("avx2") {
        return 16;
    }
    let _ = patterns;
    8
}

/// `patterns` (with `owner`, in step) in an order that has Teddy put them
/// in buckets that take the least of ordinary log text for candidates.
pub fn order_for_buckets<T>(patterns: Vec<Vec<u8>>, owner: Vec<T>) -> (Vec<Vec<u8>>, Vec<T>) {
    let buckets = teddy_buckets_for(patterns.len());
    order_in_buckets(patterns, owner, buckets)
}

/// [`order_for_buckets`] for a Teddy of `buckets` buckets. Patterns that
/// Teddy buckets together anyway (alike low four bits) go as one group;
/// the groups are clustered into the buckets ([`cluster`]), and each
/// cluster is given the indices of one bucket ([`indices`]). Where that
/// cannot be done, the order given is kept.
pub fn order_in_buckets<T>(
    patterns: Vec<Vec<u8>>,
    owner: Vec<T>,
    buckets: usize,
) -> (Vec<Vec<u8>>, Vec<T>) {
    if patterns.len() > TEDDY_MAX {
        return (patterns, owner);
    }
    // Groups of patterns with the same low four bits, in first-seen order.
    let mut group_of_key: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let at = *group_of_key.entry(low_nibbles(p)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(i);
    }
    let Some(order) = cluster(&patterns, &groups, buckets)
        .and_then(|clusters| indices(&groups, &clusters, patterns.len(), buckets))
    else {
        return (patterns, owner);
    };
    let mut taken: Vec<Option<(Vec<u8>, T)>> = patterns.into_iter().zip(owner).map(Some).collect();
    order
        .into_iter()
        .map(|i| taken[i].take().expect("each pattern once"))
        .unzip()
}

/// How many groups bucket `class` can take: Teddy gives the first pattern
/// of a new group the bucket of its index, and bucket `buckets - 1 - class`
/// has the indices `class`, `class + buckets`, … below `n`.
fn capacity(class: usize, n: usize, buckets: usize) -> usize {
    n / buckets + usize::from(class < n % buckets)
}

/// The groups (of `patterns`) clustered into at most `buckets` clusters
/// that the buckets' capacities can hold: each time, the two clusters whose
/// merge adds the least to the text taken ([`Cluster`]), among those whose
/// sizes can still end in the buckets (none larger than the largest
/// capacity, and no more of that size than buckets have it; capacities
/// differ by one at most).
fn cluster(patterns: &[Vec<u8>], groups: &[Vec<usize>], buckets: usize) -> Option<Vec<Vec<usize>>> {
    let n = patterns.len();
    let mut capacities: Vec<usize> = (0..buckets).map(|c| capacity(c, n, buckets)).collect();
    capacities.sort_unstable_by(|a, b| b.cmp(a));
    let (most, least) = (capacities[0], capacities[buckets - 1]);
    let roomy = capacities.iter().filter(|&&c| c > least).count();
    let mut clusters: Vec<Option<Cluster>> = groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            Some(Cluster::of(
                g,
                members.iter().map(|&i| patterns[i].as_slice()),
            ))
        })
        .collect();
    // What merging a and b (a < b) adds, kept as clusters merge.
    let count = clusters.len();
    let adding = |a: &Cluster, b: &Cluster| a.taken_with(b) - a.taken - b.taken;
    let mut added = vec![vec![0.0; count]; count];
    for a in 0..count {
        for b in a + 1..count {
            added[a][b] = adding(clusters[a].as_ref()?, clusters[b].as_ref()?);
        }
    }
    let size = |c: &Option<Cluster>| c.as_ref().map(|c| c.groups.len());
    for _ in buckets..count {
        let large = clusters
            .iter()
            .filter_map(size)
            .filter(|&s| s > least)
            .count();
        let mut best: Option<(f64, usize, usize)> = None;
        for (a, sa) in clusters
            .iter()
            .enumerate()
            .filter_map(|(a, c)| Some((a, size(c)?)))
        {
            for (b, sb) in clusters
                .iter()
                .enumerate()
                .skip(a + 1)
                .filter_map(|(b, c)| Some((b, size(c)?)))
            {
                let large_after = large - usize::from(sa > least) - usize::from(sb > least)
                    + usize::from(sa + sb > least);
                let fits = sa + sb <= most && large_after <= roomy;
                if fits && best.is_none_or(|(fewest, _, _)| added[a][b] < fewest) {
                    best = Some((added[a][b], a, b));
                }
            }
        }
        let (_, a, b) = best?; // no merge left that fits
        let gone = clusters[b].take()?;
        let merged = clusters[a].as_ref()?.merged(&gone);
        for (other, cluster) in clusters.iter().enumerate() {
            if let Some(c) = cluster.as_ref().filter(|_| other != a) {
                added[a.min(other)][a.max(other)] = adding(&merged, c);
            }
        }
        clusters[a] = Some(merged);
    }
    Some(clusters.into_iter().flatten().map(|c| c.groups).collect())
}

/// The order of the patterns that has Teddy make `clusters` its buckets:
/// the largest clusters get the buckets with the most indices, the first
/// pattern of each group one of its bucket's indices, and the rest of each
/// group the indices left, each after its group's first (which sets the
/// bucket). `None` if some would have to come before.
fn indices(
    groups: &[Vec<usize>],
    clusters: &[Vec<usize>],
    n: usize,
    buckets: usize,
) -> Option<Vec<usize>> {
    let mut clusters: Vec<&Vec<usize>> = clusters.iter().collect();
    clusters.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let mut classes: Vec<usize> = (0..buckets).collect();
    classes.sort_by_key(|&c| std::cmp::Reverse(capacity(c, n, buckets)));
    let mut slots: Vec<Option<usize>> = vec![None; n];
    // Per pattern: the index of its group's first.
    let mut first_at = vec![0; n];
    for (cluster, &class) in clusters.iter().zip(&classes) {
        for (k, &g) in cluster.iter().enumerate() {
            let slot = class + buckets * k;
            slots[slot] = Some(groups[g][0]);
            for &i in &groups[g] {
                first_at[i] = slot;
            }
        }
    }
    let mut rest: Vec<usize> = groups.iter().flat_map(|g| g[1..].iter().copied()).collect();
    rest.sort_by_key(|&i| first_at[i]);
    let mut rest = rest.into_iter();
    slots
        .into_iter()
        .enumerate()
        .map(|(slot, held)| match held {
            Some(first) => Some(first),
            None => rest.next().filter(|&i| first_at[i] < slot),
        })
        .collect()
}

/// The low four bits of the bytes Teddy keys on: patterns that agree in
/// them share a bucket.
fn low_nibbles(pattern: &[u8]) -> Vec<u8> {
    pattern.iter().take(KEY_LEN).map(|b| b & 0x0f).collect()
}

/// Groups of patterns bound for one bucket, with what the bucket would
/// take of ordinary log text for candidates, roughly: for each of the bytes
/// Teddy keys on, the bytes it accepts there (every high four bits of the
/// patterns with every low four bits), weighted by how common each is in
/// logs; multiplied.
struct Cluster {
    groups: Vec<usize>,
    /// Per keyed byte, the low and the high four bits the patterns have there.
    low: [u16; KEY_LEN],
    high: [u16; KEY_LEN],
    taken: f64,
}

impl Cluster {
    fn of<'p>(group: usize, patterns: impl Iterator<Item = &'p [u8]>) -> Cluster {
        let (mut low, mut high) = ([0; KEY_LEN], [0; KEY_LEN]);
        for pattern in patterns {
            for (at, byte) in pattern.iter().take(KEY_LEN).enumerate() {
                low[at] |= 1 << (byte & 0x0f);
                high[at] |= 1 << (byte >> 4);
            }
        }
        Cluster::with(vec![group], low, high)
    }

    fn merged(&self, other: &Cluster) -> Cluster {
        let groups = self.groups.iter().chain(&other.groups).copied().collect();
        let (low, high) = self.bits_with(other);
        Cluster::with(groups, low, high)
    }

    /// What the merge with `other` would take, without making it.
    fn taken_with(&self, other: &Cluster) -> f64 {
        let (low, high) = self.bits_with(other);
        taken(low, high)
    }

    fn bits_with(&self, other: &Cluster) -> ([u16; KEY_LEN], [u16; KEY_LEN]) {
        let either = |a: [u16; KEY_LEN], b: [u16; KEY_LEN]| std::array::from_fn(|at| a[at] | b[at]);
        (either(self.low, other.low), either(self.high, other.high))
    }

    fn with(groups: Vec<usize>, low: [u16; KEY_LEN], high: [u16; KEY_LEN]) -> Cluster {
        Cluster {
            groups,
            low,
            high,
            taken: taken(low, high),
        }
    }
}

fn taken(low: [u16; KEY_LEN], high: [u16; KEY_LEN]) -> f64 {
    let set = |bits: u16| (0..16u8).filter(move |n| bits & (1 << n) != 0);
    // (Triggers have 3 bytes or more and literals 4: no place is empty.)
    (0..KEY_LEN)
        .filter(|&at| low[at] != 0)
        .map(|at| {
            set(high[at])
                .flat_map(|h| set(low[at]).map(move |l| commonness(h << 4 | l)))
                .sum::<f64>()
        })
        .product()
}

/// How common a byte is in log text, roughly (a share of 256 bytes).
fn commonness(byte: u8) -> f64 {
    match byte {
        b'a'..=b'z' | b' ' => 6.0,
        b'0'..=b'9' => 4.0,
        b'A'..=b'Z' | b'.' | b',' | b':' | b'/' | b'-' | b'_' | b'=' | b'"' | b'\n' => 1.5,
        b'!'..=b'~' | b'\t' => 0.5,
        _ => 0.05,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The bucket Teddy gives each pattern, as it does: by the pattern's
    /// low four bits, else by its index.
    pub(crate) fn teddy_buckets(patterns: &[Vec<u8>], buckets: usize) -> Vec<usize> {
        let mut by_nibbles = HashMap::new();
        patterns
            .iter()
            .enumerate()
            .map(|(i, p)| {
                *by_nibbles
                    .entry(low_nibbles(p))
                    .or_insert(buckets - 1 - i % buckets)
            })
            .collect()
    }

    /// Positions of `text` that Teddy would check, per byte of text, with
    /// `patterns` in this order: each bucket that takes a position is one.
    pub(crate) fn candidates_per_byte(patterns: &[Vec<u8>], text: &[u8], buckets: usize) -> f64 {
        let buckets = teddy_buckets(patterns, buckets);
        let mut low = [[0u16; 16]; KEY_LEN];
        let mut high = [[0u16; 16]; KEY_LEN];
        for (p, bucket) in patterns.iter().zip(buckets) {
            for (at, byte) in p.iter().take(KEY_LEN).enumerate() {
                low[at][usize::from(byte & 0x0f)] |= 1 << bucket;
                high[at][usize::from(byte >> 4)] |= 1 << bucket;
            }
        }
        let checks: u32 = text
            .windows(KEY_LEN)
            .map(|w| {
                (0..KEY_LEN)
                    .map(|at| {
                        low[at][usize::from(w[at] & 0x0f)] & high[at][usize::from(w[at] >> 4)]
                    })
                    .fold(u16::MAX, |all, each| all & each)
                    .count_ones()
            })
            .sum();
        f64::from(checks) / text.len() as f64
    }

    fn bytes(patterns: &[&str]) -> Vec<Vec<u8>> {
        patterns.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn alike_patterns_share_a_bucket_each_keeps_its_owner_and_none_is_lost() {
        let given = bytes(&[
            "oken=", "OKEN=", "eyJ", "ECRET", "ecret", "://", "ghp_", "ghs_",
        ]);
        let owner: Vec<usize> = (0..given.len()).collect();
        let (patterns, owner) = order_for_buckets(given.clone(), owner);
        for (p, o) in patterns.iter().zip(&owner) {
            assert_eq!(p, &given[*o], "a pattern lost its owner");
        }
        let mut sorted = patterns.clone();
        sorted.sort();
        let mut expected = given.clone();
        expected.sort();
        assert_eq!(sorted, expected);
        // Fewer patterns than buckets: each group has a bucket of its own.
        let buckets = teddy_buckets(&patterns, teddy_buckets_for(patterns.len()));
        let bucket = |p: &str| buckets[patterns.iter().position(|q| q == p.as_bytes()).unwrap()];
        assert_eq!(bucket("oken="), bucket("OKEN="));
        assert_eq!(bucket("ECRET"), bucket("ecret"));
        let distinct: std::collections::HashSet<usize> =
            ["oken=", "eyJ", "ecret", "://", "ghp_", "ghs_"]
                .iter()
                .map(|p| bucket(p))
                .collect();
        assert_eq!(distinct.len(), 6);
    }

    #[test]
    fn with_more_patterns_than_buckets_alike_ones_are_put_together() {
        // 40 patterns for 16 buckets of 2 or 3, and 24 for 8 of 3: the
        // `gh…` ones and the ` -…` ones each fit one bucket, and are given
        // mixed up among others.
        for (count, others) in [(16, 34u8), (8, 18)] {
            let mut given = bytes(&["ghp_", " -p", "ghs_", " -u", " -x", "ghr_"]);
            given.extend((0..others).map(|i| vec![b'A' + i % 15, b'0' + i / 15, b'q', b'=']));
            let total = given.len();
            let (patterns, _) = order_in_buckets(given, vec![(); total], count);
            let buckets = teddy_buckets(&patterns, count);
            let bucket =
                |p: &str| buckets[patterns.iter().position(|q| q == p.as_bytes()).unwrap()];
            let families: [&[&str]; 2] = [&["ghp_", "ghs_", "ghr_"], &[" -p", " -u", " -x"]];
            for family in families {
                let split = family.iter().any(|p| bucket(p) != bucket(family[0]));
                assert!(!split, "{family:?} split in {count} buckets");
            }
            assert_ne!(bucket("ghp_"), bucket(" -p"));
            // Each bucket has its share: none is left empty, none holds
            // more than its share rounded up.
            for b in 0..count {
                let held = buckets.iter().filter(|&&x| x == b).count();
                let most = total.div_ceil(count);
                assert!((1..=most).contains(&held), "bucket {b} holds {held}");
            }
        }
    }

    #[test]
    fn any_number_of_patterns_comes_back_whole() {
        let alike: Vec<Vec<u8>> = (0..40u8).map(|i| vec![b'a', b'b', b'c', i]).collect();
        let many: Vec<Vec<u8>> = (0..100u32)
            .map(|i| format!("k{i:03}=").into_bytes())
            .collect();
        for given in [vec![], bytes(&["only"]), alike, many] {
            let owner: Vec<usize> = (0..given.len()).collect();
            let (patterns, owner) = order_for_buckets(given.clone(), owner);
            assert_eq!(patterns.len(), given.len());
            let mut seen = vec![false; given.len()];
            for (p, &o) in patterns.iter().zip(&owner) {
                assert_eq!(p, &given[o]);
                assert!(!std::mem::replace(&mut seen[o], true), "{o} twice");
            }
        }
    }
}
