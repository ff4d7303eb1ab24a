//! Uploads and result PDFs behind one trait, so that nodes can share nothing
//! but the database: [`local::LocalBlobs`] keeps them as files in the data
//! directory (the default), [`postgres::PgBlobs`] in PostgreSQL, in chunks
//! written and read one at a time (a large PDF is never held whole in memory).
//!
//! An upload always arrives as a local file first (the multipart body is
//! streamed to the node's staging directory) and is handed to the store with
//! [`BlobStore::put`]; work that needs the bytes gets a local file back with
//! [`BlobStore::local`].

pub mod local;
pub mod postgres;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use thiserror::Error;

/// What a blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobKind {
    /// An uploaded file, until its job ends.
    Upload,
    /// A job's searchable PDF, until the job expires.
    ResultPdf,
}

impl BlobKind {
    /// The stored word.
    pub fn word(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::ResultPdf => "result_pdf",
        }
    }
}

/// A blob store failure.
#[derive(Debug, Error)]
pub enum BlobError {
    /// A file could not be read or written.
    #[error("blob file: {0}")]
    Io(#[from] std::io::Error),
    /// The database refused.
    #[error("blob database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Shorthand for blob results.
pub type BlobResult<T> = Result<T, BlobError>;

/// A blob's bytes as a stream of chunks (a download body).
pub type ByteStream = tokio_stream::wrappers::ReceiverStream<std::io::Result<Bytes>>;

/// A local file with a blob's bytes; a temporary copy is removed on drop.
#[derive(Debug)]
pub struct LocalBlob {
    path: PathBuf,
    temporary: bool,
}

impl LocalBlob {
    /// Where the bytes are.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for LocalBlob {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Where uploads and result PDFs live.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Keeps the finished local file `path` as blob `key` of `kind`; the file is taken over.
    async fn put(&self, kind: BlobKind, key: &str, path: &Path) -> BlobResult<()>;
    /// A local file with the blob's bytes (the blob itself, or a copy in `scratch`); `None` when absent.
    async fn local(&self, kind: BlobKind, key: &str, scratch: &Path) -> BlobResult<Option<LocalBlob>>;
    /// The blob's bytes, chunk by chunk; `None` when absent.
    async fn stream(&self, kind: BlobKind, key: &str) -> BlobResult<Option<ByteStream>>;
    /// Removes a blob (absent is fine).
    async fn delete(&self, kind: BlobKind, key: &str) -> BlobResult<()>;
    /// Every blob of `kind` with its age (for the orphan sweep).
    async fn list(&self, kind: BlobKind) -> BlobResult<Vec<(String, Duration)>>;
}

/// Which blob store a server uses (`blob_store` setting).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobBackend {
    /// Files in the data directory.
    Local,
    /// The PostgreSQL database (requires a `postgres://` database URL).
    Database,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One story for every blob store: put, read back whole and streamed, list, delete.
    pub(crate) async fn blob_story(blobs: &dyn BlobStore, scratch: &Path) {
        let staged = scratch.join("staged");
        // 2.5 MiB of non-repeating bytes: several chunks.
        let bytes: Vec<u8> = (0..(5 << 19)).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        std::fs::write(&staged, &bytes).unwrap();
        blobs.put(BlobKind::Upload, "u1", &staged).await.unwrap();
        assert!(blobs.local(BlobKind::Upload, "nope", scratch).await.unwrap().is_none());
        assert!(blobs.local(BlobKind::ResultPdf, "u1", scratch).await.unwrap().is_none(), "kinds are separate");
        {
            let local = blobs.local(BlobKind::Upload, "u1", scratch).await.unwrap().unwrap();
            assert_eq!(std::fs::read(local.path()).unwrap(), bytes);
        }
        let mut stream = blobs.stream(BlobKind::Upload, "u1").await.unwrap().unwrap();
        let mut streamed = Vec::new();
        let mut chunks = 0;
        while let Some(chunk) = tokio_stream::StreamExt::next(&mut stream).await {
            streamed.extend_from_slice(&chunk.unwrap());
            chunks += 1;
        }
        assert_eq!(streamed, bytes);
        assert!(chunks > 1, "streamed in chunks, not whole");
        let listed = blobs.list(BlobKind::Upload).await.unwrap();
        assert_eq!(listed.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["u1"]);
        assert!(listed[0].1 < Duration::from_secs(60));
        blobs.delete(BlobKind::Upload, "u1").await.unwrap();
        blobs.delete(BlobKind::Upload, "u1").await.unwrap();
        assert!(blobs.stream(BlobKind::Upload, "u1").await.unwrap().is_none());
        assert!(blobs.list(BlobKind::Upload).await.unwrap().is_empty());
        // Scratch copies are gone once dropped.
        let leftovers: Vec<_> = std::fs::read_dir(scratch).unwrap().filter_map(Result::ok).collect();
        assert!(leftovers.iter().all(|e| e.file_name() != "u1"), "{leftovers:?}");
    }

    #[tokio::test]
    async fn blob_story_on_the_data_directory() {
        let dir = crate::testing::Scratch::new("blobs-local");
        let blobs = local::LocalBlobs::new(&dir.0);
        let scratch = dir.0.join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        blob_story(&blobs, &scratch).await;
    }

    #[tokio::test]
    async fn blob_story_on_postgres() {
        let Some(url) = ocrchat_tests::postgres::fresh_database("blob_story") else { return };
        // The store's migrations create the blob tables.
        let store = crate::store::postgres::PgStore::open(&url).await.unwrap();
        let blobs = postgres::PgBlobs::new(store.pool());
        let dir = crate::testing::Scratch::new("blobs-pg");
        blob_story(&blobs, &dir.0).await;
    }
}
