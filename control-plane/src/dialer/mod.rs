//! Placing calls: a `Dialer` per telephony mode. The engine commits an attempt as
//! `dialing` before it calls `dial`, so a crash between the two is reconciled, never
//! blindly redialed.

pub mod livekit;
pub mod twilio;

use async_trait::async_trait;
use secrecy::SecretString;
use shared::{AttemptResult, PhoneNumber};
use uuid::Uuid;

/// Everything needed to place one call.
#[derive(Debug, Clone)]
pub struct DialRequest {
    pub call_id: Uuid,
    pub to: PhoneNumber,
    pub from: String,
    /// The per-call token the worker presents to fetch the job and post events.
    pub token: String,
    pub account: ProviderAccount,
    /// Asynchronous answering-machine detection, with its timeout in seconds.
    pub amd_timeout_sec: Option<u32>,
    /// How long to let it ring.
    pub ring_timeout_sec: u32,
    /// Hard cap on the call's length.
    pub time_limit_sec: u32,
    /// The trunk's id at LiveKit (`ST_...`): what a `livekit_sip` call dials through.
    pub livekit_trunk_id: Option<String>,
}

/// Provider credentials: a trunk's own, else the deployment's.
#[derive(Debug, Clone)]
pub struct ProviderAccount {
    pub account_sid: String,
    pub auth_token: SecretString,
}

impl ProviderAccount {
    /// For dialers that hold their own credentials (LiveKit: the deployment's API key),
    /// whose calls name no Twilio account.
    pub fn unused() -> Self {
        ProviderAccount {
            account_sid: String::new(),
            auth_token: SecretString::from(String::new()),
        }
    }

    /// The deployment's own account, when its settings name one.
    pub fn from_settings(twilio: &crate::config::TwilioSettings) -> Option<Self> {
        match (&twilio.account_sid, &twilio.auth_token) {
            (Some(sid), Some(token)) => Some(ProviderAccount {
                account_sid: sid.clone(),
                auth_token: token.clone(),
            }),
            _ => None,
        }
    }
}

/// What the provider said when the call was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub provider_call_id: String,
}

/// A call the provider knows about, found when reconciling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderCall {
    pub provider_call_id: String,
    /// The provider's status, already in our spelling.
    pub status: shared::CallStatus,
    pub duration_sec: Option<i32>,
}

/// Why a dial failed, in the terms the engine acts on.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The number can never be called (Twilio 21211 / 21214): fail the contact for good.
    #[error("invalid or unreachable number: {0}")]
    InvalidNumber(String),
    /// Too many requests (20429): try again later, the attempt does not count.
    #[error("rate limited by the provider")]
    RateLimited,
    /// The account's credentials were refused (20003): the campaign cannot go on.
    #[error("provider refused the credentials: {0}")]
    BadCredentials(String),
    /// The provider answered with another error: the attempt failed.
    #[error("provider refused the call: {0}")]
    Refused(String),
    /// The request never reached the provider: safe to try again without counting.
    #[error("request not sent: {0}")]
    NotSent(String),
    /// The request may or may not have reached the provider: reconcile, do not redial.
    #[error("outcome unknown: {0}")]
    Unknown(String),
    /// The dial ended without an answer, and the provider said why (busy, declined, no
    /// answer, no worker joined): the attempt ends with `result`.
    #[error("call not answered ({result}): {detail}")]
    Ended {
        result: AttemptResult,
        detail: String,
    },
}

impl DialError {
    /// The attempt result for failures that end the attempt.
    pub fn attempt_result(&self) -> AttemptResult {
        match self {
            DialError::InvalidNumber(_) => AttemptResult::InvalidNumber,
            DialError::Ended { result, .. } => *result,
            _ => AttemptResult::Failed,
        }
    }
}

/// A dial whose provider id was never stored (the replica crashed while asking): what
/// reconciliation knows about it.
#[derive(Debug, Clone)]
pub struct Unrecorded<'a> {
    pub call_id: Uuid,
    pub to: &'a str,
    pub from: &'a str,
    /// Provider ids other calls to this number already hold.
    pub known: &'a [String],
    /// The dial happened at or after this time.
    pub since: chrono::DateTime<chrono::Utc>,
}

/// One telephony mode's way of placing and ending calls.
#[async_trait]
pub trait Dialer: Send + Sync + std::fmt::Debug {
    /// Places the call. A dialer whose `dial` returns only once the callee answered (or
    /// did not) says so in [`Dialer::waits_for_answer`].
    async fn dial(&self, request: &DialRequest) -> Result<Placed, DialError>;

    /// Whether `dial` lasts as long as the ringing: the engine then runs it beside its
    /// tick instead of inside it, so one ringing phone does not hold up the others.
    fn waits_for_answer(&self) -> bool {
        false
    }

    /// Whether calls need a provider account (Twilio's); LiveKit's dialer holds its own
    /// API key.
    fn needs_account(&self) -> bool {
        true
    }

    /// Hangs up a live call; a call that already ended is not an error.
    async fn hang_up(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
    ) -> Result<(), DialError>;

    /// Transfers a live call to `to` (E.164).
    async fn transfer(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
        to: &str,
    ) -> Result<(), DialError>;

    /// Replaces what a live call is doing with TwiML (Twilio's voicemail drop); modes
    /// without TwiML refuse.
    async fn redirect(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
        instructions: &str,
    ) -> Result<(), DialError>;

    /// The provider's view of a call we created, by its id.
    async fn fetch(
        &self,
        account: &ProviderAccount,
        provider_call_id: &str,
    ) -> Result<Option<ProviderCall>, DialError>;

    /// Finds the call a crashed dial may have placed before its provider id was stored.
    async fn find_unrecorded(
        &self,
        account: &ProviderAccount,
        call: &Unrecorded<'_>,
    ) -> Result<Option<ProviderCall>, DialError>;
}
