//! The libcni result cache (`libcni/api.go` `cachedInfo`), byte-compatible
//! in shape so that cnitool/containerd and `cnm` read each other's files:
//! `<cacheDir>/results/<net>-<containerID>-<ifName>`, dirs 0700, file 0600.
//! Files are opened with `O_NOFOLLOW`: a symlink in place of an entry is
//! never followed (read as missing, never written through).

use std::fs::{DirBuilder, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use cni_protocol::CniResult;
use serde_json::{Map, Value};

use crate::error::CnmError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// The `kind` of libcni's current cache format.
pub const CACHE_KIND: &str = "cniCacheV1";

/// libcni's default cache directory.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/cni";

/// One cached attachment (libcni `cachedInfo`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CacheEntry {
    pub container_id: String,
    /// The network list bytes (base64 in the file).
    pub config: Vec<u8>,
    pub ifname: String,
    pub network_name: String,
    pub netns: String,
    pub cni_args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
    /// The final ADD result JSON, in its own version.
    pub result: Option<Value>,
}

/// `v` with object keys sorted at every level, as Go marshals maps.
pub fn go_sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), go_sorted(&m[k.as_str()])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(go_sorted).collect()),
        other => other.clone(),
    }
}

/// Reads a cache file without following a symlink in its place.
fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Why a cache file's object is not a `cniCacheV1` entry: which field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EntryError(pub String);

impl From<String> for EntryError {
    fn from(s: String) -> Self {
        EntryError(s)
    }
}

impl From<&str> for EntryError {
    fn from(s: &str) -> Self {
        EntryError(s.to_string())
    }
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Result<String, EntryError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!("{key}: expected a string").into()),
    }
}

impl CacheEntry {
    /// The file's JSON: libcni's field order, `omitempty` fields left out
    /// when empty, maps with sorted keys.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), Value::String(CACHE_KIND.into()));
        m.insert(
            "containerId".into(),
            Value::String(self.container_id.clone()),
        );
        m.insert("config".into(), Value::String(BASE64.encode(&self.config)));
        m.insert("ifName".into(), Value::String(self.ifname.clone()));
        m.insert(
            "networkName".into(),
            Value::String(self.network_name.clone()),
        );
        if !self.netns.is_empty() {
            m.insert("netns".into(), Value::String(self.netns.clone()));
        }
        if !self.cni_args.is_empty() {
            let pairs = self
                .cni_args
                .iter()
                .map(|(k, v)| {
                    Value::Array(vec![Value::String(k.clone()), Value::String(v.clone())])
                })
                .collect();
            m.insert("cniArgs".into(), Value::Array(pairs));
        }
        if !self.capability_args.is_empty() {
            m.insert(
                "capabilityArgs".into(),
                go_sorted(&Value::Object(self.capability_args.clone())),
            );
        }
        if let Some(r) = self.result.as_ref().filter(|r| !r.is_null()) {
            m.insert("result".into(), go_sorted(r));
        }
        Value::Object(m)
    }

    /// Reads a `cniCacheV1` object; `Err` says which field is wrong.
    pub fn from_json(v: &Value) -> Result<CacheEntry, EntryError> {
        let obj = v.as_object().ok_or("expected a JSON object")?;
        let kind = string_field(obj, "kind")?;
        if kind != CACHE_KIND {
            return Err(format!("wrong kind {kind:?} (expected {CACHE_KIND:?})").into());
        }
        let config = match obj.get("config") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => BASE64
                .decode(s)
                .map_err(|e| format!("config: invalid base64: {e}"))?,
            Some(_) => return Err("config: expected a base64 string".into()),
        };
        let cni_args = match obj.get("cniArgs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
                    _ => Err(format!("cniArgs[{i}]: expected a [key, value] pair")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("cniArgs: expected an array".into()),
        };
        let capability_args = match obj.get("capabilityArgs") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => return Err("capabilityArgs: expected an object".into()),
        };
        let result = match obj.get("result") {
            None | Some(Value::Null) => None,
            Some(r @ Value::Object(_)) => Some(r.clone()),
            Some(_) => return Err("result: expected an object".into()),
        };
        Ok(CacheEntry {
            container_id: string_field(obj, "containerId")?,
            config,
            ifname: string_field(obj, "ifName")?,
            network_name: string_field(obj, "networkName")?,
            netns: string_field(obj, "netns")?,
            cni_args,
            capability_args,
            result,
        })
    }
}

/// The cache directory tree.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    pub fn new(dir: impl Into<PathBuf>) -> Cache {
        Cache { dir: dir.into() }
    }

    pub fn results_dir(&self) -> PathBuf {
        self.dir.join("results")
    }

    /// `<dir>/results/<net>-<containerID>-<ifName>`.
    pub fn file_path(&self, network: &str, container_id: &str, ifname: &str) -> PathBuf {
        self.results_dir()
            .join(format!("{network}-{container_id}-{ifname}"))
    }

    fn err(path: &Path, msg: impl Into<String>) -> CnmError {
        CnmError::Cache {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }

    /// Writes `entry` (0600, directories 0700) through a temporary file
    /// renamed into place, so a reader never sees half a file.
    pub fn save(&self, entry: &CacheEntry) -> Result<PathBuf, CnmError> {
        if entry.network_name.is_empty() || entry.container_id.is_empty() || entry.ifname.is_empty()
        {
            return Err(Self::err(
                &self.results_dir(),
                "a cache entry needs a network name, a container ID and an interface name",
            ));
        }
        let dir = self.results_dir();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Self::err(&dir, format!("cannot create directory: {e}")))?;
        let path = self.file_path(&entry.network_name, &entry.container_id, &entry.ifname);
        let bytes = serde_json::to_vec(&entry.to_json())
            .map_err(|e| Self::err(&path, format!("cannot encode: {e}")))?;
        let tmp = dir.join(format!(
            ".{}.tmp{}",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("entry"),
            std::process::id()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Self::err(&path, format!("cannot write: {e}"))
        })?;
        Ok(path)
    }

    /// The cached entry; `Ok(None)` when the file is missing or unreadable
    /// (as libcni), `Err` when it is not a valid `cniCacheV1` entry.
    pub fn load(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
    ) -> Result<Option<CacheEntry>, CnmError> {
        let path = self.file_path(network, container_id, ifname);
        let Ok(bytes) = read_nofollow(&path) else {
            return Ok(None);
        };
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Self::err(&path, format!("invalid JSON: {e}")))?;
        CacheEntry::from_json(&v)
            .map(Some)
            .map_err(|e| Self::err(&path, e.to_string()))
    }

    /// The cached result converted to `version` (libcni `getCachedResult`):
    /// `Ok(None)` when there is no readable file; a legacy file holding a
    /// bare result is accepted; a corrupt or unconvertible one is `Err`.
    pub fn cached_result(
        &self,
        network: &str,
        container_id: &str,
        ifname: &str,
        version: &str,
    ) -> Result<Option<Value>, CnmError> {
        let path = self.file_path(network, container_id, ifname);
        let Ok(bytes) = read_nofollow(&path) else {
            return Ok(None);
        };
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Self::err(&path, format!("invalid JSON: {e}")))?;
        let raw = match CacheEntry::from_json(&v) {
            Ok(entry) => entry
                .result
                .ok_or_else(|| Self::err(&path, "the entry has no result"))?,
            // Legacy format: the file is the result itself.
            Err(_) => v,
        };
        let result = CniResult::from_json(&raw, version)
            .map_err(|e| Self::err(&path, format!("invalid cached result: {e}")))?;
        result.to_json(version).map(Some).map_err(|e| {
            Self::err(
                &path,
                format!("cannot convert the cached result to version {version}: {e}"),
            )
        })
    }

    /// Removes the entry; a missing file is not an error.
    pub fn remove(&self, network: &str, container_id: &str, ifname: &str) -> Result<(), CnmError> {
        let path = self.file_path(network, container_id, ifname);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::err(&path, format!("cannot remove: {e}"))),
        }
    }

    /// Every valid `cniCacheV1` entry with an interface and network name,
    /// sorted by file name (libcni `GetCachedAttachments("")`); unreadable
    /// or foreign files are skipped.
    pub fn attachments(&self) -> Vec<CacheEntry> {
        let Ok(entries) = std::fs::read_dir(self.results_dir()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        files
            .iter()
            .filter_map(|f| read_nofollow(f).ok())
            .filter_map(|b| serde_json::from_slice::<Value>(&b).ok())
            .filter_map(|v| CacheEntry::from_json(&v).ok())
            .filter(|e| !e.ifname.is_empty() && !e.network_name.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni_protocol::testutil::TempDir;
    use serde_json::json;
    use std::os::unix::fs::PermissionsExt;

    fn entry() -> CacheEntry {
        CacheEntry {
            container_id: "cnitool-0123456789abcdef0123".into(),
            config: br#"{"cniVersion":"1.0.0","name":"net1","plugins":[{"type":"bridge"}]}"#.to_vec(),
            ifname: "eth0".into(),
            network_name: "net1".into(),
            netns: "/run/netns/c1".into(),
            cni_args: vec![("K8S_POD_NAME".into(), "web".into()), ("IgnoreUnknown".into(), "1".into())],
            capability_args: json!({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"mac":"c2:11:22:33:44:55"})
                .as_object()
                .unwrap()
                .clone(),
            result: Some(json!({"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],
                "ips":[{"address":"10.22.0.2/16","gateway":"10.22.0.1","interface":0}],"dns":{}})),
        }
    }

    /// The exact bytes libcni (Go `json.Marshal(&cachedInfo)`) writes for this entry.
    const GOLDEN: &str = concat!(
        r#"{"kind":"cniCacheV1","containerId":"cnitool-0123456789abcdef0123","#,
        r#""config":"eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoibmV0MSIsInBsdWdpbnMiOlt7InR5cGUiOiJicmlkZ2UifV19","#,
        r#""ifName":"eth0","networkName":"net1","netns":"/run/netns/c1","#,
        r#""cniArgs":[["K8S_POD_NAME","web"],["IgnoreUnknown","1"]],"#,
        r#""capabilityArgs":{"mac":"c2:11:22:33:44:55","portMappings":[{"containerPort":80,"hostPort":8080,"protocol":"tcp"}]},"#,
        r#""result":{"cniVersion":"1.0.0","dns":{},"interfaces":[{"name":"eth0","sandbox":"/run/netns/c1"}],"#,
        r#""ips":[{"address":"10.22.0.2/16","gateway":"10.22.0.1","interface":0}]}}"#
    );

    #[test]
    fn golden_shape_and_round_trip() {
        let t = TempDir::new();
        let cache = Cache::new(t.path().join("cni"));
        let path = cache.save(&entry()).unwrap();
        assert_eq!(
            path,
            t.path()
                .join("cni/results/net1-cnitool-0123456789abcdef0123-eth0")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), GOLDEN);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&t.path().join("cni/results")), 0o700);
        assert_eq!(mode(&t.path().join("cni")), 0o700);
        let back = cache
            .load("net1", "cnitool-0123456789abcdef0123", "eth0")
            .unwrap()
            .unwrap();
        let mut want = entry();
        want.result = want.result.map(|r| go_sorted(&r));
        assert_eq!(back, want);
        assert_eq!(cache.attachments(), vec![back]);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(cache.results_dir()).unwrap().count(), 1);
    }

    #[test]
    fn omitempty_fields() {
        let mut e = entry();
        e.netns.clear();
        e.cni_args.clear();
        e.capability_args.clear();
        e.result = None;
        let v = e.to_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["kind", "containerId", "config", "ifName", "networkName"]
        );
    }

    #[test]
    fn cached_result_conversion_legacy_and_corrupt() {
        let t = TempDir::new();
        let cache = Cache::new(t.path());
        assert_eq!(
            cache.cached_result("net1", "c", "eth0", "1.0.0").unwrap(),
            None
        );
        let mut e = entry();
        e.container_id = "c".into();
        cache.save(&e).unwrap();
        let r = cache
            .cached_result("net1", "c", "eth0", "0.4.0")
            .unwrap()
            .unwrap();
        assert_eq!(r["cniVersion"], "0.4.0");
        assert_eq!(
            r["ips"][0]["version"], "4",
            "converted to the list's version"
        );

        // A legacy file: the bare result.
        let path = cache.file_path("net1", "c", "eth0");
        std::fs::write(
            &path,
            r#"{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.0.0.2/24"}]}"#,
        )
        .unwrap();
        let r = cache
            .cached_result("net1", "c", "eth0", "1.0.0")
            .unwrap()
            .unwrap();
        assert_eq!(r["cniVersion"], "1.0.0");
        assert_eq!(r["ips"][0]["address"], "10.0.0.2/24");

        std::fs::write(&path, "{corrupt").unwrap();
        let e = cache
            .cached_result("net1", "c", "eth0", "1.0.0")
            .unwrap_err();
        assert!(e.to_string().contains(&path.display().to_string()), "{e}");
        assert!(cache.load("net1", "c", "eth0").is_err());
        assert!(cache.attachments().is_empty(), "corrupt files are skipped");

        cache.remove("net1", "c", "eth0").unwrap();
        assert!(!path.exists());
        cache.remove("net1", "c", "eth0").unwrap();
    }

    #[test]
    fn reads_a_file_written_by_libcni() {
        // As cnitool writes it: Go escapes '<' '>' '&', no netns/args.
        let t = TempDir::new();
        let cache = Cache::new(t.path());
        std::fs::create_dir_all(cache.results_dir()).unwrap();
        std::fs::write(
            cache.file_path("mynet", "cnitool-77383ca0a0715733ca60", "eth0"),
            r#"{"kind":"cniCacheV1","containerId":"cnitool-77383ca0a0715733ca60","config":"eyJhIjoiXHUwMDNjIn0=","ifName":"eth0","networkName":"mynet","result":{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.3/24","gateway":"10.1.0.1"}]}}"#,
        )
        .unwrap();
        let all = cache.attachments();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].config, br#"{"a":"\u003c"}"#);
        assert_eq!(all[0].netns, "");
        let r = cache
            .cached_result("mynet", "cnitool-77383ca0a0715733ca60", "eth0", "1.0.0")
            .unwrap()
            .unwrap();
        assert_eq!(r["ips"][0]["gateway"], "10.1.0.1");
    }

    #[test]
    fn symlinked_entries_are_not_followed() {
        let t = TempDir::new();
        let cache = Cache::new(t.path().join("cni"));
        // A valid entry elsewhere, and a symlink to it where an entry goes.
        let elsewhere = Cache::new(t.path().join("elsewhere"));
        let target = elsewhere.save(&entry()).unwrap();
        std::fs::create_dir_all(cache.results_dir()).unwrap();
        let link = cache.file_path("net1", "cnitool-0123456789abcdef0123", "eth0");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(cache
            .load("net1", "cnitool-0123456789abcdef0123", "eth0")
            .unwrap()
            .is_none());
        assert!(cache
            .cached_result("net1", "cnitool-0123456789abcdef0123", "eth0", "1.0.0")
            .unwrap()
            .is_none());
        assert!(cache.attachments().is_empty());
        // Removing the entry removes the link, not its target.
        cache
            .remove("net1", "cnitool-0123456789abcdef0123", "eth0")
            .unwrap();
        assert!(target.exists() && std::fs::symlink_metadata(&link).is_err());
    }

    #[test]
    fn save_requires_identity() {
        let t = TempDir::new();
        let mut e = entry();
        e.ifname.clear();
        assert!(Cache::new(t.path()).save(&e).is_err());
    }
}
