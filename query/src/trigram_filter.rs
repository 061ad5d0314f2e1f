//! Which blocks of search keys can hold a word: a bloom filter of byte trigrams per
//! block of [`BLOCK`] (128) keys, of 4,096 bits (4 bytes per key), so that a search
//! scans only the blocks that may match.
//!
//! The idea is ClickHouse's `ngrambf_v1` skip index (a bloom filter of n-grams per
//! granule), laid out bit-sliced so that a search reads only the filter bits it asks
//! about: blocks come in groups of 64, and for each group there is one `u64` per filter
//! bit whose bit `j` says whether block `j` of the group holds a trigram hashing there.
//! A search's trigrams pick their words; AND-ing them gives, in one instruction per
//! trigram, the group's blocks that hold every trigram of every word.
//!
//! A key holding a word holds each of its trigrams, so a block the filter rules out
//! holds no match: skipping it never changes an answer, it only saves reading it. A
//! filter bit can be set by another trigram (a false positive), which only costs a scan.
//! Words shorter than three bytes have no trigram and rule nothing out.

use std::ops::Range;

/// Keys per block: small enough that a rare word's blocks are few, large enough that
/// the filter stays a small fraction of the keys it describes.
pub const BLOCK: usize = 128;

/// Bits of each block's filter (a power of two). A block of synthetic keys holds about a
/// thousand distinct trigrams, a fifth of these bits.
const BITS: usize = 4096;

/// Blocks per group: the bits of one `u64`.
const GROUP: usize = 64;

/// Trigrams of a search that are worth checking: beyond this, a block that holds them
/// all almost surely holds the rest.
const MAX_GRAMS: usize = 32;

/// A trigram as a number: its three bytes, big-endian, in the low 24 bits (what the
/// build's rolling value holds after three bytes).
fn trigram(g: &[u8]) -> u32 {
    u32::from_be_bytes([0, g[0], g[1], g[2]])
}

/// The filter bit of a trigram (as [`trigram`] numbers it).
fn bit(gram: u32) -> usize {
    (gram.wrapping_mul(0x9E37_79B1) >> (32 - BITS.trailing_zeros())) as usize
}

/// The trigram filter of one index's keys.
#[derive(Debug, Default)]
pub struct GramFilter {
    blocks: usize,
    /// `BITS` words per group, group after group.
    words: Vec<u64>,
}

/// The filter bits a search checks (empty: none, every block may match).
#[derive(Debug, Clone, Default)]
pub struct Probe(Vec<usize>);

impl Probe {
    /// The trigrams of every word (the words hold no 0 byte).
    pub fn new<'a>(words: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut bits: Vec<usize> = words
            .into_iter()
            .flat_map(|w| w.windows(3))
            .map(|g| bit(trigram(g)))
            .collect();
        bits.sort_unstable();
        bits.dedup();
        bits.truncate(MAX_GRAMS);
        Probe(bits)
    }

    /// Whether this probe rules anything out.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl GramFilter {
    /// The filter of `keys`, where key `r` is `keys[starts[r]..starts[r + 1]]` (each
    /// ending in a 0 byte, which no trigram spans), built on `threads` threads.
    pub fn build(keys: &[u8], starts: &[u64], threads: usize) -> Self {
        let n = starts.len().saturating_sub(1);
        let blocks = n.div_ceil(BLOCK);
        let groups = blocks.div_ceil(GROUP);
        let mut words = vec![0u64; groups * BITS];
        let fill = |first_group: usize, slabs: &mut [u64]| {
            for (g, slab) in slabs.chunks_mut(BITS).enumerate() {
                let group = first_group + g;
                for j in 0..GROUP {
                    let block = group * GROUP + j;
                    if block >= blocks {
                        break;
                    }
                    let ranks = block * BLOCK..((block + 1) * BLOCK).min(n);
                    let bytes = &keys[starts[ranks.start] as usize..starts[ranks.end] as usize];
                    // The last three bytes, and how many of them follow the last 0.
                    let (mut gram, mut run) = (0u32, 0usize);
                    for &b in bytes {
                        if b == 0 {
                            run = 0;
                            continue;
                        }
                        gram = (gram << 8 | u32::from(b)) & 0x00FF_FFFF;
                        run += 1;
                        if run >= 3 {
                            slab[bit(gram)] |= 1 << j;
                        }
                    }
                }
            }
        };
        let threads = threads.clamp(1, groups.max(1));
        if threads == 1 {
            fill(0, &mut words);
        } else {
            let per = groups.div_ceil(threads);
            std::thread::scope(|s| {
                for (t, slabs) in words.chunks_mut(per * BITS).enumerate() {
                    let fill = &fill;
                    s.spawn(move || fill(t * per, slabs));
                }
            });
        }
        GramFilter { blocks, words }
    }

    /// Bytes held.
    pub fn memory_bytes(&self) -> usize {
        8 * self.words.capacity()
    }

    /// The blocks of group `group` that may hold every trigram of `probe`, as bits.
    fn group_mask(&self, group: usize, probe: &Probe) -> u64 {
        let slab = &self.words[group * BITS..(group + 1) * BITS];
        probe.0.iter().fold(!0, |mask, &b| mask & slab[b])
    }

    /// The runs of consecutive ranks, within `range`, of the blocks that may match
    /// `probe`, in order; `f` returns false to stop.
    pub fn for_each_run(
        &self,
        range: Range<usize>,
        probe: &Probe,
        mut f: impl FnMut(Range<usize>) -> bool,
    ) {
        if range.is_empty() {
            return;
        }
        let (first, last) = (range.start / BLOCK, (range.end - 1) / BLOCK);
        debug_assert!(last < self.blocks.max(1));
        for group in first / GROUP..=last / GROUP {
            let mut mask = if probe.is_empty() {
                !0
            } else {
                self.group_mask(group, probe)
            };
            // Only the blocks of `first..=last`.
            let base = group * GROUP;
            if first > base {
                mask &= !0 << (first - base);
            }
            if last < base + GROUP - 1 {
                mask &= !0 >> (GROUP - 1 - (last - base));
            }
            while mask != 0 {
                let j = mask.trailing_zeros() as usize;
                let len = (mask >> j).trailing_ones() as usize;
                mask &= if j + len >= GROUP { 0 } else { !0 << (j + len) };
                let ranks = ((base + j) * BLOCK).max(range.start)
                    ..((base + j + len) * BLOCK).min(range.end);
                if !f(ranks) {
                    return;
                }
            }
        }
    }

    /// Of the blocks, the share whose filter holds `probe`.
    #[cfg(test)]
    fn pass_rate(&self, probe: &Probe) -> f64 {
        if self.blocks == 0 {
            return 0.0;
        }
        let mut passed = 0u64;
        for group in 0..self.blocks.div_ceil(GROUP) {
            passed += u64::from(self.group_mask(group, probe).count_ones());
        }
        passed.min(self.blocks as u64) as f64 / self.blocks as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(texts: &[String]) -> (Vec<u8>, Vec<u64>) {
        let (mut keys, mut starts) = (Vec::new(), vec![0]);
        for t in texts {
            keys.extend_from_slice(t.as_bytes());
            keys.push(0);
            starts.push(keys.len() as u64);
        }
        (keys, starts)
    }

    fn runs(filter: &GramFilter, range: Range<usize>, probe: &Probe) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        filter.for_each_run(range, probe, |r| {
            out.push(r);
            true
        });
        out
    }

    #[test]
    fn every_block_holding_a_word_passes() {
        // Three groups' worth of keys, a rare word in a few of them.
        let n = BLOCK * GROUP * 3 + 77;
        let texts: Vec<String> = (0..n)
            .map(|i| {
                if i % 5_003 == 17 {
                    format!("cooperative zagora {i}")
                } else {
                    format!("association nour {i:07}")
                }
            })
            .collect();
        let (k, s) = keys(&texts);
        for threads in [1, 2, 3] {
            let filter = GramFilter::build(&k, &s, threads);
            for word in [
                "zagora", "gor", "nour 00", "0012345", "1234", "absent", "ur 0",
            ] {
                let probe = Probe::new([word.as_bytes()]);
                let scanned: Vec<usize> =
                    runs(&filter, 0..n, &probe).into_iter().flatten().collect();
                for (i, t) in texts.iter().enumerate() {
                    if t.contains(word) {
                        assert!(scanned.binary_search(&i).is_ok(), "{word} {i} {threads}");
                    }
                }
                if word == "zagora" {
                    // Rare: most blocks are ruled out.
                    assert!(
                        filter.pass_rate(&probe) < 0.2,
                        "{}",
                        filter.pass_rate(&probe)
                    );
                    assert!(scanned.len() < n / 5);
                }
            }
        }
    }

    #[test]
    fn runs_cover_the_range_when_nothing_is_ruled_out() {
        let n = BLOCK * GROUP * 2 + 5;
        let texts: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        let (k, s) = keys(&texts);
        let filter = GramFilter::build(&k, &s, 2);
        for range in [0..n, 3..4, 130..BLOCK * GROUP + 1, n - 1..n, 7..7] {
            let got: Vec<usize> = runs(&filter, range.clone(), &Probe::default())
                .into_iter()
                .flatten()
                .collect();
            assert_eq!(got, range.collect::<Vec<_>>());
        }
        // Stopping early.
        let mut calls = 0;
        filter.for_each_run(0..n, &Probe::default(), |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn no_trigram_spans_two_keys() {
        // "ab" + "c" would make "abc" if the 0 between them were ignored.
        let mut texts = vec!["xab".to_string(), "cyy".to_string()];
        texts.extend((0..BLOCK * 3).map(|_| "qqq".to_string()));
        let (k, s) = keys(&texts);
        let filter = GramFilter::build(&k, &s, 1);
        let held = [b"xab", b"cyy", b"qqq"].map(|g| bit(trigram(g)));
        assert!(
            !held.contains(&bit(trigram(b"abc"))),
            "pick trigrams that do not collide"
        );
        let probe = Probe::new([b"abc".as_slice()]);
        assert_eq!(filter.group_mask(0, &probe) & 1, 0);
        assert_eq!(
            filter.group_mask(0, &Probe::new([b"xab".as_slice()])) & 1,
            1
        );
        assert_eq!(Probe::new([b"ab".as_slice()]).0.len(), 0);
        assert!(GramFilter::build(&[], &[0], 2).memory_bytes() == 0);
    }
}
