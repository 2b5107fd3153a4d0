//! Campaigns: their settings as the API takes them (schedule apart), and the life cycle
//! operators drive.

mod lifecycle;
mod schedule;
mod settings;

pub use lifecycle::{AttemptState, CampaignAction, CampaignStatus, TransitionError};
pub use schedule::{Schedule, WEEKDAYS};
pub use settings::{
    Amd, AmdInput, Budget, CampaignInput, CampaignSettings, Retry, RetryInput, Voicemail,
};
