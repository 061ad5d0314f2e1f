//! Last-wins duplicate resolution in flat memory.
//!
//! Every row is numbered in reading order (rejected rows too, so a row's number is
//! known from its position in the file); an accepted row's identifier is hashed to 128
//! bits (family included) and `(hash, row)` is appended to one of [`PARTITIONS`] spill
//! files chosen by the hash's top bits. Once every file is read, each partition is
//! loaded alone, sorted, and every row but the last of each hash is marked superseded.
//!
//! Memory: the superseded marks (one bit per row) and one partition at a time
//! (1/256 of the rows, 24 bytes each): 10 million rows need about 1 MiB of bits and
//! 1 MiB of partition, where a hash map of all ids needed hundreds of MiB. Two of ten
//! million ids collide with a probability below 1e-24.

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

/// Rows replaced by a later row with the same identifier.
#[derive(Debug, Default)]
pub(crate) struct Superseded {
    bits: Vec<u64>,
    count: u64,
}

impl Superseded {
    fn mark(&mut self, row: u64) {
        let (word, bit) = ((row / 64) as usize, row % 64);
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        if self.bits[word] & (1 << bit) == 0 {
            self.bits[word] |= 1 << bit;
            self.count += 1;
        }
    }

    /// Whether `row` was superseded.
    pub(crate) fn contains(&self, row: u64) -> bool {
        self.bits
            .get((row / 64) as usize)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    /// How many rows were superseded.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// How many of `rows` were superseded.
    pub(crate) fn count_in(&self, rows: std::ops::Range<u64>) -> u64 {
        self.rows()
            .skip_while(|r| *r < rows.start)
            .take_while(|r| *r < rows.end)
            .count() as u64
    }

    /// Superseded rows, ascending.
    pub(crate) fn rows(&self) -> impl Iterator<Item = u64> + '_ {
        self.bits.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i as u64 * 64 + b)
        })
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
        let mut superseded = Superseded::default();
        for part in rows {
            for row in part? {
                superseded.mark(row);
            }
        }
        Ok(superseded)
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
