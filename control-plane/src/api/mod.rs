//! The REST API under `/api/v1`, documented by the OpenAPI document built from these
//! routes (a route cannot exist undocumented: every one is registered through `routes!`).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub mod analysis_plans;
pub mod api_keys;
pub mod assistants;
pub mod auth;
pub mod calls;
pub mod campaigns;
pub mod compliance;
pub mod contact_lists;
pub mod dnc;
pub mod events;
pub mod health;
pub mod imports;
pub mod messages;
pub mod metrics;
pub mod numbers;
pub mod overview;
pub mod pre_dial_checks;
pub mod trunks;
pub mod twilio_trunks;
pub mod webhook_endpoints;
pub mod workers;

/// The document's fixed parts; paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Outbound calling control plane",
        description = "Organizations, assistants, contacts, Do-Not-Call, trunks, campaigns and calls.",
        version = "1"
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody, crate::error::FieldError)),
    security(("bearer" = []))
)]
pub struct ApiDoc;

/// Declares the `bearer` scheme: a session JWT or an API key.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from login/register, or an API key"))
                    .build(),
            ),
        );
    }
}

/// All routes with ordinary body limits and timeouts.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(api_keys::router())
        .merge(assistants::router())
        .merge(contact_lists::router())
        .merge(imports::router())
        .merge(dnc::router())
        .merge(trunks::router())
        .merge(twilio_trunks::router())
        .merge(campaigns::router())
        .merge(compliance::router())
        .merge(calls::router())
        .merge(metrics::router())
        .merge(numbers::router())
        .merge(messages::router())
        .merge(overview::router())
        .merge(workers::router())
        .merge(webhook_endpoints::router())
        .merge(pre_dial_checks::router())
        .merge(analysis_plans::router())
}

/// Routes that take large streamed uploads (CSV): their own body limit and timeout.
pub fn upload_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(contact_lists::upload_router())
        .merge(dnc::upload_router())
}
