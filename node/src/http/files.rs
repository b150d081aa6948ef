//! File upload (streamed to disk) and download (streamed, with `Range`).

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use onionchat_proto::wire::{ErrorCode, FileId, FileInfo, FileUploadStart};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::rooms::room_id;
use super::{Authed, Cbor, parse_id};
use crate::error::{Failure, reject};
use crate::state::AppState;
use crate::store::files::{FileLimits, file_info};

fn file_id(s: &str) -> Result<FileId, Failure> {
    parse_id(s, FileId::from_hex, "file")
}

pub(super) async fn announce(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    Cbor(req): Cbor<FileUploadStart>,
) -> Result<(StatusCode, Cbor<FileInfo>), Failure> {
    let limits = FileLimits {
        max_file_bytes: state.config.max_file_bytes,
    };
    let info = state
        .store
        .announce_file(auth.user, &auth.key()?, room_id(&id)?, req.header, limits)
        .await?;
    Ok((StatusCode::CREATED, Cbor(info)))
}

pub(super) async fn upload(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    req: Request,
) -> Result<Cbor<FileInfo>, Failure> {
    let id = file_id(&id)?;
    // One upload of a file at a time; held until this request ends.
    let _claim = state.store.claim_upload(id)?;
    let rec = state.store.file_for(auth.user, id)?;
    if rec.uploader != auth.user.0 || rec.complete {
        return reject(
            ErrorCode::Conflict,
            "this file is not waiting for an upload from you",
        );
    }
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len != rec.ciphertext_len
    {
        let code = if len > rec.ciphertext_len {
            ErrorCode::TooLarge
        } else {
            ErrorCode::Invalid
        };
        return reject(
            code,
            format!(
                "this file is exactly {} bytes, not {len}",
                rec.ciphertext_len
            ),
        );
    }
    // Held until the bytes are in (or the upload failed); dropping it
    // measures the disk again, so a write that hit a full card (ENOSPC,
    // answered as `storage_full`) is seen by the next request at once.
    let _room = state.store.reserve_space(rec.ciphertext_len)?;
    let tmp = state.store.upload_path(id).with_extension(format!(
        "{}.part",
        hex::encode(onionchat_proto::crypto::random_array::<4>())
    ));
    let result = receive(&tmp, req.into_body(), rec.ciphertext_len).await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    let dest = state.store.blob_path(id);
    tokio::fs::rename(&tmp, &dest).await?;
    // The rename must be durable before the metadata says "complete".
    tokio::fs::File::open(state.store.blob_dir())
        .await?
        .sync_all()
        .await?;
    match state.store.complete_file(auth.user, id).await {
        Ok(info) => Ok(Cbor(info)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&dest).await;
            Err(e)
        }
    }
}

/// Stream the body into `path`, refusing more or fewer than `expected` bytes.
async fn receive(path: &std::path::Path, body: Body, expected: u64) -> Result<(), Failure> {
    let mut file = tokio::fs::File::create(path).await?;
    let mut stream = body.into_data_stream();
    let mut got: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| super::body_error(&e, "upload"))?;
        got += chunk.len() as u64;
        if got > expected {
            return reject(
                ErrorCode::TooLarge,
                format!("this file is exactly {expected} bytes"),
            );
        }
        file.write_all(&chunk).await?;
    }
    if got != expected {
        return reject(
            ErrorCode::Invalid,
            format!("upload ended after {got} of {expected} bytes"),
        );
    }
    file.sync_all().await?;
    Ok(())
}

/// `DELETE /v1/files/{id}`: the uploader takes a file back (finished or
/// not); its quota is freed and members hear `file_deleted`.
pub(super) async fn delete(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, Failure> {
    let id = file_id(&id)?;
    // Not while its bytes are arriving (the upload would complete a file
    // that no longer exists); the uploader can retry in a moment.
    let _claim = state.store.claim_upload(id)?;
    state.store.delete_file(auth.user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn info(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
) -> Result<Cbor<FileInfo>, Failure> {
    let id = file_id(&id)?;
    Ok(Cbor(file_info(id.0, &state.store.file_for(auth.user, id)?)))
}

/// Parse a single `bytes=a-b` / `bytes=a-` range against `len`.
fn parse_range(h: &str, len: u64) -> Option<(u64, u64)> {
    let spec = h.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if a.is_empty() {
        // suffix range: last b bytes
        let n: u64 = b.parse().ok()?;
        if n == 0 || len == 0 {
            return None;
        }
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: u64 = a.parse().ok()?;
    let end: u64 = if b.is_empty() {
        len.checked_sub(1)?
    } else {
        b.parse::<u64>().ok()?.min(len.checked_sub(1)?)
    };
    (start <= end && start < len).then_some((start, end))
}

pub(super) async fn download(
    State(state): State<AppState>,
    auth: Authed,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let id = file_id(&id)?;
    let rec = state.store.file_for(auth.user, id)?;
    if !rec.complete {
        return reject(ErrorCode::NotFound, "this file is still being uploaded");
    }
    let len = rec.ciphertext_len;
    let (status, start, end) = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
        Some(r) => match parse_range(r, len) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e),
            None => {
                let mut resp = Failure::reject(
                    ErrorCode::RangeNotSatisfiable,
                    format!("the file has {len} bytes"),
                )
                .into_response();
                if let Ok(v) = format!("bytes */{len}").parse() {
                    resp.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(resp);
            }
        },
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    let mut file = tokio::fs::File::open(state.store.blob_path(id)).await?;
    file.seek(std::io::SeekFrom::Start(start)).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(
        tokio::io::AsyncReadExt::take(file, count),
        64 * 1024,
    );
    let mut resp = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_LENGTH, count)
        .header(header::ACCEPT_RANGES, "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        resp = resp.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    resp.body(Body::from_stream(stream))
        .map_err(|e| Failure::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=4-6", 10), Some((4, 6)));
        assert_eq!(parse_range("bytes=4-100", 10), Some((4, 9)));
        assert_eq!(parse_range("bytes=-3", 10), Some((7, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
        assert_eq!(parse_range("bytes=5-4", 10), None);
        assert_eq!(parse_range("items=0-1", 10), None);
        assert_eq!(parse_range("bytes=0-", 0), None);
    }
}
