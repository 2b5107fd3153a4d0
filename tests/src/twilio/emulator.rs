//! Starting an emulator and talking to it from a test.

use super::call::inbound::NumberHooks;
use super::config::EmulatorConfig;
use super::inspect::{self, Settings};
use super::messaging::MessageReport;
use super::report::CallReport;
use super::script::CalleeScript;
use super::store::Shared;
use super::trunking::{self, TrunkReport};
use super::{inspect::all_calls, rest};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio::time::{sleep, Duration, Instant};

/// Why a wait gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaitError {
    /// The condition did not hold in time.
    #[error("timed out after {0:?} waiting for {1}")]
    Timeout(Duration, String),
    /// No such call.
    #[error("no call {0}")]
    UnknownCall(String),
}

/// The Twilio emulator.
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen` and serves the REST API, the callbacks' sources and the
    /// inspection API until the handle is dropped.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let base_url = format!("http://{addr}");
        let shared = Arc::new(Shared::new(config));
        let app = rest::router()
            .merge(trunking::router())
            .merge(super::messaging::router())
            .merge(super::inbound_inspect::router())
            .merge(inspect::router())
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("twilio emulator stopped: {e}");
            }
        });
        Ok(EmulatorHandle {
            shared,
            addr,
            base_url,
            server,
        })
    }
}

/// A running emulator. Dropping it stops the server.
pub struct EmulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    server: JoinHandle<()>,
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        self.server.abort();
        // Dropping a live call's control channel hangs it up, so no phone keeps ticking
        // (and no callback keeps firing) after the test that owned the emulator is gone.
        for entry in self.shared.lock().calls.values_mut() {
            entry.control = None;
        }
    }
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`: what the product uses in place of `https://api.twilio.com`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.shared.config.account_sid
    }

    /// The auth token (Basic password and callback signing key).
    pub fn auth_token(&self) -> &str {
        &self.shared.config.auth_token
    }

    /// `{base}/2010-04-01/Accounts/{sid}/Calls.json`.
    pub fn calls_url(&self) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/Calls.json",
            self.base_url,
            self.account_sid()
        )
    }

    /// How calls to `to` behave from now on.
    pub fn register_callee(&self, to: &str, script: CalleeScript) {
        self.shared.lock().scripts.insert(to.to_string(), script);
    }

    /// Applies faults or a CPS change.
    pub fn apply(&self, settings: Settings) {
        settings.apply(&self.shared);
    }

    /// Refuses the next `n` creates with Twilio `code` (20429 gives HTTP 429).
    pub fn fail_next_creates(&self, n: u32, code: u32) {
        self.apply(Settings {
            fail_next_creates: Some(n),
            fail_code: Some(code),
            ..Settings::default()
        });
    }

    /// Puts `number` (E.164) in the account, as buying it would; returns its `PN` SID.
    pub fn own_number(&self, number: &str) -> String {
        self.shared.trunking().own_number(number)
    }

    /// Sets a number's webhooks (`VoiceUrl`, `StatusCallback`, `SmsUrl`), as configuring it
    /// in Twilio's console does; the number becomes the account's if it was not.
    pub fn configure_number(&self, number: &str, hooks: NumberHooks) {
        self.own_number(number);
        self.shared
            .messaging()
            .numbers
            .insert(number.to_string(), hooks);
    }

    /// Someone at `from` calls our number `to`: Twilio asks the number's voice URL and
    /// obeys the TwiML (streams included); the caller behaves as `script`. Returns the
    /// call's SID.
    pub fn place_inbound_call(
        &self,
        from: &str,
        to: &str,
        script: CalleeScript,
    ) -> Result<String, String> {
        let hooks = self
            .shared
            .messaging()
            .numbers
            .get(to)
            .cloned()
            .unwrap_or_default();
        super::call::inbound::place(self.shared.clone(), from, to, &hooks, script)
    }

    /// Someone at `from` texts our number `to` (posted to its `SmsUrl`, signed); returns the
    /// message SID and the webhook's HTTP status.
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
    ) -> Result<(String, u16), String> {
        super::messaging::receive(&self.shared, from, to, body).await
    }

    /// Every text so far (sent over REST, received, and Twilio's opt-out replies).
    pub fn messages(&self) -> Vec<MessageReport> {
        self.shared.messaging().messages.clone()
    }

    /// Texts to `to` end `undelivered` (30003) from now on.
    pub fn make_undeliverable(&self, to: &str) {
        self.shared.messaging().unreachable.insert(to.to_string());
    }

    /// The account's Elastic SIP trunks, by SID.
    pub fn trunks(&self) -> Vec<TrunkReport> {
        self.shared.trunking().trunks()
    }

    /// SIDs of every SIP credential list in the account.
    pub fn credential_lists(&self) -> Vec<String> {
        self.shared.trunking().credential_list_sids()
    }

    /// Whether a SIP call to `domain` with these digest credentials would be let through:
    /// what LiveKit's outbound trunk presents to Twilio.
    pub fn accepts_sip_credentials(&self, domain: &str, username: &str, password: &str) -> bool {
        self.shared.trunking().accepts(domain, username, password)
    }

    /// Refuses every request with 401 / 20003 while `on`.
    pub fn reject_credentials(&self, on: bool) {
        self.apply(Settings {
            reject_credentials: Some(on),
            ..Settings::default()
        });
    }

    /// Calls leaving the queue per second (0 = unlimited).
    pub fn set_calls_per_second(&self, cps: f64) {
        self.apply(Settings {
            calls_per_second: Some(cps),
            ..Settings::default()
        });
    }

    /// Create requests for `to` so far (including refused 21214s).
    pub fn dial_count(&self, to: &str) -> u32 {
        self.shared.lock().dials.get(to).copied().unwrap_or(0)
    }

    /// Every call, in creation order.
    pub fn calls(&self) -> Vec<CallReport> {
        all_calls(&self.shared)
    }

    /// Calls to `to`, in creation order.
    pub fn calls_to(&self, to: &str) -> Vec<CallReport> {
        self.calls().into_iter().filter(|c| c.to == to).collect()
    }

    /// One call.
    pub fn call(&self, sid: &str) -> Option<CallReport> {
        self.shared.with_call(sid, |e| e.report.clone())
    }

    /// What reached the callee's ear so far, as 8 kHz PCM from the answer on.
    pub fn ear_audio(&self, sid: &str) -> Option<Vec<i16>> {
        self.shared
            .with_call(sid, |e| e.phone.as_ref().map(|p| p.ear_audio()))
            .flatten()
    }

    /// Waits until `check` holds for call `sid`, polling every 20 ms.
    pub async fn wait_until(
        &self,
        sid: &str,
        limit: Duration,
        what: &str,
        check: impl Fn(&CallReport) -> bool,
    ) -> Result<CallReport, WaitError> {
        let deadline = Instant::now() + limit;
        loop {
            let report = self
                .call(sid)
                .ok_or_else(|| WaitError::UnknownCall(sid.to_string()))?;
            if check(&report) {
                return Ok(report);
            }
            if Instant::now() >= deadline {
                return Err(WaitError::Timeout(limit, what.to_string()));
            }
            sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until call `sid` has ended and its last callback has been delivered.
    pub async fn wait_for_call_end(
        &self,
        sid: &str,
        limit: Duration,
    ) -> Result<CallReport, WaitError> {
        let mut ended = self
            .shared
            .with_call(sid, |e| e.ended.subscribe())
            .ok_or_else(|| WaitError::UnknownCall(sid.to_string()))?;
        let ended_in_time = tokio::time::timeout(limit, ended.wait_for(|e| *e))
            .await
            .is_ok_and(|r| r.is_ok());
        if !ended_in_time {
            return Err(WaitError::Timeout(limit, format!("{sid} to end")));
        }
        self.call(sid)
            .ok_or_else(|| WaitError::UnknownCall(sid.to_string()))
    }

    /// Waits for the first call to `to` to be created.
    pub async fn wait_for_dial(&self, to: &str, limit: Duration) -> Result<CallReport, WaitError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(call) = self.calls_to(to).into_iter().next() {
                return Ok(call);
            }
            if Instant::now() >= deadline {
                return Err(WaitError::Timeout(limit, format!("a call to {to}")));
            }
            sleep(Duration::from_millis(20)).await;
        }
    }
}
