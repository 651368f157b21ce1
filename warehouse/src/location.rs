//! Where a warehouse lives, and opening the object store behind it.
//!
//! A warehouse is a folder on local disk (the embedded default) or a prefix in a bucket:
//! `s3://bucket/prefix` (AWS S3 and S3-compatible stores such as MinIO) or
//! `az://container/prefix` (Azure Blob Storage). Credentials never come from the config:
//! each cloud's own environment variables and provider chains supply them (for S3
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, web identity, instance metadata; for Azure
//! `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY`, a SAS, a service principal
//! or a managed identity), as the `object_store` crate reads them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;
use serde::Deserialize;
use url::Url;

use crate::{Error, Result};

/// The URL schemes a warehouse may live at, besides a local folder.
pub const SUPPORTED_SCHEMES: &str = "s3:// (AWS S3 or an S3-compatible store), az:// (Azure Blob)";

/// A warehouse's location: a local folder or an object store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A folder on local disk.
    Folder(PathBuf),
    /// A bucket (or container) and an optional prefix in it.
    Url(Url),
}

impl Location {
    /// Reads a location as a person writes it: `s3://…`, `az://…` (also `azure://…`),
    /// `file:///…`, or a plain path.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(Self::Folder(PathBuf::from(text)));
        };
        let invalid = |reason: String| Error::Location {
            location: text.to_string(),
            reason,
        };
        let url = Url::parse(text).map_err(|e| invalid(format!("not a URL: {e}")))?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => url
                .to_file_path()
                .map(Self::Folder)
                .map_err(|()| invalid("not a local path".into())),
            "s3" | "az" | "azure" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(invalid(format!(
                        "names no {}",
                        if scheme == "s3" {
                            "bucket"
                        } else {
                            "container"
                        }
                    )));
                }
                if url.query().is_some() || !url.username().is_empty() {
                    // Said without what stood before the host: it may be a secret.
                    let shown =
                        format!("{scheme}://{}{}", url.host_str().unwrap_or(""), url.path());
                    return Err(Error::Location {
                        location: shown,
                        reason:
                            "credentials and options do not belong in the URL: set them in the \
                         environment (see docs/storage.md)"
                                .into(),
                    });
                }
                Ok(Self::Url(url))
            }
            other => Err(invalid(format!(
                "unknown scheme {other}://; a warehouse lives in a local folder or at {SUPPORTED_SCHEMES}"
            ))),
        }
    }

    /// Whether this is a local folder.
    pub fn is_local(&self) -> bool {
        matches!(self, Self::Folder(_))
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Folder(p) => write!(f, "{}", p.display()),
            Self::Url(u) => write!(f, "{}", u.as_str().trim_end_matches('/')),
        }
    }
}

/// How to reach an object store, besides its URL: the settings of `[warehouse]` that are not
/// secrets. Each may also come from the cloud's own environment variables (`AWS_ENDPOINT`,
/// `AWS_ALLOW_HTTP`, `AWS_REGION`, `AZURE_STORAGE_ENDPOINT`...); the config wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    /// Endpoint of an S3-compatible store (MinIO, a hosting partner's) or of an Azure
    /// account not at `https://<account>.blob.core.windows.net`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Allow plain `http://` endpoints (a store on a private network or a test server).
    #[serde(default)]
    pub allow_http: bool,
    /// The S3 region (`eu-north-1`...).
    #[serde(default)]
    pub region: Option<String>,
}

/// An opened store: what the warehouse reads and writes through (rooted at the warehouse),
/// and what DataFusion reads Parquet through (the whole bucket, addressed by URL).
pub(crate) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    pub bucket: Arc<dyn ObjectStore>,
    /// URL DataFusion registers `bucket` under: `file://`, `s3://bucket`, `az://container`.
    pub bucket_url: Url,
    /// URL of the warehouse root, without a trailing slash; object URLs start with it.
    pub root_url: String,
    /// The location, a folder made canonical.
    pub location: Location,
}

pub(crate) fn open(location: &Location, settings: &StoreSettings) -> Result<Opened> {
    match location {
        Location::Folder(root) => open_folder(root),
        Location::Url(url) => open_url(location, url, settings),
    }
}

fn open_folder(root: &Path) -> Result<Opened> {
    std::fs::create_dir_all(root).map_err(|source| Error::Io {
        context: format!("creating warehouse folder {}", root.display()),
        source,
    })?;
    let root = root.canonicalize().map_err(|source| Error::Io {
        context: format!("resolving warehouse folder {}", root.display()),
        source,
    })?;
    let store = LocalFileSystem::new_with_prefix(&root).map_err(|source| Error::Location {
        location: root.display().to_string(),
        reason: source.to_string(),
    })?;
    let root_url = Url::from_directory_path(&root)
        .map_err(|()| Error::Location {
            location: root.display().to_string(),
            reason: "not an absolute path".into(),
        })?
        .as_str()
        .trim_end_matches('/')
        .to_string();
    Ok(Opened {
        store: Arc::new(store),
        bucket: Arc::new(LocalFileSystem::new()),
        bucket_url: Url::parse("file://").expect("static url"),
        root_url,
        location: Location::Folder(root),
    })
}

fn open_url(location: &Location, url: &Url, settings: &StoreSettings) -> Result<Opened> {
    let failed = |e: object_store::Error| Error::Location {
        location: location.to_string(),
        reason: e.to_string(),
    };
    let host = url.host_str().unwrap_or_default();
    let bucket: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" => {
            let mut b = AmazonS3Builder::from_env().with_bucket_name(host);
            if let Some(endpoint) = &settings.endpoint {
                b = b.with_endpoint(endpoint);
            }
            if settings.allow_http {
                b = b.with_allow_http(true);
            }
            if let Some(region) = &settings.region {
                b = b.with_region(region);
            }
            Arc::new(b.build().map_err(failed)?)
        }
        _ => {
            let mut b = MicrosoftAzureBuilder::from_env().with_container_name(host);
            if let Some(endpoint) = &settings.endpoint {
                b = b.with_endpoint(endpoint.clone());
            }
            if settings.allow_http {
                b = b.with_allow_http(true);
            }
            Arc::new(b.build().map_err(failed)?)
        }
    };
    // `azure://` is read as `az://`: one name for DataFusion's registry.
    let scheme = if url.scheme() == "s3" { "s3" } else { "az" };
    let bucket_url = Url::parse(&format!("{scheme}://{host}")).map_err(|e| Error::Location {
        location: location.to_string(),
        reason: e.to_string(),
    })?;
    let prefix = url.path().trim_matches('/');
    let (store, root_url): (Arc<dyn ObjectStore>, String) = if prefix.is_empty() {
        (bucket.clone(), format!("{scheme}://{host}"))
    } else {
        (
            Arc::new(PrefixStore::new(bucket.clone(), prefix)),
            format!("{scheme}://{host}/{prefix}"),
        )
    };
    Ok(Opened {
        store,
        bucket,
        bucket_url,
        root_url,
        location: location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_as_written() {
        assert_eq!(
            Location::parse("var/warehouse").unwrap(),
            Location::Folder("var/warehouse".into())
        );
        assert_eq!(
            Location::parse("file:///srv/warehouse").unwrap(),
            Location::Folder("/srv/warehouse".into())
        );
        let s3 = Location::parse("s3://county-data/tilannekuva/").unwrap();
        assert!(!s3.is_local());
        assert_eq!(s3.to_string(), "s3://county-data/tilannekuva");
        let err = Location::parse("gs://bucket").unwrap_err().to_string();
        assert!(err.contains("unknown scheme gs://"), "{err}");
        let err = Location::parse("s3://key:secret@bucket")
            .unwrap_err()
            .to_string();
        assert!(err.contains("credentials"), "{err}");
        assert!(
            !err.contains("secret@"),
            "the secret is not repeated: {err}"
        );
        let err = Location::parse("s3:///prefix").unwrap_err().to_string();
        assert!(err.contains("names no bucket"), "{err}");
    }

    #[test]
    fn object_urls_start_at_the_prefix() {
        let opened = open(
            &Location::parse("s3://county-data/tk/").unwrap(),
            &StoreSettings {
                endpoint: Some("http://127.0.0.1:9".into()),
                allow_http: true,
                region: Some("eu-north-1".into()),
            },
        )
        .unwrap();
        assert_eq!(opened.root_url, "s3://county-data/tk");
        assert_eq!(opened.bucket_url.as_str(), "s3://county-data");
    }
}
