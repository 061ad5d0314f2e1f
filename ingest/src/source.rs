//! Registry files given to an ingest: a local path, bytes in memory (the embedded
//! samples), or an object in a store.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ess_schemas::Family;
use object_store::ObjectStore;
use sha2::{Digest, Sha256};

/// Where a registry file's bytes are.
#[derive(Debug, Clone)]
pub enum SourceData {
    /// A local file.
    Path(PathBuf),
    /// Bytes in memory.
    Bytes(Bytes),
    /// An object in a store (downloaded to the staging area before reading).
    Object {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// The object.
        path: object_store::path::Path,
    },
}

/// One registry file and the family it belongs to.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Which registry.
    pub family: Family,
    /// The name recorded as provenance (`source_file`): the file name as given.
    pub name: String,
    /// The content.
    pub data: SourceData,
}

impl SourceFile {
    /// A local file; its name is the path's file name.
    pub fn path(family: Family, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        SourceFile {
            family,
            name,
            data: SourceData::Path(path),
        }
    }

    /// Bytes in memory.
    pub fn bytes(family: Family, name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        SourceFile {
            family,
            name: name.into(),
            data: SourceData::Bytes(bytes.into()),
        }
    }
}

/// Readable and seekable, to hand to any reader.
pub trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// A source's bytes on local disk or in memory.
#[derive(Debug, Clone)]
pub(crate) enum LocalData {
    Path(PathBuf),
    Bytes(Bytes),
}

impl LocalData {
    pub(crate) fn open(&self) -> io::Result<Box<dyn ReadSeek>> {
        Ok(match self {
            LocalData::Path(p) => Box::new(BufReader::with_capacity(256 * 1024, File::open(p)?)),
            LocalData::Bytes(b) => Box::new(Cursor::new(b.clone())),
        })
    }

    pub(crate) fn len(&self) -> io::Result<u64> {
        Ok(match self {
            LocalData::Path(p) => std::fs::metadata(p)?.len(),
            LocalData::Bytes(b) => b.len() as u64,
        })
    }
}

/// Passes bytes through while hashing them.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
        }
    }

    pub(crate) fn hex(self) -> String {
        crate::downloads::hex(&self.hasher.finalize())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}
