//! Outgoing mail over SMTP (password-reset links). One transport per process, built from
//! `[mail]`; every delivery runs under the one retry helper with a deadline per attempt, so a
//! mail server that hangs or refuses for a while neither blocks a request nor loses the mail
//! silently.

use crate::server::settings::{MailSettings, Secrets};
use crate::providers::retry::{Backoff, Outcome};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.smtp_url is not usable: {0}")]
    Url(String),
    #[error("mail.from is not a mailbox like \"ChatSphere <no-reply@example.com>\": {0}")]
    From(String),
    #[error("the recipient {0:?} is not a mailbox")]
    To(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("the mail server did not accept the message: {message}")]
    Refused { message: String, permanent: bool },
    #[error("the mail server did not answer within {0:?}")]
    Deadline(Duration),
}

impl MailError {
    /// Sending the same message again cannot help (a 5xx reply, a bad address or message).
    pub fn is_permanent(&self) -> bool {
        match self {
            MailError::Refused { permanent, .. } => *permanent,
            MailError::Deadline(_) => false,
            MailError::Url(_) | MailError::From(_) | MailError::To(_) | MailError::Build(_) => true,
        }
    }
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    backoff: Backoff,
}

impl Mailer {
    /// None while `smtp_url` is empty; an error when it is set but unusable (the operator
    /// hears it at start-up, not when a user asks for a link).
    pub fn from_settings(settings: &MailSettings, secrets: &Secrets) -> Result<Option<Self>, MailError> {
        let url = settings.smtp_url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        let deadline = Duration::from_secs(settings.timeout_secs.max(1));
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|e| MailError::Url(e.to_string()))?.timeout(Some(deadline));
        if let Some((user, password)) = &secrets.smtp_login {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = settings.from.parse::<Mailbox>().map_err(|e| MailError::From(e.to_string()))?;
        // A few tries over about half a minute: long enough for a mail server's restart,
        // short enough that the person waiting for the link can simply ask again.
        let backoff = Backoff::new(3, 2000, 15_000).with_deadline(deadline + Duration::from_secs(5));
        Ok(Some(Self { transport: builder.build(), from, backoff }))
    }

    /// Sends a plain-text message. Transient failures (4xx replies, a connection that fails
    /// or hangs) are retried; a permanent refusal (5xx, a bad address) is not.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let to = to.parse::<Mailbox>().map_err(|_| MailError::To(to.to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| MailError::Build(e.to_string()))?;
        let message = &message;
        self.backoff
            .run("SMTP", |attempt| async move {
                match tokio::time::timeout(self.backoff.deadline, self.transport.send(message.clone())).await {
                    Ok(Ok(_)) => Outcome::Done(()),
                    Ok(Err(e)) => {
                        let permanent = e.is_permanent() || e.is_client();
                        tracing::warn!(attempt, error = %e, permanent, "mail delivery failed");
                        Outcome::failed(!permanent, None, MailError::Refused { message: e.to_string(), permanent })
                    }
                    Err(_) => {
                        tracing::warn!(attempt, "mail server did not answer in time");
                        Outcome::Again { asked: None, failure: MailError::Deadline(self.backoff.deadline) }
                    }
                }
            })
            .await
    }
}
