//! Last-wins duplicate resolution in flat memory.
//!
//! Every row is numbered in reading order (rejected rows too, so a row's number is
//! known from its position in the file); an accepted row's identifier is hashed to 128
//! bits (family included) and `(hash, row)` is appended to one of [`PARTITIONS`] spill
//! files chosen by the hash's top bits. Once every file is read, each partition is
//! loaded alone and sorted (the partitions shared out among the cores), and every row
//! but the last of each hash is marked superseded.
//!
//! The superseded rows are kept as roaring bitmaps keep a set ([`Superseded`]): per
//! block of 65,536 rows, a sorted list of 2-byte offsets, or a bitmap once the list
//! would be larger. A reader of rows in order asks for the next superseded row
//! (`Superseded::next_from`) once per superseded row, not once per row.
//!
//! Memory: the superseded rows (two bytes each, one bit per row at most) and one
//! partition at a time per core (1/256 of the rows, 24 bytes each): 10 million rows
//! need about 100 KiB of superseded rows and 1 MiB per partition, where a hash map of
//! all ids would need hundreds of MiB. Two of ten million ids collide with a
//! probability below 1e-24.

use std::fs::File;
use std::hash::BuildHasher;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ess_schemas::Family;

/// Spill files; a power of two (partitions are chosen by the top bits).
const PARTITIONS: usize = 256;
const ENTRY: usize = 24;

/// An identifier's 128-bit hash within its family: two independently seeded hashes,
/// stable within a run, which is all deduplication needs.
pub(crate) fn id_hash(family: Family, source_id: &str) -> [u64; 2] {
    let salt = match family {
        Family::Cooperative => 0x100,
        Family::Association => 0x200,
        Family::Mutual => 0x300,
    };
    [0x6573_735f_6964_0001_u64, 0x6573_735f_6964_0002]
        .map(|seed| foldhash::quality::FixedState::with_seed(seed ^ salt).hash_one(source_id))
}

/// Collects `(id hash, row)` of accepted rows in spill files.
#[derive(Debug)]
pub(crate) struct Dedup {
    dir: PathBuf,
    partitions: Vec<BufWriter<File>>,
}

/// Where the spill files stood, to go back to with [`Dedup::rollback`].
#[derive(Debug)]
pub(crate) struct Mark(Vec<u64>);

/// Rows per block of [`Superseded`].
const BLOCK_ROWS: u64 = 1 << 16;

/// Rows a block of [`Superseded`] lists before it is a bitmap: 4,096 offsets of two
/// bytes are the size of the block's bitmap (8 KiB).
const LIST_MAX: usize = 4096;

/// The superseded rows of one block of [`BLOCK_ROWS`] rows.
#[derive(Debug)]
enum Block {
    /// Their offsets in the block, ascending.
    List(Vec<u16>),
    /// One bit per row of the block.
    Bits(Box<[u64]>),
}

impl Block {
    /// The first superseded offset at or after `offset`.
    fn next_from(&self, offset: u64) -> Option<u64> {
        match self {
            Block::List(list) => {
                let i = list.partition_point(|&o| u64::from(o) < offset);
                list.get(i).map(|&o| u64::from(o))
            }
            Block::Bits(bits) => {
                let mut w = (offset / 64) as usize;
                let mut word = bits[w] & (!0u64 << (offset % 64));
                while word == 0 {
                    w += 1;
                    word = *bits.get(w)?;
                }
                Some(w as u64 * 64 + u64::from(word.trailing_zeros()))
            }
        }
    }
}

/// Rows replaced by a later row with the same identifier, by block of 65,536 rows: a
/// sorted list of the block's superseded rows (two bytes each) while that is smaller
/// than a bitmap, else a bitmap, as roaring bitmaps do. Duplicates are few in a
/// registry (0.5% of the synthetic rows): ~100 KiB for 10M rows where a bitmap of every
/// row would take 1.2 MiB, and never more than that bitmap.
#[derive(Debug, Default)]
pub(crate) struct Superseded {
    /// Indexed by row / [`BLOCK_ROWS`]; blocks past the last superseded row are absent.
    blocks: Vec<Block>,
    count: u64,
}

impl Superseded {
    /// The set of `rows`, given in any order.
    fn from_rows(mut rows: Vec<u64>) -> Self {
        rows.sort_unstable();
        rows.dedup();
        let mut blocks = Vec::new();
        for run in rows.chunk_by(|a, b| a / BLOCK_ROWS == b / BLOCK_ROWS) {
            let b = (run[0] / BLOCK_ROWS) as usize;
            blocks.resize_with(b, || Block::List(Vec::new()));
            let offsets = run.iter().map(|r| (r % BLOCK_ROWS) as u16);
            blocks.push(if run.len() <= LIST_MAX {
                Block::List(offsets.collect())
            } else {
                let mut bits = vec![0u64; (BLOCK_ROWS / 64) as usize].into_boxed_slice();
                for o in offsets {
                    bits[usize::from(o / 64)] |= 1 << (o % 64);
                }
                Block::Bits(bits)
            });
        }
        Superseded {
            blocks,
            count: rows.len() as u64,
        }
    }

    /// The first superseded row at or after `row`, if any: a reader of rows in order
    /// asks once per superseded row instead of once per row.
    pub(crate) fn next_from(&self, row: u64) -> Option<u64> {
        let first = (row / BLOCK_ROWS) as usize;
        let mut offset = row % BLOCK_ROWS;
        for (b, block) in self.blocks.iter().enumerate().skip(first) {
            if let Some(o) = block.next_from(offset) {
                return Some(b as u64 * BLOCK_ROWS + o);
            }
            offset = 0;
        }
        None
    }

    /// Whether `row` was superseded.
    #[cfg(test)]
    pub(crate) fn contains(&self, row: u64) -> bool {
        self.next_from(row) == Some(row)
    }

    /// How many rows were superseded.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// How many of `rows` were superseded.
    pub(crate) fn count_in(&self, rows: std::ops::Range<u64>) -> u64 {
        std::iter::successors(self.next_from(rows.start), |r| self.next_from(r + 1))
            .take_while(|r| *r < rows.end)
            .count() as u64
    }

    /// Superseded rows, ascending.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> impl Iterator<Item = u64> + '_ {
        std::iter::successors(self.next_from(0), |r| self.next_from(r + 1))
    }
}

impl Dedup {
    /// Spill files go to `dir` (created if needed).
    pub(crate) fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let partitions = (0..PARTITIONS)
            .map(|p| {
                File::create(dir.join(format!("ids-{p:03}")))
                    .map(|f| BufWriter::with_capacity(16 * 1024, f))
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Dedup {
            dir: dir.to_owned(),
            partitions,
        })
    }

    /// Where the spill files are.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes accepted row `row`, whose identifier hashes to `id`. Rows are taken in
    /// ascending order: of rows with one identifier, the last taken wins.
    pub(crate) fn accept(&mut self, id: [u64; 2], row: u64) -> std::io::Result<()> {
        let mut entry = [0u8; ENTRY];
        entry[..8].copy_from_slice(&id[0].to_le_bytes());
        entry[8..16].copy_from_slice(&id[1].to_le_bytes());
        entry[16..].copy_from_slice(&row.to_le_bytes());
        let partition = (id[0] >> (64 - PARTITIONS.trailing_zeros())) as usize;
        self.partitions[partition].write_all(&entry)
    }

    /// Where the spill files stand now.
    pub(crate) fn mark(&mut self) -> std::io::Result<Mark> {
        let mut lengths = Vec::with_capacity(PARTITIONS);
        for w in &mut self.partitions {
            w.flush()?;
            lengths.push(w.get_ref().metadata()?.len());
        }
        Ok(Mark(lengths))
    }

    /// Forgets every row taken since `mark`.
    pub(crate) fn rollback(&mut self, mark: Mark) -> std::io::Result<()> {
        for (w, len) in self.partitions.iter_mut().zip(mark.0) {
            w.flush()?;
            let f = w.get_mut();
            f.set_len(len)?;
            f.seek(SeekFrom::Start(len))?;
        }
        Ok(())
    }

    /// Resolves every partition (on every core, one partition per core at a time);
    /// the spill files are removed.
    pub(crate) fn resolve(self) -> std::io::Result<Superseded> {
        let mut paths = Vec::with_capacity(PARTITIONS);
        for (p, writer) in self.partitions.into_iter().enumerate() {
            writer.into_inner().map_err(|e| e.into_error())?;
            paths.push(self.dir.join(format!("ids-{p:03}")));
        }
        let threads = crate::worker_threads();
        let rows: Vec<std::io::Result<Vec<u64>>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let paths = &paths;
                    scope.spawn(move || {
                        let mut superseded = Vec::new();
                        for path in paths.iter().skip(t).step_by(threads) {
                            resolve_partition(path, &mut superseded)?;
                        }
                        Ok(superseded)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a duplicate resolving thread panicked"))
                .collect()
        });
        let mut all = Vec::new();
        for part in rows {
            all.extend(part?);
        }
        Ok(Superseded::from_rows(all))
    }
}

/// Appends to `out` the rows of a spill file that a later row with the same
/// identifier replaces; the file is removed.
fn resolve_partition(path: &Path, out: &mut Vec<u64>) -> std::io::Result<()> {
    let bytes = std::fs::read(path)?;
    let word = |e: &[u8], i: usize| u64::from_le_bytes(e[i..i + 8].try_into().expect("8"));
    let mut entries: Vec<(u64, u64, u64)> = bytes
        .chunks_exact(ENTRY)
        .map(|e| (word(e, 0), word(e, 8), word(e, 16)))
        .collect();
    entries.sort_unstable();
    for pair in entries.windows(2) {
        if (pair[0].0, pair[0].1) == (pair[1].0, pair[1].1) {
            out.push(pair[0].2);
        }
    }
    std::fs::remove_file(path)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    fn naive(rows: &[(Family, String)]) -> Vec<u64> {
        let mut last: HashMap<(Family, &str), u64> = HashMap::new();
        let mut out = Vec::new();
        for (row, (family, id)) in rows.iter().enumerate() {
            if let Some(previous) = last.insert((*family, id.as_str()), row as u64) {
                out.push(previous);
            }
        }
        out.sort_unstable();
        out
    }

    fn spilled(rows: &[(Family, String)]) -> Superseded {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Dedup::new(&dir.path().join("dedup")).unwrap();
        for (row, (family, id)) in rows.iter().enumerate() {
            d.accept(id_hash(*family, id), row as u64).unwrap();
        }
        let s = d.resolve().unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("dedup")).unwrap().count(),
            0,
            "spill files removed"
        );
        s
    }

    #[test]
    fn the_last_row_of_an_id_wins_per_family() {
        let rows: Vec<(Family, String)> = [
            (Family::Cooperative, "1"),
            (Family::Cooperative, "2"),
            (Family::Association, "1"),
            (Family::Cooperative, "1"),
            (Family::Cooperative, "1"),
            (Family::Association, "3"),
        ]
        .map(|(f, s)| (f, s.to_owned()))
        .to_vec();
        let s = spilled(&rows);
        assert_eq!(s.rows().collect::<Vec<_>>(), vec![0, 3]);
        assert_eq!(s.count(), 2);
        assert!(s.contains(3) && !s.contains(4) && !s.contains(2));
    }

    #[test]
    fn a_rollback_forgets_the_rows_taken_since_the_mark() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Dedup::new(&dir.path().join("dedup")).unwrap();
        let id = |s: &str| id_hash(Family::Cooperative, s);
        d.accept(id("1"), 0).unwrap();
        d.accept(id("2"), 1).unwrap();
        let mark = d.mark().unwrap();
        // A speculative read: would supersede both rows and add its own.
        for (row, s) in [(2, "1"), (3, "2"), (4, "1")] {
            d.accept(id(s), row).unwrap();
        }
        d.rollback(mark).unwrap();
        d.accept(id("2"), 2).unwrap();
        d.accept(id("3"), 3).unwrap();
        let s = d.resolve().unwrap();
        assert_eq!(s.rows().collect::<Vec<_>>(), vec![1]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn superseded_rows_answer_as_a_set_does(
            // Sparse rows over several blocks, and dense runs that make bitmaps.
            sparse in proptest::collection::vec(0u64..400_000, 0..2000),
            dense in proptest::collection::vec((0u64..6, 0u64..65_536, 4000usize..9000), 0..3),
            probes in proptest::collection::vec(0u64..450_000, 0..200),
        ) {
            let mut rows = sparse.clone();
            for (block, start, n) in dense {
                rows.extend((0..n as u64).map(|i| block * BLOCK_ROWS + (start + i * 7) % BLOCK_ROWS));
            }
            let set: std::collections::BTreeSet<u64> = rows.iter().copied().collect();
            let s = Superseded::from_rows(rows);
            prop_assert_eq!(s.count(), set.len() as u64);
            prop_assert_eq!(s.rows().collect::<Vec<_>>(), set.iter().copied().collect::<Vec<_>>());
            for p in probes {
                prop_assert_eq!(s.contains(p), set.contains(&p));
                prop_assert_eq!(s.next_from(p), set.range(p..).next().copied());
                let end = p + 70_000;
                prop_assert_eq!(s.count_in(p..end), set.range(p..end).count() as u64);
            }
        }
    }

    #[test]
    fn a_block_is_a_list_up_to_its_bitmap_size_then_a_bitmap() {
        let list = Superseded::from_rows((0..LIST_MAX as u64).map(|i| i * 3).collect());
        assert!(matches!(list.blocks[..], [Block::List(_)]));
        let rows: Vec<u64> = (0..=LIST_MAX as u64).map(|i| BLOCK_ROWS + i * 3).collect();
        let bits = Superseded::from_rows(rows.clone());
        assert!(matches!(bits.blocks[..], [Block::List(ref l), Block::Bits(_)] if l.is_empty()));
        assert_eq!(bits.rows().collect::<Vec<_>>(), rows);
        assert_eq!(bits.next_from(BLOCK_ROWS - 5), Some(BLOCK_ROWS));
        assert_eq!(bits.next_from(BLOCK_ROWS + 3 * LIST_MAX as u64 + 1), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn spilling_agrees_with_a_map(ids in proptest::collection::vec((0u8..3, 0u32..400), 0..3000)) {
            let families = [Family::Cooperative, Family::Association, Family::Mutual];
            let rows: Vec<(Family, String)> = ids
                .iter()
                .map(|(f, id)| (families[*f as usize], format!("ID-{id}")))
                .collect();
            let expected = naive(&rows);
            let s = spilled(&rows);
            prop_assert_eq!(s.count(), expected.len() as u64);
            prop_assert_eq!(s.rows().collect::<Vec<_>>(), expected);
        }
    }
}
