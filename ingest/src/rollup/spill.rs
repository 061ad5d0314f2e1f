//! Where the rollup puts the groups it stops holding in memory once past its budget: one
//! temporary file of runs, read back when the rollup is written (see
//! [`super::RollupBuilder::with_spill`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::RollupSpill;

/// Room for groups (the capacity of the rollup's tables, ~100 bytes a group) held in
/// memory at most while an ingest runs: at most ~13 MiB of tables, where 10M synthetic
/// cooperatives make 330k groups (43 MiB). The rarest groups are written out first;
/// every measure is a sum, so they are summed back in when the rollup is written, one
/// partition (family, region, province) at a time.
pub(crate) const ROLLUP_BUDGET: usize = 1 << 17;

/// Runs appended to one file; each run is found again by its offset and length.
#[derive(Debug)]
pub(crate) struct FileSpill {
    file: File,
    end: u64,
    runs: Vec<(u64, usize)>,
}

impl FileSpill {
    /// A new spill file at `path` (replaced if it exists).
    pub(crate) fn create(path: &Path) -> std::io::Result<Self> {
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(FileSpill {
            file,
            end: 0,
            runs: Vec::new(),
        })
    }
}

impl RollupSpill for FileSpill {
    fn write_run(&mut self, bytes: &[u8]) -> std::io::Result<u64> {
        self.file.seek(SeekFrom::Start(self.end))?;
        self.file.write_all(bytes)?;
        self.runs.push((self.end, bytes.len()));
        self.end += bytes.len() as u64;
        Ok(self.runs.len() as u64 - 1)
    }

    fn read_run(&mut self, run: u64, out: &mut Vec<u8>) -> std::io::Result<()> {
        let &(offset, len) = self
            .runs
            .get(run as usize)
            .ok_or_else(|| std::io::Error::other(format!("no spilled rollup run {run}")))?;
        out.clear();
        out.resize(len, 0);
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.read_exact(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_come_back_as_written_in_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = FileSpill::create(&dir.path().join("spill")).unwrap();
        let runs: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1 + i as usize * 997]).collect();
        let ids: Vec<u64> = runs.iter().map(|r| spill.write_run(r).unwrap()).collect();
        let mut out = vec![42; 3];
        for (id, run) in ids.iter().zip(&runs).rev() {
            spill.read_run(*id, &mut out).unwrap();
            assert_eq!(&out, run);
        }
        // Writing after reading appends.
        let late = spill.write_run(b"late").unwrap();
        spill.read_run(late, &mut out).unwrap();
        assert_eq!(out, b"late");
        spill.read_run(ids[3], &mut out).unwrap();
        assert_eq!(out, runs[3]);
        assert!(spill.read_run(99, &mut out).is_err());
    }
}
