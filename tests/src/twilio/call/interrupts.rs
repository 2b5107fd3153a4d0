//! Everything that can cut a call's current activity short: the REST API (hang up,
//! redirect), the callee hanging up, and `TimeLimit`.

use crate::twilio::store::{Control, Source};
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep_until, Instant};

/// Why the current activity stops.
#[derive(Debug)]
pub(crate) enum Interrupt {
    /// `Status=completed|canceled` over REST.
    Hangup,
    /// New TwiML over REST.
    Redirect(Source),
    /// The callee hung up.
    CalleeHungUp,
    /// `TimeLimit` reached.
    TimeLimit,
}

impl Interrupt {
    /// Short name, used in reports.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Interrupt::Hangup => "hangup_requested",
            Interrupt::Redirect(_) => "redirected",
            Interrupt::CalleeHungUp => "callee_hung_up",
            Interrupt::TimeLimit => "time_limit",
        }
    }
}

/// The sources of interrupts for one call.
pub(crate) struct Interrupts {
    control: mpsc::Receiver<Control>,
    /// Set once answered: the phone's "callee has hung up" flag.
    gone: Option<watch::Receiver<bool>>,
    /// Set once answered: answer + TimeLimit.
    deadline: Option<Instant>,
}

impl Interrupts {
    pub(crate) fn new(control: mpsc::Receiver<Control>) -> Self {
        Interrupts {
            control,
            gone: None,
            deadline: None,
        }
    }

    /// From the answer on, the callee and the time limit can end the call too.
    pub(crate) fn answered(&mut self, gone: watch::Receiver<bool>, deadline: Instant) {
        self.gone = Some(gone);
        self.deadline = Some(deadline);
    }

    /// Waits for the next interrupt.
    pub(crate) async fn next(&mut self) -> Interrupt {
        let gone = async {
            match &mut self.gone {
                Some(gone) => {
                    if gone.wait_for(|g| *g).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        let deadline = async {
            match self.deadline {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            control = self.control.recv() => match control {
                Some(Control::Hangup) => Interrupt::Hangup,
                Some(Control::Redirect(source)) => Interrupt::Redirect(source),
                // The emulator is shutting down.
                None => Interrupt::Hangup,
            },
            _ = gone => Interrupt::CalleeHungUp,
            _ = deadline => Interrupt::TimeLimit,
        }
    }

    /// Sleeps until `at` unless interrupted.
    pub(crate) async fn sleep_until(&mut self, at: Instant) -> Result<(), Interrupt> {
        tokio::select! {
            _ = sleep_until(at) => Ok(()),
            interrupt = self.next() => Err(interrupt),
        }
    }
}
