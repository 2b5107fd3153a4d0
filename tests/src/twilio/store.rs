//! The emulator's shared state: scripts, calls and their reports, CPS pacing, faults.
//!
//! One `std::sync::Mutex` guards it all; it is only ever held for a few field updates,
//! never across an `.await`.

use super::config::EmulatorConfig;
use super::messaging::Messaging;
use super::phone::Phone;
use super::report::{CallReport, TimelineEvent};
use super::script::CalleeScript;
use super::trunking::Directory;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};

/// Where a TwiML document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Given inline (`Twiml=`).
    Inline(String),
    /// Fetched from a URL with GET or POST.
    Url { url: String, method: String },
}

/// What the REST API asks a live call to do.
#[derive(Debug)]
pub(crate) enum Control {
    /// `Status=completed|canceled`.
    Hangup,
    /// `Twiml=` or `Url=`: obey this instead.
    Redirect(Source),
}

/// Injected faults for the create endpoint.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults {
    /// Refuse this many of the next creates...
    pub fail_next_creates: u32,
    /// ...with this Twilio code (20429 -> 429, others -> 400 unless 20003).
    pub fail_code: u32,
    /// Refuse every request with 401 / 20003.
    pub reject_credentials: bool,
}

/// One call: its report and the handles to reach it.
pub(crate) struct CallEntry {
    pub report: CallReport,
    /// Present while the call is live.
    pub control: Option<mpsc::Sender<Control>>,
    /// Flips to true once the call has ended and its last callback was delivered.
    pub ended: watch::Sender<bool>,
    /// The answered callee, for its ear audio.
    pub phone: Option<Phone>,
}

pub(crate) struct State {
    pub scripts: HashMap<String, CalleeScript>,
    pub dials: BTreeMap<String, u32>,
    pub calls: HashMap<String, CallEntry>,
    /// SIDs in creation order.
    pub order: Vec<String>,
    /// When the next call may leave the queue.
    pub next_slot: Option<Instant>,
    pub calls_per_second: f64,
    pub faults: Faults,
}

/// Everything the emulator's tasks share.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub http: reqwest::Client,
    state: Mutex<State>,
    /// Elastic SIP Trunking resources: apart from the calls, so provisioning never waits
    /// on call traffic.
    trunking: Mutex<Directory>,
    /// Numbers' webhooks and texts: apart from the calls too.
    messaging: Mutex<Messaging>,
}

impl Shared {
    /// Twilio's now, on the configured clock.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.config.clock.now()
    }

    pub(crate) fn new(config: EmulatorConfig) -> Self {
        let state = State {
            scripts: HashMap::new(),
            dials: BTreeMap::new(),
            calls: HashMap::new(),
            order: Vec::new(),
            next_slot: None,
            calls_per_second: config.calls_per_second,
            faults: Faults::default(),
        };
        Shared {
            config,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            state: Mutex::new(state),
            trunking: Mutex::new(Directory::default()),
            messaging: Mutex::new(Messaging::default()),
        }
    }

    pub(crate) fn trunking(&self) -> MutexGuard<'_, Directory> {
        self.trunking.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn messaging(&self) -> MutexGuard<'_, Messaging> {
        self.messaging.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the whole emulator down with it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on call `sid`'s entry, if it exists.
    pub(crate) fn with_call<R>(&self, sid: &str, f: impl FnOnce(&mut CallEntry) -> R) -> Option<R> {
        self.lock().calls.get_mut(sid).map(f)
    }

    /// Runs `f` on call `sid`'s report.
    pub(crate) fn update(&self, sid: &str, f: impl FnOnce(&mut CallReport)) {
        self.with_call(sid, |entry| f(&mut entry.report));
    }

    /// Appends to call `sid`'s timeline.
    pub(crate) fn event(&self, sid: &str, what: impl Into<String>) {
        let what = what.into();
        tracing::debug!(call = sid, "{what}");
        self.update(sid, |r| {
            r.timeline.push(TimelineEvent {
                at: self.now(),
                what,
            })
        });
    }

    /// Reserves the next CPS slot: excess calls wait in the queue, as at Twilio.
    pub(crate) fn reserve_slot(&self) -> Instant {
        let mut state = self.lock();
        let now = Instant::now();
        let slot = state.next_slot.map_or(now, |next| next.max(now));
        if state.calls_per_second > 0.0 {
            state.next_slot = Some(slot + Duration::from_secs_f64(1.0 / state.calls_per_second));
        }
        slot
    }

    /// The script for `to`, or the default.
    pub(crate) fn script_for(&self, to: &str) -> CalleeScript {
        self.lock()
            .scripts
            .get(to)
            .cloned()
            .unwrap_or_else(|| self.config.default_callee.clone())
    }
}
