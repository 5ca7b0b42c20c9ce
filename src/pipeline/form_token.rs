//! Phase 5b: one token per request (RFC 6750 §2) in the body. A request authenticated by
//! its `Authorization` header must not carry a second access token in an
//! `application/x-www-form-urlencoded` body: an upstream that reads the body would act on
//! a token the gateway never checked. (The query string is checked in `authenticate`.)
//!
//! Only form-encoded bodies are read, and only up to [`FORM_BODY_LIMIT`]: such a body is
//! read whole, scanned, and forwarded from memory. A larger one cannot be checked cheaply
//! and is refused rather than forwarded unchecked; other content types (JSON, multipart)
//! are never read. Never logs the body and never decides a status code.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::Request;
use http_body_util::BodyExt;

use crate::auth::token_params::{carries_access_token, is_form_content_type};
use crate::auth::AuthError;
use crate::error::GatewayError;
use crate::transport::ReqBody;

/// The largest form-encoded body read on a bearer-authenticated request. Forms that big
/// are rare on APIs (uploads are multipart); a larger one gets 400 `invalid_request`.
pub const FORM_BODY_LIMIT: usize = 64 * 1024;

/// Refuses (400 `invalid_request`) a form-encoded body with an `access_token` parameter
/// in any spelling an upstream may decode; reads at most [`FORM_BODY_LIMIT`] bytes within
/// `timeout`, then puts the bytes back as the body to forward.
pub async fn refuse_second_token(
    req: &mut Request<ReqBody>,
    timeout: Duration,
) -> Result<(), GatewayError> {
    let form = req
        .headers()
        .get_all(CONTENT_TYPE)
        .iter()
        .any(|v| is_form_content_type(v.as_bytes()));
    if !form {
        return Ok(());
    }
    let too_large = AuthError::Malformed("form body too large to check for a second access token");
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > FORM_BODY_LIMIT as u64) {
        return Err(too_large.into());
    }
    let body = std::mem::replace(req.body_mut(), ReqBody::Empty);
    let bytes = tokio::time::timeout(timeout, read_bounded(body))
        .await
        .map_err(|_| GatewayError::BadRequest("request body not received in time"))??;
    if carries_access_token(&bytes) {
        return Err(AuthError::Malformed(
            "access token in the form body as well as in the Authorization header",
        )
        .into());
    }
    *req.body_mut() = ReqBody::Buffered((!bytes.is_empty()).then_some(bytes));
    Ok(())
}

async fn read_bounded(mut body: ReqBody) -> Result<Bytes, GatewayError> {
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|_| GatewayError::BadRequest("request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > FORM_BODY_LIMIT {
                return Err(AuthError::Malformed(
                    "form body too large to check for a second access token",
                )
                .into());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}
