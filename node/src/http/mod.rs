//! The HTTP API: [`router`] builds it; one file per group of routes.
//!
//! Every body is CBOR (`application/cbor`) with a size cap; every error is
//! a CBOR [`ApiError`](onionchat_proto::wire::ApiError) with the status of
//! its code. The route table below is the whole API (see docs/protocol.md).

mod account;
mod admin;
mod extract;
mod files;
mod friends;
mod messages;
pub mod raw_errors;
mod rooms;
mod ws;

use axum::Router;
use axum::routing::{get, post, put};
use onionchat_proto::wire::ErrorCode;

pub(crate) use admin::make_invite as make_invite_for_control;
pub use extract::{Authed, Cbor};

use crate::error::Failure;
use crate::state::AppState;

/// The whole API as one axum router.
pub fn router(state: AppState) -> Router {
    let body_idle = state.config.body_idle();
    Router::new()
        .route("/v1/info", get(account::info))
        .route("/v1/signup", post(account::signup))
        .route("/v1/auth/challenge", post(account::challenge))
        .route("/v1/auth/login", post(account::login))
        .route("/v1/auth/logout", post(account::logout))
        .route("/v1/me", get(account::me))
        .route("/v1/users/{username}", get(account::user))
        .route("/v1/users/by-id/{id}", get(account::user_by_id))
        .route("/v1/friends", get(friends::friends))
        .route(
            "/v1/friends/requests",
            get(friends::requests).post(friends::send_request),
        )
        .route("/v1/friends/requests/{id}/accept", post(friends::accept))
        .route("/v1/friends/requests/{id}/decline", post(friends::decline))
        .route("/v1/friends/requests/{id}/cancel", post(friends::cancel))
        .route("/v1/rooms", get(rooms::rooms).post(rooms::create_room))
        .route("/v1/rooms/{id}", get(rooms::room))
        .route("/v1/rooms/{id}/keys", get(rooms::keys))
        .route("/v1/rooms/{id}/epochs", post(rooms::rekey))
        .route("/v1/rooms/{id}/leave", post(rooms::leave))
        .route("/v1/rooms/{id}/rosters", get(rooms::rosters))
        .route(
            "/v1/rooms/{id}/messages",
            get(messages::history).post(messages::send),
        )
        .route(
            "/v1/rooms/{id}/read",
            get(messages::markers).post(messages::set_read),
        )
        .route("/v1/rooms/{id}/erase", post(messages::erase))
        .route("/v1/rooms/{id}/files", post(files::announce))
        .route(
            "/v1/files/{id}",
            put(files::upload)
                .get(files::download)
                .delete(files::delete),
        )
        .route("/v1/files/{id}/info", get(files::info))
        .route("/v1/admin/status", get(admin::status))
        .route(
            "/v1/admin/invites",
            get(admin::list_invites).post(admin::create_invite),
        )
        .route(
            "/v1/admin/invites/{code}",
            axum::routing::delete(admin::revoke_invite),
        )
        .route("/v1/admin/users", get(admin::list_users))
        .route(
            "/v1/admin/users/{id}",
            axum::routing::delete(admin::remove_user),
        )
        .route("/v1/ws", get(ws::upgrade))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Our extractors enforce their own (smaller) caps; file uploads stream.
        .layer(axum::extract::DefaultBodyLimit::disable())
        // A body that goes quiet fails (`408 timeout`, see `body_error`)
        // instead of holding its request, and its connection, for ever.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(body_idle))
        .layer(axum::middleware::map_request_with_state(
            state.activity.clone(),
            note_activity,
        ))
        .with_state(state)
}

/// Count every request (see [`crate::memory`]).
async fn note_activity<B>(
    axum::extract::State(activity): axum::extract::State<std::sync::Arc<crate::memory::Activity>>,
    req: axum::http::Request<B>,
) -> axum::http::Request<B> {
    activity.note();
    req
}

async fn not_found() -> Failure {
    Failure::reject(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> Failure {
    Failure::reject(
        ErrorCode::MethodNotAllowed,
        "this endpoint does not take that method",
    )
}

/// What a failed request body read means for the client: it went quiet
/// (`timeout`), or it broke off (`invalid`).
pub(crate) fn body_error(e: &(dyn std::error::Error + 'static), what: &str) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return Failure::reject(
                ErrorCode::Timeout,
                format!("the {what} stopped arriving; nothing was stored"),
            );
        }
        source = err.source();
    }
    Failure::reject(ErrorCode::Invalid, format!("the {what} broke off: {e}"))
}

/// Parse a 16-byte hex id from a path segment.
pub(crate) fn parse_id<T>(
    s: &str,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, Failure> {
    parse(s).ok_or_else(|| {
        Failure::reject(
            ErrorCode::Malformed,
            format!("'{s}' is not a valid {what} id"),
        )
    })
}
