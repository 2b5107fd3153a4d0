//! Deepgram live transcription: the `/v1/listen` WebSocket.
//!
//! Binary frames are audio (`encoding=mulaw|linear16`, `sample_rate`); text frames are
//! `KeepAlive`, `Finalize` and `CloseStream`. What is sent back is decided by
//! [`transcriber`] on the received-audio clock and only ever contains text the speech-code
//! decoder read from the audio that arrived. Ten seconds (configurable) without audio or a
//! text message closes the socket with 1011 / NET-0001, as Deepgram does.

pub(crate) mod gated;
mod input;
mod messages;
mod params;
mod session;
mod transcriber;
#[cfg(test)]
mod transcriber_tests;

#[cfg(test)]
mod bench;

use super::errors::{Api, ApiError};
use super::faults::Service;
use super::socket::admit_socket;
use super::state::Shared;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use params::ListenParams;
use std::sync::Arc;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/v1/listen", get(listen))
}

async fn listen(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let service = Service::Stt;
    let params = ListenParams::parse(query.as_deref()).map_err(|message| {
        shared.refused(service, 400, message.clone());
        ApiError::bad_request(Api::Deepgram, message)
    })?;
    let fault = admit_socket(&shared, service, &headers).await?;
    let request_id = super::request_id();
    let header = HeaderValue::from_str(&request_id).ok();
    let mut response = ws
        .read_buffer_size(4096)
        .on_upgrade(move |socket| session::run(shared, socket, params, fault, request_id))
        .into_response();
    if let Some(value) = header {
        response.headers_mut().insert("dg-request-id", value);
    }
    Ok(response)
}
