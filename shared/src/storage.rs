//! Where call recordings live: one object store that the workers write to and the control
//! plane reads from, named by a URL, and the key layout both sides agree on.
//!
//! A store URL is a local folder (`data/recordings`, `/var/lib/outbound/recordings` or
//! `file:///var/lib/outbound/recordings`) or an S3-compatible bucket with an optional
//! prefix (`s3://bucket/prefix`). S3 settings come from object_store's standard
//! environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...) so credentials never sit in a config file, and
//! may be overridden by `options` (`aws_endpoint`, `aws_region`, ...).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;
use uuid::Uuid;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported store URL scheme in {0:?} (use a folder, file:// or s3://)")]
    UnsupportedScheme(String),
    #[error("the store URL {0:?} names no bucket")]
    MissingBucket(String),
    #[error("creating the recordings folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("unknown store option {0:?}")]
    UnknownOption(String),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// Opens the store `url` names. A local folder is created if missing; this is blocking
/// file-system work, meant for start-up.
pub fn open(
    url: &str,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, StoreError> {
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::MissingBucket(url.to_string()));
        }
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (key, value) in options {
            let key = AmazonS3ConfigKey::from_str(key)
                .map_err(|_| StoreError::UnknownOption(key.clone()))?;
            builder = builder.with_config(key, value);
        }
        let s3 = builder.build()?;
        let prefix = prefix.trim_matches('/');
        return Ok(if prefix.is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix))
        });
    }
    let folder = match url.strip_prefix("file://") {
        Some(path) => path,
        None if url.contains("://") => return Err(StoreError::UnsupportedScheme(url.to_string())),
        None => url,
    };
    std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
        path: folder.to_string(),
        source,
    })?;
    Ok(Arc::new(LocalFileSystem::new_with_prefix(folder)?))
}

/// The key of a call's recording: `recordings/{org_id}/{call_id}.wav`.
pub fn recording_key(org: Uuid, call: Uuid) -> Path {
    Path::from(format!("recordings/{org}/{call}.wav"))
}

/// The key a stored `location` names, if it is a key of `org`'s recordings. The control
/// plane serves only these, so a wrong location reported for one organization's call can
/// never expose another organization's audio.
pub fn org_recording(location: &str, org: Uuid) -> Option<Path> {
    let path = Path::parse(location).ok()?;
    let prefix = Path::from(format!("recordings/{org}"));
    path.prefix_match(&prefix)?.next()?;
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::PutPayload;

    #[test]
    fn a_recording_key_belongs_to_its_organization_only() {
        let (org, call) = (Uuid::new_v4(), Uuid::new_v4());
        let key = recording_key(org, call);
        assert_eq!(key.as_ref(), format!("recordings/{org}/{call}.wav"));
        assert_eq!(org_recording(key.as_ref(), org), Some(key.clone()));
        assert_eq!(org_recording(key.as_ref(), Uuid::new_v4()), None);
        assert_eq!(org_recording(&format!("recordings/{org}"), org), None);
        assert_eq!(org_recording("../etc/passwd", org), None);
    }

    #[test]
    fn unknown_schemes_and_options_are_refused() {
        let none = BTreeMap::new();
        assert!(matches!(
            open("ftp://host/x", &none),
            Err(StoreError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            open("s3:///prefix", &none),
            Err(StoreError::MissingBucket(_))
        ));
        let options = BTreeMap::from([("no_such_option".to_string(), "1".to_string())]);
        assert!(matches!(
            open("s3://bucket", &options),
            Err(StoreError::UnknownOption(_))
        ));
    }

    #[tokio::test]
    async fn a_local_folder_is_created_and_holds_what_is_put() {
        let folder = std::env::temp_dir().join(format!("store-test-{}", Uuid::new_v4()));
        let url = format!("file://{}", folder.display());
        let store = open(&url, &BTreeMap::new()).unwrap();
        let key = recording_key(Uuid::new_v4(), Uuid::new_v4());
        store
            .put(&key, PutPayload::from_static(b"RIFF"))
            .await
            .unwrap();
        let on_disk = std::fs::read(folder.join(key.as_ref())).unwrap();
        assert_eq!(on_disk, b"RIFF");
        let _ = std::fs::remove_dir_all(folder);
    }
}
