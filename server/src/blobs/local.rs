//! Blobs as files in the data directory: uploads in `uploads/<key>`, result
//! PDFs in `results/<key>.pdf`. Putting a staged upload is a no-op (it was
//! staged in place) or a rename; nothing is copied.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::{BlobKind, BlobResult, BlobStore, ByteStream, LocalBlob};

/// Chunk size of streamed reads.
const CHUNK: usize = 256 * 1024;

/// The data directory implementation of [`BlobStore`].
pub struct LocalBlobs {
    uploads: PathBuf,
    results: PathBuf,
}

impl LocalBlobs {
    /// Blobs under `data_dir` (its `uploads/` and `results/` are created).
    pub fn new(data_dir: &Path) -> Self {
        let (uploads, results) = (data_dir.join("uploads"), data_dir.join("results"));
        let _ = std::fs::create_dir_all(&uploads);
        let _ = std::fs::create_dir_all(&results);
        Self { uploads, results }
    }

    fn path(&self, kind: BlobKind, key: &str) -> PathBuf {
        // Keys are our own uuids; anything else could escape the directory.
        let key: String = key.chars().filter(char::is_ascii_alphanumeric).collect();
        match kind {
            BlobKind::Upload => self.uploads.join(key),
            BlobKind::ResultPdf => self.results.join(format!("{key}.pdf")),
        }
    }
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn put(&self, kind: BlobKind, key: &str, path: &Path) -> BlobResult<()> {
        let target = self.path(kind, key);
        if target != path {
            tokio::fs::rename(path, &target).await?;
        }
        Ok(())
    }

    async fn local(&self, kind: BlobKind, key: &str, _scratch: &Path) -> BlobResult<Option<LocalBlob>> {
        let path = self.path(kind, key);
        Ok(tokio::fs::try_exists(&path).await?.then_some(LocalBlob { path, temporary: false }))
    }

    async fn stream(&self, kind: BlobKind, key: &str) -> BlobResult<Option<ByteStream>> {
        let mut file = match tokio::fs::File::open(self.path(kind, key)).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            loop {
                let mut buf = vec![0; CHUNK];
                match file.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(Ok(buf.into())).await.is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        break;
                    }
                }
            }
        });
        Ok(Some(ByteStream::new(rx)))
    }

    async fn delete(&self, kind: BlobKind, key: &str) -> BlobResult<()> {
        match tokio::fs::remove_file(self.path(kind, key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    async fn list(&self, kind: BlobKind) -> BlobResult<Vec<(String, Duration)>> {
        let dir = match kind {
            BlobKind::Upload => &self.uploads,
            BlobKind::ResultPdf => &self.results,
        };
        let mut out = Vec::new();
        let mut entries = tokio::fs::read_dir(dir).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name().to_string_lossy().into_owned();
            // `<uuid>` / `<uuid>.pdf`; a `.tmp` being written counts as its job's.
            let key = name.split('.').next().unwrap_or_default().to_string();
            // Another node (sharing the directory) may remove a file meanwhile: skip it.
            let Ok(modified) = entry.metadata().await.and_then(|m| m.modified()) else { continue };
            out.push((key, modified.elapsed().unwrap_or_default()));
        }
        Ok(out)
    }
}
