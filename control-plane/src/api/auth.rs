//! Registration and login: the only `/api/v1` routes that need no credentials.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{hash_password, verify_login};
use crate::db::tenancy::{self, OrganizationRow, UserRow};
use crate::error::{conflict_on_unique, ApiError, Validator};
use crate::http::ApiJson;
use crate::limits::ClientAddress;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub organization_name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
}

/// A session: the token to send as `Authorization: Bearer`, and who it is for.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    pub token: String,
    pub user: UserView,
    pub organization: OrganizationView,
}

const MIN_PASSWORD_LEN: usize = 8;
/// Long enough for any passphrase; hashing a megabyte on every try is not.
const MAX_PASSWORD_LEN: usize = 1024;
/// The longest address SMTP allows.
const MAX_EMAIL_LEN: usize = 254;
const MAX_ORGANIZATION_NAME: usize = 200;

/// Creates an organization and its first user, and signs the user in.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", security(()),
    request_body = RegisterRequest,
    responses(
        (status = 201, body = SessionResponse),
        (status = 409, description = "Email already registered", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts from this address or for this email", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid input", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, ApiJson<SessionResponse>), ApiError> {
    let email = body.email.trim().to_lowercase();
    state.limits.auth_attempt(&address, &email, false)?;
    let org_name = body.organization_name.trim().to_string();
    let mut v = Validator::new();
    v.check(
        looks_like_email(&email) && email.len() <= MAX_EMAIL_LEN,
        "email",
        format!("must be an email address of at most {MAX_EMAIL_LEN} characters"),
    )
    .check(
        body.password.chars().count() >= MIN_PASSWORD_LEN,
        "password",
        format!("must be at least {MIN_PASSWORD_LEN} characters"),
    )
    .check(
        body.password.chars().count() <= MAX_PASSWORD_LEN,
        "password",
        format!("must be at most {MAX_PASSWORD_LEN} characters"),
    )
    .check(
        !org_name.is_empty(),
        "organizationName",
        "must not be empty",
    )
    .check(
        org_name.chars().count() <= MAX_ORGANIZATION_NAME,
        "organizationName",
        format!("must be at most {MAX_ORGANIZATION_NAME} characters"),
    );
    v.finish()?;

    let password = body.password;
    // Argon2 is deliberately slow: keep it off the async workers.
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(anyhow::Error::from)??;
    let mut tx = state.db.begin().await?;
    let org = tenancy::insert_organization(&mut tx, &org_name).await?;
    let user = tenancy::insert_user(&mut tx, org.id, &email, &hash)
        .await
        .map_err(conflict_on_unique(
            "an account with this email already exists",
        ))?;
    tx.commit().await?;
    tracing::info!(org_id = %org.id, "organization registered");
    Ok((StatusCode::CREATED, ApiJson(session(&state, user, org)?)))
}

/// Exchanges email and password for a session token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = SessionResponse),
        (status = 401, description = "Wrong email or password", body = crate::error::ErrorBody),
        (status = 429, description = "Too many attempts, or the account is locked after repeated failures (see Retry-After)", body = crate::error::ErrorBody),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<ApiJson<SessionResponse>, ApiError> {
    let email = body.email.trim().to_lowercase();
    state.limits.auth_attempt(&address, &email, true)?;
    let found = tenancy::find_user_by_email(&state.db, &email).await?;
    // An unknown email is verified too (against a dummy hash): answering it sooner would
    // tell which emails have accounts.
    let password = body.password;
    let stored = found.as_ref().map(|(user, _)| user.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || verify_login(&password, stored.as_deref()))
        .await
        .map_err(anyhow::Error::from)?;
    match found {
        Some((user, org)) if ok => {
            state.limits.login_succeeded(&email);
            Ok(ApiJson(session(&state, user, org)?))
        }
        _ => Err(state.limits.login_failed(&email)),
    }
}

fn session(
    state: &AppState,
    user: UserRow,
    org: OrganizationRow,
) -> Result<SessionResponse, ApiError> {
    Ok(SessionResponse {
        token: state.sessions.issue(user.id, org.id)?,
        user: UserView {
            id: user.id,
            email: user.email,
        },
        organization: OrganizationView {
            id: org.id,
            name: org.name,
        },
    })
}

/// Just enough to catch typos; the address is proven by use, not by regex.
fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.contains(char::is_whitespace)
        }
        None => false,
    }
}
