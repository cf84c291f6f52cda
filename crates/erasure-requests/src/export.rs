//! Carrying out export requests: where the documents go.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use erasure_core::export::ExportSummary;
use tokio::io::AsyncWrite;

use crate::request::Request;

/// Where a [`Worker`](crate::Worker) writes the documents of export requests, and how they are
/// made available to the requester (a file for a download link, an object store, an encrypted
/// mail).
///
/// The worker calls [`open`](Self::open), streams the document into the writer, then
/// [`publish`](Self::publish) once it is complete, or [`discard`](Self::discard) if the export
/// failed. `publish` runs before the request is marked completed: if that mark is lost (the
/// process dies), the request is exported again, so publishing must tolerate a second document
/// for the same request.
#[async_trait]
pub trait ExportTarget: Send + Sync {
    /// A writer for the document of `request`.
    ///
    /// # Errors
    ///
    /// The destination cannot be opened; the request is marked failed.
    async fn open(&self, request: &Request) -> io::Result<Box<dyn AsyncWrite + Unpin + Send>>;

    /// The document of `request` is complete and was flushed: make it available.
    ///
    /// # Errors
    ///
    /// It cannot be made available; the request is marked failed.
    async fn publish(&self, request: &Request, summary: &ExportSummary) -> io::Result<()>;

    /// The export of `request` failed: remove whatever was written.
    ///
    /// # Errors
    ///
    /// Reported in the request's outcome; the request is marked failed anyway.
    async fn discard(&self, request: &Request) -> io::Result<()>;
}

/// Writes each document to `<dir>/<request id>.json`: first as `<id>.json.part`, readable by the
/// owner only (mode 0600 on Unix), renamed into place when complete. A failed export leaves no
/// file.
#[derive(Debug, Clone)]
pub struct DirectoryTarget {
    dir: PathBuf,
}

impl DirectoryTarget {
    /// Documents go to `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where the document of request `id` is once published.
    ///
    /// # Errors
    ///
    /// `id` is not a request id (a UUID): it becomes a file name.
    pub fn path_of(&self, id: &str) -> io::Result<PathBuf> {
        self.file(id, "json")
    }

    fn file(&self, id: &str, extension: &str) -> io::Result<PathBuf> {
        let valid = !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
        if !valid {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a request id is a UUID",
            ));
        }
        Ok(self.dir.join(format!("{id}.{extension}")))
    }

    fn part(&self, id: &str) -> io::Result<PathBuf> {
        self.file(id, "json.part")
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl ExportTarget for DirectoryTarget {
    async fn open(&self, request: &Request) -> io::Result<Box<dyn AsyncWrite + Unpin + Send>> {
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(self.part(&request.id)?).await?;
        Ok(Box::new(file))
    }

    async fn publish(&self, request: &Request, _: &ExportSummary) -> io::Result<()> {
        let part = self.part(&request.id)?;
        tokio::fs::File::open(&part).await?.sync_all().await?;
        tokio::fs::rename(part, self.path_of(&request.id)?).await
    }

    async fn discard(&self, request: &Request) -> io::Result<()> {
        match tokio::fs::remove_file(self.part(&request.id)?).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}
