//! A request's body read whole, within a time and a size, before anything else sees it.

use super::*;

/// The longest request body taken (axum's own limit for a JSON body; a merge's chosen hunks are
/// the biggest there is).
pub(super) const MAX_BODY: usize = 2 << 20;

/// Reads a request's body whole before anything else sees it, within
/// [`crate::BODY_READ_TIMEOUT`] and [`MAX_BODY`]: a client that sends its body slowly, or a
/// huge one, is answered and closed instead of holding the host's memory or a place.
pub(super) async fn whole_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiFailure> {
    let (parts, body) = req.into_parts();
    let bytes = tokio::time::timeout(
        crate::BODY_READ_TIMEOUT,
        axum::body::to_bytes(body, MAX_BODY),
    )
    .await
    .map_err(|_| {
        bad_request(format!(
            "the request's body did not arrive within {} s",
            crate::BODY_READ_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|_| {
        bad_request(format!(
            "the request's body is cut short or over {} MiB",
            MAX_BODY >> 20
        ))
    })?;
    // A big body's memory goes back to the system once it is answered, not kept by the
    // allocator for good (fuzzing with multi-MB bodies left an idle host at 3x its size).
    let big = bytes.len() > BIG_BODY;
    let response = next
        .run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await;
    if big {
        tokio::task::spawn_blocking(sidekick_engine::release_memory);
    }
    Ok(response)
}
