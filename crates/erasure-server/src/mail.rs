//! The messages the server asks to be sent: a confirmation link, "your data has been erased",
//! "your copy is ready" with its download link. The server sends no email itself: a [`Mailer`]
//! does (the shop's mail service).

use std::fmt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use erasure_requests::{Notifier, RequestKind, State, Transition};
use serde::Serialize;
use tokio::io::AsyncWriteExt as _;

use crate::auth::{Link, LinkSigner};

/// Why a message is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MessageKind {
    /// A new request: the link confirms it.
    Confirm,
    /// An erasure request was carried out.
    Erased,
    /// An export request was carried out: the link downloads the document.
    ExportReady,
    /// The request was rejected (the note says why).
    Rejected,
}

/// One message to the person who made a request. It holds their email and a link that is a
/// secret: send it, never log it. `Debug` leaves both out.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Message {
    /// Why.
    pub kind: MessageKind,
    /// The address to send it to.
    pub to: String,
    /// The request's id.
    pub request_id: String,
    /// Erasure or export.
    pub request_kind: RequestKind,
    /// The link to put in the message (confirm, status or download).
    pub url: String,
    /// When the link stops working, if it does.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the request is due.
    pub due_at: DateTime<Utc>,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("kind", &self.kind)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// The error a mailer returns.
pub type MailError = Box<dyn std::error::Error + Send + Sync>;

/// Sends the server's messages. A failing mailer does not undo what the message is about (the
/// request was committed); the failure is logged without the message's contents.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Sends `message`.
    async fn send(&self, message: &Message) -> Result<(), MailError>;
}

/// A mailer that sends nothing: links go nowhere. For a server whose storefront reads states
/// through the API only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMailer;

#[async_trait]
impl Mailer for NoMailer {
    async fn send(&self, _: &Message) -> Result<(), MailError> {
        Ok(())
    }
}

/// Runs a program for each message, with the message as one JSON object on its standard input
/// (the fields of [`Message`]); a non-zero exit is a failure. The shop's own script sends the
/// email: `mail_command = ["/usr/local/bin/send-privacy-mail"]`.
#[derive(Debug, Clone)]
pub struct CommandMailer {
    program: PathBuf,
    args: Vec<String>,
}

impl CommandMailer {
    /// Runs `program` with `args`.
    pub fn new(program: impl Into<PathBuf>, args: Vec<String>) -> Self {
        Self {
            program: program.into(),
            args,
        }
    }
}

#[async_trait]
impl Mailer for CommandMailer {
    async fn send(&self, message: &Message) -> Result<(), MailError> {
        let body = serde_json::to_vec(message)?;
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(&body).await?;
            stdin.write_all(b"\n").await?;
        }
        let status = child.wait().await?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the mail command exited with {status}").into())
        }
    }
}

/// Builds the links and hands messages to the mailer.
#[derive(Debug, Clone)]
pub(crate) struct Links {
    pub(crate) base: String,
    pub(crate) signer: LinkSigner,
}

impl Links {
    pub(crate) fn confirm(&self, id: &str, token: &str) -> String {
        format!(
            "{}/v1/requests/confirm?request={id}&token={token}",
            self.base
        )
    }

    pub(crate) fn status(&self, id: &str) -> String {
        format!(
            "{}/v1/requests/{id}?token={}",
            self.base,
            self.signer.sign(Link::Status, id)
        )
    }

    pub(crate) fn download(&self, id: &str) -> String {
        format!(
            "{}/v1/exports/{id}?token={}",
            self.base,
            self.signer.sign(Link::Download, id)
        )
    }
}

/// Sends `message`, logging a failure without its contents.
pub(crate) async fn deliver(mailer: &dyn Mailer, message: &Message) {
    if let Err(e) = mailer.send(message).await {
        // The error is the mailer's: it must not echo the address either.
        tracing::warn!(
            request_id = %message.request_id,
            kind = ?message.kind,
            error = %e,
            "a message could not be sent"
        );
    }
}

/// The request store's notifier: after each committed transition that the requester hears of,
/// a message with its link.
#[derive(Debug, Clone)]
pub(crate) struct ServerNotifier {
    pub(crate) links: Links,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) export_ttl: chrono::TimeDelta,
}

#[async_trait]
impl Notifier for ServerNotifier {
    async fn notify(&self, t: &Transition<'_>) -> Result<(), MailError> {
        let request = t.request;
        let Some(to) = request.contact_email() else {
            return Ok(());
        };
        let (kind, url, expires_at) = match (t.to, request.kind) {
            (State::Completed, RequestKind::Export) => (
                MessageKind::ExportReady,
                self.links.download(&request.id),
                request.closed_at.map(|at| at + self.export_ttl),
            ),
            (State::Completed, _) => (MessageKind::Erased, self.links.status(&request.id), None),
            (State::Rejected, _) => (MessageKind::Rejected, self.links.status(&request.id), None),
            _ => return Ok(()),
        };
        let message = Message {
            kind,
            to: to.to_owned(),
            request_id: request.id.clone(),
            request_kind: request.kind,
            url,
            expires_at,
            due_at: request.due_at,
        };
        deliver(self.mailer.as_ref(), &message).await;
        Ok(())
    }
}
