//! Files: encrypted while streaming up, decrypted and verified while
//! streaming down, with resume after an interruption.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Method;
use hyper::body::Frame;
use onionchat_proto::crypto::file_stream::{FileOpener, FileSealer, ciphertext_len, decode_header};
use onionchat_proto::limits::FILE_CHUNK_SIZE;
use onionchat_proto::wire::{FileId, FileInfo, FileUploadStart, MessageContent, RoomId, SendAck};
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::api::error_from;
use crate::client::Client;
use crate::error::{ClientError, Result};

/// Progress callback: `(done, total)` bytes; return `false` to stop.
pub type Progress = Box<dyn Fn(u64, u64) -> bool + Send + Sync>;

/// What a download did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Downloaded {
    /// Plaintext bytes in the finished file.
    pub size: u64,
    /// Plaintext offset the download resumed from (0 = from the start).
    pub resumed_from: u64,
}

fn interrupted() -> ClientError {
    ClientError::Io {
        context: "transfer stopped".into(),
        source: std::io::Error::new(std::io::ErrorKind::Interrupted, "stopped by the caller"),
    }
}

fn part_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "download".into());
    dest.with_file_name(format!("{name}.part"))
}

/// A photo ready to go: its bytes as [`crate::picture::clean`] left them
/// (the pixels without the hidden details), its MIME type and, when it
/// decodes within bounds, its preview.
struct Photo {
    bytes: Vec<u8>,
    mime: &'static str,
    preview: Option<Box<onionchat_proto::wire::Preview>>,
}

/// If the file at `path` is a JPEG or PNG of at most
/// [`crate::picture::MAX_PICTURE_BYTES`], the photo to send instead of it;
/// `None` sends the file as it is. A picture whose container is too
/// damaged to clean is not sent at all: sending it as it is could send
/// where it was taken.
async fn prepare_photo(path: &Path, size: u64) -> Result<Option<Photo>> {
    if size > crate::picture::MAX_PICTURE_BYTES {
        return Ok(None);
    }
    let mut head = [0u8; 16];
    let n = {
        let mut f = tokio::fs::File::open(path)
            .await
            .map_err(ClientError::io(format!("cannot open {}", path.display())))?;
        f.read(&mut head)
            .await
            .map_err(ClientError::io(format!("cannot read {}", path.display())))?
    };
    let Some(format) = crate::picture::picture_format(&head[..n]) else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(path)
        .await
        .map_err(ClientError::io(format!("cannot read {}", path.display())))?;
    let shown = path.display().to_string();
    let made = tokio::task::spawn_blocking(move || {
        let bytes = crate::picture::clean(&bytes)?;
        let preview = match crate::picture::make_preview(&bytes) {
            Ok(p) => Some(Box::new(p)),
            Err(e) => {
                tracing::info!("sending {shown} without a preview: {e}");
                None
            }
        };
        Ok::<_, crate::picture::PictureError>(Photo {
            bytes,
            mime: crate::picture::mime_of(format),
            preview,
        })
    })
    .await
    .map_err(|e| ClientError::Protocol(format!("preparing the photo failed: {e}")))?;
    match made {
        Ok(photo) => Ok(Some(photo)),
        Err(e) => Err(ClientError::Input(format!(
            "{} was not sent: {e}, so its hidden details (such as where it was taken) \
             cannot be taken out; put it in a zip file to send it as it is",
            path.display()
        ))),
    }
}

/// Why the file at `path` goes as it is although it is a photo — a kind
/// this app does not clean, or a JPEG or PNG too large to — in words for
/// the person sending it; `None` for anything else (a photo that is
/// cleaned, or a file that is no photo).
pub fn sent_as_is(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path).ok()?;
    let n = f.read(&mut head).ok()?;
    let name = path.file_name()?.to_string_lossy();
    if let Some(kind) = crate::picture::uncleaned_kind(&head[..n]) {
        return Some(format!(
            "{name} went as it is: only JPEG and PNG photos are sent without their hidden details (such as where they were taken), and this is a {kind} picture"
        ));
    }
    let size = f.metadata().ok()?.len();
    (crate::picture::picture_format(&head[..n]).is_some()
        && size > crate::picture::MAX_PICTURE_BYTES)
        .then(|| {
            format!(
                "{name} went as it is: photos over {} MiB are sent without taking out their hidden details (such as where they were taken)",
                crate::picture::MAX_PICTURE_BYTES >> 20
            )
        })
}

impl Client {
    /// Encrypt and upload a file, then post a message about it. The file is
    /// read once (hashing and encrypting on the way) and never held in
    /// memory — except a JPEG or PNG photo (at most
    /// [`crate::picture::MAX_PICTURE_BYTES`]), which is read whole to be
    /// cleaned of its hidden details and given a preview, and sent cleaned.
    pub async fn send_file(
        &self,
        room_id: RoomId,
        path: &Path,
        progress: Progress,
    ) -> Result<(FileId, SendAck)> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(ClientError::io(format!("cannot open {}", path.display())))?;
        let mut size = file
            .metadata()
            .await
            .map_err(ClientError::io("cannot read the file size"))?
            .len();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "file".into());
        // A photo goes without its hidden details (GPS, camera, time), and
        // with a small preview made here, so it shows in the conversation
        // before anyone fetches the file. Other files go as they are.
        let (mut file, mime, preview): (Box<dyn tokio::io::AsyncRead + Send + Unpin>, _, _) =
            match prepare_photo(path, size).await? {
                Some(photo) => {
                    size = photo.bytes.len() as u64;
                    (
                        Box::new(std::io::Cursor::new(photo.bytes)),
                        Some(photo.mime.to_string()),
                        photo.preview,
                    )
                }
                None => (Box::new(file), None, None),
            };
        let (room, key) = self.ready_room(room_id).await?;
        let file_id = FileId::random();
        let (header, mut sealer) = {
            let p = self.profile();
            FileSealer::start(
                &p.identity,
                room_id,
                room.epoch,
                &key,
                file_id,
                size,
                FILE_CHUNK_SIZE,
            )?
        };
        let _info: FileInfo = self
            .call(
                Method::POST,
                &format!("/v1/rooms/{room_id}/files"),
                Some(&FileUploadStart { header }),
            )
            .await?;

        let (tx, rx) =
            tokio::sync::mpsc::channel::<std::result::Result<Frame<Bytes>, std::io::Error>>(8);
        let producer = tokio::spawn(async move {
            let mut hasher = sha2::Sha256::new();
            let mut buf = vec![0u8; FILE_CHUNK_SIZE as usize];
            let mut done = 0u64;
            loop {
                let n = match file.read(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return None;
                    }
                };
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                done += n as u64;
                let ct = match sealer.push(&buf[..n]) {
                    Ok(ct) => ct,
                    Err(e) => {
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return None;
                    }
                };
                if !ct.is_empty() && tx.send(Ok(Frame::data(Bytes::from(ct)))).await.is_err() {
                    return None;
                }
                if !progress(done, size) {
                    let _ = tx
                        .send(Err(std::io::Error::new(
                            std::io::ErrorKind::Interrupted,
                            "stopped",
                        )))
                        .await;
                    return None;
                }
            }
            match sealer.finish() {
                Ok(ct) => {
                    let _ = tx.send(Ok(Frame::data(Bytes::from(ct)))).await;
                    Some(hasher.finalize().to_vec())
                }
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    None
                }
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        let body = StreamBody::new(stream).boxed();
        let len = ciphertext_len(size, FILE_CHUNK_SIZE);
        let resp = self
            .api
            .send_dedicated(
                Method::PUT,
                &format!("/v1/files/{file_id}"),
                &[("content-length", len.to_string())],
                body,
            )
            .await;
        let sha256 = producer
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let resp = resp?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let sha256 = sha256.ok_or_else(interrupted)?;
        let ack = self
            .send(
                room_id,
                MessageContent::File {
                    file_id,
                    name,
                    mime,
                    size,
                    sha256,
                    preview,
                },
            )
            .await?;
        Ok((file_id, ack))
    }

    /// Delete a file this account uploaded (finished or not): members can
    /// no longer download it and get a `FileDeleted` event; the quota it
    /// took is free again.
    pub async fn delete_file(&self, file_id: FileId) -> Result<()> {
        self.call_empty::<()>(Method::DELETE, &format!("/v1/files/{file_id}"), None)
            .await
    }

    /// Download, verify and decrypt a file to `dest`. An interrupted
    /// download leaves `dest.part`; calling again resumes from it.
    pub async fn download_file(
        &self,
        file_id: FileId,
        dest: &Path,
        expected_sha256: Option<&[u8]>,
        progress: Progress,
    ) -> Result<Downloaded> {
        let info: FileInfo = self
            .call::<(), _>(Method::GET, &format!("/v1/files/{file_id}/info"), None)
            .await?;
        let header = decode_header(&info.header)?;
        let key = self.room_key(info.room_id, header.epoch).await?;
        let (uploader, _) = self
            .sender_key(info.room_id, info.uploader, Some(header.epoch))
            .await?;
        let (body, mut opener) =
            FileOpener::start(&info.header, &uploader, info.room_id, move |_| Some(key))?;
        if body.file_id != file_id {
            return Err(ClientError::Protocol(
                "the node sent another file's header".into(),
            ));
        }
        let chunk = u64::from(body.chunk_size);
        let chunks =
            onionchat_proto::crypto::file_stream::chunk_count(body.plaintext_len, body.chunk_size);
        let part = part_path(dest);
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .read(true)
            .open(&part)
            .await
            .map_err(ClientError::io(format!("cannot write {}", part.display())))?;
        let have = out
            .metadata()
            .await
            .map_err(ClientError::io("cannot stat the partial file"))?
            .len();
        let start_chunk = (have / chunk).min(chunks - 1);
        let resumed_from = start_chunk * chunk;
        out.set_len(resumed_from)
            .await
            .map_err(ClientError::io("cannot truncate the partial file"))?;
        out.seek(SeekFrom::Start(resumed_from))
            .await
            .map_err(ClientError::io("cannot seek"))?;
        if start_chunk > 0 {
            opener.resume_at_chunk(start_chunk)?;
        }
        let start_byte = start_chunk * (chunk + 16);
        let headers = [("range", format!("bytes={start_byte}-"))];
        let resp = self
            .api
            .send_dedicated(
                Method::GET,
                &format!("/v1/files/{file_id}"),
                &headers,
                crate::api::full(Bytes::new()),
            )
            .await?;
        if !resp.status().is_success() {
            return Err(error_from(resp).await);
        }
        let mut stream = resp.into_body();
        let mut done = resumed_from;
        while let Some(frame) = stream.frame().await {
            let frame = frame.map_err(|e| ClientError::Connect(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                let plain = opener.push(&data)?;
                out.write_all(&plain)
                    .await
                    .map_err(ClientError::io("cannot write the file"))?;
                done += plain.len() as u64;
                if !progress(done, body.plaintext_len) {
                    out.flush()
                        .await
                        .map_err(ClientError::io("cannot write the file"))?;
                    return Err(interrupted());
                }
            }
        }
        let last = opener.finish()?;
        out.write_all(&last)
            .await
            .map_err(ClientError::io("cannot write the file"))?;
        out.sync_all()
            .await
            .map_err(ClientError::io("cannot sync the file"))?;
        done += last.len() as u64;
        progress(done, body.plaintext_len);
        if let Some(expected) = expected_sha256 {
            out.seek(SeekFrom::Start(0))
                .await
                .map_err(ClientError::io("cannot seek"))?;
            let mut hasher = sha2::Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = out
                    .read(&mut buf)
                    .await
                    .map_err(ClientError::io("cannot re-read the file"))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
            if hasher.finalize().as_slice() != expected {
                drop(out);
                let _ = tokio::fs::remove_file(&part).await;
                return Err(ClientError::HashMismatch);
            }
        }
        drop(out);
        tokio::fs::rename(&part, dest)
            .await
            .map_err(ClientError::io(format!("cannot create {}", dest.display())))?;
        Ok(Downloaded {
            size: done,
            resumed_from,
        })
    }
}
