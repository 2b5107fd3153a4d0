//! Domain types parsed and validated at the edge, so handlers and the engine only see
//! valid values.

pub mod assistant;
pub mod campaign;
pub mod contact;
pub mod number;
pub mod trunk;
pub mod twilio_trunk;
