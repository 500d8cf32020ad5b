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
//! index modulo 8). The order is the only say we have. Matches are the same in any order: it only picks which of two
//! patterns starting at one byte is reported, and only positions are used.

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
///
/// Patterns that Teddy will bucket together anyway (alike low four bits)
/// go as one. Those groups are clustered, cheapest merge first, into at
/// most 16 (or 8) buckets of the sizes their indices allow, by how much text each
/// bucket would take ([`Cluster`]); then each cluster is given the
/// indices of one bucket, the pattern that sets a group's bucket before
/// the others of its group.
pub fn order_for_buckets<T>(patterns: Vec<Vec<u8>>, owner: Vec<T>) -> (Vec<Vec<u8>>, Vec<T>) {
    let buckets = teddy_buckets_for(patterns.len());
    order_in_buckets(patterns, owner, buckets)
}

/// [`order_for_buckets`] for a Teddy of `buckets` buckets.
pub fn order_in_buckets<T>(
    patterns: Vec<Vec<u8>>,
    owner: Vec<T>,
    buckets: usize,
) -> (Vec<Vec<u8>>, Vec<T>) {
    let n = patterns.len();
    if n > TEDDY_MAX {
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
    // Bucket b gets the first patterns of new groups at indices 15 - b,
    // 31 - b, … (with 16 buckets): its capacity, in groups, is how many of those are
    // below n.
    let capacity = |slot_class: usize| n / buckets + usize::from(slot_class < n % buckets);
    let mut capacities: Vec<usize> = (0..buckets).map(capacity).collect();
    capacities.sort_unstable_by(|a, b| b.cmp(a));
    // Clusters of groups, merged while there are more than buckets: each
    // time the two whose merge adds the least to the text taken, among
    // those whose sizes can still end in the buckets (none larger than the
    // largest capacity, and no more of that size than buckets have it;
    // capacities differ by one at most).
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
    let mut added = vec![vec![0.0; count]; count];
    let adding = |a: &Cluster, b: &Cluster| a.taken_with(b) - a.taken - b.taken;
    for a in 0..count {
        for b in a + 1..count {
            added[a][b] = adding(clusters[a].as_ref().unwrap(), clusters[b].as_ref().unwrap());
        }
    }
    let mut left = count;
    while left > buckets {
        let size = |c: &Option<Cluster>| c.as_ref().map(|c| c.groups.len());
        let large = clusters
            .iter()
            .filter_map(size)
            .filter(|&s| s > least)
            .count();
        let mut best: Option<(f64, usize, usize)> = None;
        for a in 0..count {
            let Some(sa) = size(&clusters[a]) else {
                continue;
            };
            for b in a + 1..count {
                let Some(sb) = size(&clusters[b]) else {
                    continue;
                };
                let large_after = large - usize::from(sa > least) - usize::from(sb > least)
                    + usize::from(sa + sb > least);
                if sa + sb > most || large_after > roomy {
                    continue;
                }
                if best.is_none_or(|(fewest, _, _)| added[a][b] < fewest) {
                    best = Some((added[a][b], a, b));
                }
            }
        }
        let Some((_, a, b)) = best else {
            return (patterns, owner); // no merge left that fits: keep the order given
        };
        let taken = clusters[b].take().expect("a cluster left");
        let merged = clusters[a].as_ref().expect("a cluster left").merged(&taken);
        for (other, cluster) in clusters.iter().enumerate() {
            if let Some(c) = cluster.as_ref().filter(|_| other != a) {
                let (low, high) = (a.min(other), a.max(other));
                added[low][high] = adding(&merged, c);
            }
        }
        clusters[a] = Some(merged);
        left -= 1;
    }
    let mut clusters: Vec<Vec<usize>> = clusters.into_iter().flatten().map(|c| c.groups).collect();

    // The largest clusters to the buckets with the most indices.
    clusters.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let mut slot_classes: Vec<usize> = (0..buckets).collect();
    slot_classes.sort_by_key(|&c| std::cmp::Reverse(capacity(c)));
    let mut slots: Vec<Option<usize>> = vec![None; n];
    let mut placed_at = vec![0; n];
    for (cluster, &class) in clusters.iter().zip(&slot_classes) {
        for (k, &g) in cluster.iter().enumerate() {
            let slot = class + buckets * k;
            slots[slot] = Some(groups[g][0]);
            placed_at[groups[g][0]] = slot;
        }
    }
    // The rest of each group fills the free indices, each after its group's
    // first (which sets the bucket), earliest first.
    let mut rest: Vec<usize> = groups.iter().flat_map(|g| g[1..].iter().copied()).collect();
    let first_of = |i: usize| groups[group_of_key[&low_nibbles(&patterns[i])]][0];
    rest.sort_by_key(|&i| placed_at[first_of(i)]);
    let mut rest = rest.into_iter();
    let mut in_order = true;
    for (slot, held) in slots.iter_mut().enumerate() {
        if held.is_none() {
            let next = rest.next().expect("as many free indices as patterns left");
            in_order &= placed_at[first_of(next)] < slot;
            *held = Some(next);
        }
    }
    if !in_order {
        // A group's other pattern would come before its first and move the
        // group to its own index's bucket: keep the given order rather than
        // a worse one than intended. (The built-in rules' order is tested.)
        return (patterns, owner);
    }
    let mut taken: Vec<Option<(Vec<u8>, T)>> = patterns.into_iter().zip(owner).map(Some).collect();
    slots
        .into_iter()
        .map(|i| {
            taken[i.expect("every index filled")]
                .take()
                .expect("each pattern once")
        })
        .unzip()
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
