//! Blobs in PostgreSQL (`blobs` + `blob_chunks`, migrations/postgres), so
//! nodes on different machines share uploads and result PDFs through the
//! database alone. Files go in and come out one chunk (1 MiB) at a time: a
//! 50 MB upload never sits whole in a node's memory.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BlobKind, BlobResult, BlobStore, ByteStream, LocalBlob};

/// Bytes per stored chunk.
const CHUNK: usize = 1 << 20;

/// The PostgreSQL implementation of [`BlobStore`].
pub struct PgBlobs {
    pool: PgPool,
}

impl PgBlobs {
    /// Blobs in the database of `pool` (its migrations applied).
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn chunks(&self, kind: BlobKind, key: &str) -> BlobResult<Option<i32>> {
        Ok(sqlx::query_scalar("SELECT chunks FROM blobs WHERE kind = $1 AND key = $2")
            .bind(kind.word())
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn chunk(pool: &PgPool, kind: BlobKind, key: &str, seq: i32) -> Result<Vec<u8>, sqlx::Error> {
        sqlx::query_scalar("SELECT data FROM blob_chunks WHERE kind = $1 AND key = $2 AND seq = $3")
            .bind(kind.word())
            .bind(key)
            .bind(seq)
            .fetch_one(pool)
            .await
    }
}

#[async_trait]
impl BlobStore for PgBlobs {
    async fn put(&self, kind: BlobKind, key: &str, path: &Path) -> BlobResult<()> {
        let mut file = tokio::fs::File::open(path).await?;
        // One transaction: readers see the whole blob or none of it.
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM blobs WHERE kind = $1 AND key = $2")
            .bind(kind.word())
            .bind(key)
            .execute(&mut *tx)
            .await?;
        let mut seq = 0i32;
        loop {
            let mut buf = Vec::with_capacity(CHUNK);
            while buf.len() < CHUNK {
                let read = (&mut file).take((CHUNK - buf.len()) as u64).read_to_end(&mut buf).await?;
                if read == 0 {
                    break;
                }
            }
            if buf.is_empty() && seq > 0 {
                break;
            }
            let last = buf.len() < CHUNK;
            sqlx::query("INSERT INTO blob_chunks (kind, key, seq, data) VALUES ($1, $2, $3, $4)")
                .bind(kind.word())
                .bind(key)
                .bind(seq)
                .bind(buf)
                .execute(&mut *tx)
                .await?;
            seq += 1;
            if last {
                break;
            }
        }
        sqlx::query("INSERT INTO blobs (kind, key, chunks, created_at) VALUES ($1, $2, $3, now())")
            .bind(kind.word())
            .bind(key)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tokio::fs::remove_file(path).await?;
        Ok(())
    }

    async fn local(&self, kind: BlobKind, key: &str, scratch: &Path) -> BlobResult<Option<LocalBlob>> {
        let Some(chunks) = self.chunks(kind, key).await? else { return Ok(None) };
        let path = scratch.join(format!("{key}.{}.{}", kind.word(), uuid::Uuid::new_v4().simple()));
        // Removed on drop from here on, also when writing fails half-way.
        let local = LocalBlob { path, temporary: true };
        let mut out = tokio::fs::File::create(local.path()).await?;
        for seq in 0..chunks {
            out.write_all(&Self::chunk(&self.pool, kind, key, seq).await?).await?;
        }
        out.flush().await?;
        Ok(Some(local))
    }

    async fn stream(&self, kind: BlobKind, key: &str) -> BlobResult<Option<ByteStream>> {
        let Some(chunks) = self.chunks(kind, key).await? else { return Ok(None) };
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let (pool, key) = (self.pool.clone(), key.to_string());
        tokio::spawn(async move {
            for seq in 0..chunks {
                let chunk = Self::chunk(&pool, kind, &key, seq).await.map(Into::into).map_err(std::io::Error::other);
                let failed = chunk.is_err();
                if tx.send(chunk).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Some(ByteStream::new(rx)))
    }

    async fn delete(&self, kind: BlobKind, key: &str) -> BlobResult<()> {
        sqlx::query("DELETE FROM blobs WHERE kind = $1 AND key = $2")
            .bind(kind.word())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn list(&self, kind: BlobKind) -> BlobResult<Vec<(String, Duration)>> {
        let rows: Vec<(String, f64)> = sqlx::query_as(
            "SELECT key, EXTRACT(EPOCH FROM now() - created_at)::float8 FROM blobs WHERE kind = $1 ORDER BY key",
        )
        .bind(kind.word())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(key, age)| (key, Duration::from_secs_f64(age.max(0.0)))).collect())
    }
}
