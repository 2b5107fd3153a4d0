//! How a provider call fails, in terms the resilience layer can act on.

/// A provider failure.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    /// No answer (or no first byte) in time.
    #[error("{provider}: timed out after {ms} ms")]
    Timeout { provider: String, ms: u64 },
    /// The service answered with an error status.
    #[error("{provider}: HTTP {status}: {body}")]
    Status {
        provider: String,
        status: u16,
        body: String,
    },
    /// Could not connect, or the connection broke.
    #[error("{provider}: connection: {message}")]
    Connection { provider: String, message: String },
    /// The service said something we could not understand.
    #[error("{provider}: protocol: {message}")]
    Protocol { provider: String, message: String },
    /// The circuit breaker is open: the provider failed too often recently.
    #[error("{provider}: circuit open")]
    CircuitOpen { provider: String },
    /// The provider is not configured (no key or base URL).
    #[error("{provider}: not configured: {message}")]
    NotConfigured { provider: String, message: String },
}

impl ProviderError {
    /// Whether trying again (the same provider) may help.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Timeout { .. } | ProviderError::Connection { .. } => true,
            ProviderError::Status { status, .. } => *status == 429 || *status >= 500,
            ProviderError::Protocol { .. }
            | ProviderError::CircuitOpen { .. }
            | ProviderError::NotConfigured { .. } => false,
        }
    }
}
