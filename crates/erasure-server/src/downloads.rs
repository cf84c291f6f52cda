//! Export documents on disk and their downloads: at most so many, within so long, then the file
//! is removed.
//!
//! The worker writes `<dir>/<id>.json` ([`DirectoryTarget`]); each download is counted in
//! `<dir>/<id>.json.downloads`. The last allowed download removes the document as it starts
//! (the open file is still read to the end), and a sweep removes documents older than the time
//! allowed, downloaded or not.

use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use erasure_requests::DirectoryTarget;
use tokio::sync::Mutex;

/// Why a document cannot be downloaded (the link itself was valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// Not written yet (the request is not completed), or already removed.
    Missing,
    /// Downloaded as often as allowed, or older than allowed: now removed.
    Used,
}

/// The documents of one export directory.
#[derive(Debug)]
pub(crate) struct Downloads {
    target: DirectoryTarget,
    max: u32,
    ttl: Duration,
    /// One download is counted at a time.
    lock: Mutex<()>,
}

impl Downloads {
    pub(crate) fn new(dir: PathBuf, max: u32, ttl: Duration) -> Self {
        Self {
            target: DirectoryTarget::new(dir),
            max: max.max(1),
            ttl,
            lock: Mutex::new(()),
        }
    }

    pub(crate) fn target(&self) -> &DirectoryTarget {
        &self.target
    }

    fn counter(&self, id: &str) -> io::Result<PathBuf> {
        let mut path = self.target.path_of(id)?.into_os_string();
        path.push(".downloads");
        Ok(path.into())
    }

    /// Opens the document of request `id` for one download, counting it; the last allowed one
    /// removes the file from the directory (the returned handle still reads it).
    pub(crate) async fn open(&self, id: &str) -> io::Result<Result<tokio::fs::File, Unavailable>> {
        let _one = self.lock.lock().await;
        let path = self.target.path_of(id)?;
        let counter = self.counter(id)?;
        let file = match tokio::fs::File::open(&path).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // Removed earlier (used up or swept) if a counter is left, else never written.
                let used = tokio::fs::try_exists(&counter).await.unwrap_or(false);
                return Ok(Err(if used {
                    Unavailable::Used
                } else {
                    Unavailable::Missing
                }));
            }
            Err(e) => return Err(e),
        };
        let written = file.metadata().await?.modified()?;
        if SystemTime::now()
            .duration_since(written)
            .unwrap_or_default()
            > self.ttl
        {
            remove(&path).await?;
            tokio::fs::write(&counter, b"expired").await?;
            return Ok(Err(Unavailable::Used));
        }
        let done: u32 = match tokio::fs::read_to_string(&counter).await {
            Ok(text) => text.trim().parse().unwrap_or(self.max),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if done >= self.max {
            remove(&path).await?;
            return Ok(Err(Unavailable::Used));
        }
        tokio::fs::write(&counter, (done + 1).to_string()).await?;
        if done + 1 >= self.max {
            remove(&path).await?;
        }
        Ok(Ok(file))
    }

    /// Removes the documents older than allowed (and counters left by removed documents after
    /// the same time again). Returns how many documents it removed.
    pub(crate) async fn sweep(&self) -> io::Result<u64> {
        let _one = self.lock.lock().await;
        let mut removed = 0;
        let mut entries = tokio::fs::read_dir(self.target.dir()).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let age = entry
                .metadata()
                .await?
                .modified()
                .ok()
                .and_then(|m| SystemTime::now().duration_since(m).ok())
                .unwrap_or_default();
            if name.ends_with(".json") && age > self.ttl {
                remove(&entry.path()).await?;
                removed += 1;
            } else if name.ends_with(".json.downloads") && age > self.ttl * 2 {
                remove(&entry.path()).await?;
            }
        }
        Ok(removed)
    }
}

async fn remove(path: &std::path::Path) -> io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_is_downloadable_as_often_as_allowed_then_gone() {
        let dir = tempfile::tempdir().expect("dir");
        let id = "0f0e0d0c-0000-4000-8000-000000000001";
        let downloads = Downloads::new(dir.path().to_owned(), 2, Duration::from_secs(3600));
        assert_eq!(
            downloads.open(id).await.expect("io").err(),
            Some(Unavailable::Missing)
        );
        let path = downloads.target().path_of(id).expect("path");
        tokio::fs::write(&path, b"{}").await.expect("write");
        assert!(downloads.open(id).await.expect("io").is_ok());
        assert!(path.exists(), "one download of two");
        assert!(downloads.open(id).await.expect("io").is_ok());
        assert!(!path.exists(), "the last one removes it");
        assert_eq!(
            downloads.open(id).await.expect("io").err(),
            Some(Unavailable::Used)
        );
        assert!(
            downloads.open("../etc/passwd").await.is_err(),
            "ids are UUIDs"
        );
    }

    #[tokio::test]
    async fn old_documents_are_swept_and_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let id = "0f0e0d0c-0000-4000-8000-000000000002";
        let downloads = Downloads::new(dir.path().to_owned(), 3, Duration::ZERO);
        let path = downloads.target().path_of(id).expect("path");
        tokio::fs::write(&path, b"{}").await.expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            downloads.open(id).await.expect("io").err(),
            Some(Unavailable::Used)
        );
        assert!(!path.exists());
        tokio::fs::write(&path, b"{}").await.expect("write");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(downloads.sweep().await.expect("sweep"), 1);
        assert!(!path.exists());
    }
}
