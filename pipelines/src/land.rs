//! Landing: every export is stored byte for byte in the warehouse's raw area under its
//! sha256, before anything reads it. Normalising then reads the landed copy, so what was
//! loaded can always be traced to, and re-read from, exactly the bytes delivered.

use std::io::Read;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};
use tilannekuva_warehouse::Warehouse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fetch::{Content, Delivery};
use crate::{Error, Result};

const CHUNK: usize = 256 * 1024;

/// sha256 (hex) and size of a delivery's bytes, streamed.
pub async fn fingerprint(d: &Delivery) -> Result<(String, u64)> {
    match &d.content {
        Content::Bytes(b) => Ok((hex::encode(Sha256::digest(b)), b.len() as u64)),
        Content::File(path) => {
            let io = |e| Error::Io {
                context: format!("reading {}", path.display()),
                source: e,
            };
            let mut file = tokio::fs::File::open(path).await.map_err(io)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; CHUNK];
            let mut size = 0u64;
            loop {
                let n = file.read(&mut buf).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                size += n as u64;
                hasher.update(&buf[..n]);
            }
            Ok((hex::encode(hasher.finalize()), size))
        }
    }
}

/// Object path of a landed export.
pub fn raw_path(source: &str, sha256: &str, name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("raw/{source}/{sha256}/{safe}")
}

/// Lands a delivery at its raw path, unless it is there already. Fails when the bytes
/// changed since they were fingerprinted (a file still being written).
pub async fn land(wh: &Warehouse, source: &str, d: &Delivery, sha256: &str) -> Result<String> {
    let path = raw_path(source, sha256, &d.name);
    let object = ObjectPath::from(path.as_str());
    // Nothing is written to a store whose commits would not be safe.
    wh.verify_create_only().await?;
    if wh.exists(&object).await? {
        return Ok(path);
    }
    match &d.content {
        Content::Bytes(b) => {
            wh.put(&path, b.clone()).await?;
        }
        Content::File(file_path) => {
            let io = |e| Error::Io {
                context: format!("landing {}", file_path.display()),
                source: e,
            };
            let mut file = tokio::fs::File::open(file_path).await.map_err(io)?;
            let mut writer = object_store::buffered::BufWriter::new(wh.store(), object.clone());
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let n = file.read(&mut buf).await.map_err(io)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
                writer.write_all(&buf[..n]).await.map_err(io)?;
            }
            if hex::encode(hasher.finalize()) != sha256 {
                writer.abort().await.ok();
                return Err(Error::Unreadable {
                    source_name: source.to_string(),
                    file: d.name.clone(),
                    line: None,
                    message: "the file changed while it was being read; it will be picked up on a later run".into(),
                });
            }
            writer.shutdown().await.map_err(io)?;
        }
    }
    Ok(path)
}

/// A blocking reader over a landed object, for the normaliser's thread: the file itself in
/// a local warehouse, the store's stream elsewhere.
pub async fn open_landed(wh: &Warehouse, path: &str) -> Result<Box<dyn Read + Send>> {
    let object = ObjectPath::from(path);
    let got =
        wh.store()
            .get(&object)
            .await
            .map_err(|source| tilannekuva_warehouse::Error::Store {
                path: path.to_string(),
                source,
            })?;
    // A warehouse in a local folder hands over the file itself: read it directly rather
    // than as a stream of small chunks, each read on the runtime's blocking pool and
    // passed back across threads.
    if let object_store::GetResultPayload::File(file, _) = got.payload {
        return Ok(Box::new(file));
    }
    let stream = got.into_stream().map_err(std::io::Error::other);
    let reader = tokio_util::io::StreamReader::new(stream);
    Ok(Box::new(tokio_util::io::SyncIoBridge::new(reader)))
}
