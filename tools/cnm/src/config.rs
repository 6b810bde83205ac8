//! Network configuration loading as libcni does it (`libcni/conf.go`):
//! `*.conflist` files sorted by name and matched by `name`, plugin fragments
//! from `<dir>/<name>/*.conf`, then the deprecated single-plugin
//! `*.conf`/`*.json` files converted to a list of one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cni_protocol::select_version;
use serde_json::{Map, Value};

use crate::error::CnmError;

/// One plugin object of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConf {
    /// The plugin object as written, keys in their original order.
    pub raw: Map<String, Value>,
    /// `type`: the binary looked up in CNI_PATH.
    pub plugin_type: String,
    /// `capabilities`: which capability args the plugin accepts.
    pub capabilities: BTreeMap<String, bool>,
}

/// A loaded network configuration list.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkList {
    pub name: String,
    /// The version selected from `cniVersion` ∪ `cniVersions`.
    pub cni_version: String,
    pub disable_check: bool,
    pub disable_gc: bool,
    pub load_only_inlined_plugins: bool,
    pub plugins: Vec<PluginConf>,
    /// The list bytes, cached base64-encoded after ADD (the file as read for
    /// a `.conflist`, the generated list for a single `.conf`).
    pub bytes: Vec<u8>,
    /// The file the list came from.
    pub source: PathBuf,
}

use cni_protocol::json_kind as kind;

fn config_err(path: &Path, msg: impl Into<String>) -> CnmError {
    CnmError::Config {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

fn parse_object(bytes: &[u8], path: &Path) -> Result<Map<String, Value>, CnmError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(config_err(
            path,
            format!("expected a JSON object, got {}", kind(&other)),
        )),
        Err(e) => Err(config_err(path, format!("invalid JSON: {e}"))),
    }
}

/// A boolean that libcni also accepts as the strings "true"/"false".
fn read_bool(raw: &Map<String, Value>, key: &str, path: &Path) -> Result<bool, CnmError> {
    match raw.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(config_err(
                path,
                format!("{key}: invalid value {s:?} (expected true or false)"),
            )),
        },
        Some(other) => Err(config_err(
            path,
            format!("{key}: expected a boolean, got {}", kind(other)),
        )),
    }
}

fn optional_string(
    raw: &Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<Option<String>, CnmError> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(config_err(
            path,
            format!("{key}: expected a string, got {}", kind(other)),
        )),
    }
}

impl PluginConf {
    /// A plugin object: `type` is required, `capabilities` must map names
    /// to booleans. `what` names it in errors (`plugins[1]`).
    pub fn from_value(value: &Value, what: &str, path: &Path) -> Result<PluginConf, CnmError> {
        let raw = match value {
            Value::Object(m) => m.clone(),
            other => {
                return Err(config_err(
                    path,
                    format!("{what}: expected an object, got {}", kind(other)),
                ))
            }
        };
        let plugin_type = optional_string(&raw, "type", path)
            .map_err(|e| config_err(path, format!("{what}.{}", strip_path(&e))))?
            .unwrap_or_default();
        if plugin_type.is_empty() {
            return Err(config_err(path, format!("{what}: missing 'type'")));
        }
        let capabilities = match raw.get("capabilities") {
            None | Some(Value::Null) => BTreeMap::new(),
            Some(Value::Object(caps)) => caps
                .iter()
                .map(|(k, v)| match v {
                    Value::Bool(b) => Ok((k.clone(), *b)),
                    other => Err(config_err(
                        path,
                        format!(
                            "{what}.capabilities.{k}: expected a boolean, got {}",
                            kind(other)
                        ),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(config_err(
                    path,
                    format!(
                        "{what}.capabilities: expected an object, got {}",
                        kind(other)
                    ),
                ))
            }
        };
        Ok(PluginConf {
            raw,
            plugin_type,
            capabilities,
        })
    }
}

/// The message of a `Config` error without its path (for re-prefixing).
fn strip_path(e: &CnmError) -> String {
    match e {
        CnmError::Config { msg, .. } => msg.clone(),
        other => other.to_string(),
    }
}

impl NetworkList {
    /// Parses a `.conflist` (libcni `NetworkConfFromBytes`). Plugin
    /// fragments are not read here (see [`load_network`]).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<NetworkList, CnmError> {
        let raw = parse_object(bytes, path)?;
        let name = match raw.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(config_err(
                    path,
                    format!("name: expected a string, got {}", kind(other)),
                ))
            }
            None => return Err(config_err(path, "no name")),
        };
        let declared = optional_string(&raw, "cniVersion", path)?.unwrap_or_default();
        let versions: Vec<String> = match raw.get("cniVersions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(config_err(
                        path,
                        format!("cniVersions[{i}]: expected a string, got {}", kind(other)),
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(config_err(
                    path,
                    format!("cniVersions: expected an array, got {}", kind(other)),
                ))
            }
        };
        let cni_version =
            select_version(&declared, &versions).map_err(|e| config_err(path, e.to_string()))?;
        let disable_check = read_bool(&raw, "disableCheck", path)?;
        let disable_gc = read_bool(&raw, "disableGC", path)?;
        let load_only_inlined_plugins = read_bool(&raw, "loadOnlyInlinedPlugins", path)?;
        let plugins = match raw.get("plugins") {
            None if load_only_inlined_plugins => {
                return Err(config_err(
                    path,
                    "loadOnlyInlinedPlugins is true, and there is no 'plugins' key",
                ))
            }
            None => Vec::new(),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(config_err(path, "no plugins in list"))
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| PluginConf::from_value(v, &format!("plugins[{i}]"), path))
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(config_err(
                    path,
                    format!("plugins: expected an array, got {}", kind(other)),
                ))
            }
        };
        Ok(NetworkList {
            name,
            cni_version,
            disable_check,
            disable_gc,
            load_only_inlined_plugins,
            plugins,
            bytes: bytes.to_vec(),
            source: path.to_path_buf(),
        })
    }

    /// Converts a single-plugin `.conf`/`.json` into a list of one
    /// (libcni `ConfListFromConf`): `{"cniVersion","name","plugins":[conf]}`.
    pub fn from_single_conf(bytes: &[u8], path: &Path) -> Result<NetworkList, CnmError> {
        let raw = parse_object(bytes, path)?;
        PluginConf::from_value(&Value::Object(raw.clone()), "plugin", path)?;
        let name = optional_string(&raw, "name", path)?.unwrap_or_default();
        let version = optional_string(&raw, "cniVersion", path)?.unwrap_or_default();
        let mut list = Map::new();
        list.insert("cniVersion".into(), Value::String(version));
        list.insert("name".into(), Value::String(name));
        list.insert("plugins".into(), Value::Array(vec![Value::Object(raw)]));
        let list_bytes = serde_json::to_vec(&list)
            .map_err(|e| config_err(path, format!("cannot encode the converted list: {e}")))?;
        NetworkList::from_bytes(&list_bytes, path)
    }

    /// Whether the selected version is at least `min`.
    pub fn version_at_least(&self, min: &str) -> bool {
        cni_protocol::version_at_least(&self.cni_version, min)
    }
}

/// The regular files of `dir` whose extension is one of `exts`, sorted.
/// A missing directory has no files.
pub fn conf_files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>, CnmError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(config_err(dir, format!("cannot list directory: {e}"))),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| config_err(dir, format!("cannot list directory: {e}")))?;
        let path = entry.path();
        if path.is_dir() {
            continue;
        }
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if exts.contains(&ext) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read(path: &Path) -> Result<Vec<u8>, CnmError> {
    std::fs::read(path).map_err(|e| config_err(path, format!("cannot read: {e}")))
}

/// `<dir>/<name>/*.conf` plugin fragments, appended to a list unless it
/// sets `loadOnlyInlinedPlugins`.
fn fragments(dir: &Path, name: &str) -> Result<Vec<PluginConf>, CnmError> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Ok(Vec::new());
    }
    conf_files(&dir.join(name), &["conf"])?
        .iter()
        .map(|file| {
            let bytes = read(file)?;
            let raw = parse_object(&bytes, file)?;
            PluginConf::from_value(&Value::Object(raw), "plugin", file)
        })
        .collect()
}

/// Finds network `name` in `dir` as libcni's `LoadNetworkConf` does. A file
/// that fails to parse before the match aborts the search (as in libcni)
/// with its name and the parse error.
pub fn load_network(dir: &Path, name: &str) -> Result<NetworkList, CnmError> {
    let mut found = Vec::new();
    for file in conf_files(dir, &["conflist"])? {
        let mut list = NetworkList::from_bytes(&read(&file)?, &file)?;
        if list.name == name {
            if !list.load_only_inlined_plugins {
                list.plugins.extend(fragments(dir, name)?);
            }
            if list.plugins.is_empty() {
                return Err(config_err(&file, "no plugin configs found"));
            }
            return Ok(list);
        }
        found.push((list.name, file));
    }
    for file in conf_files(dir, &["conf", "json"])? {
        let list = NetworkList::from_single_conf(&read(&file)?, &file)?;
        if list.name == name {
            return Ok(list);
        }
        found.push((list.name, file));
    }
    Err(CnmError::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        found,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni_protocol::testutil::TempDir;
    use serde_json::json;

    fn write(dir: &Path, name: &str, v: &Value) {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    #[test]
    fn conflist_sorted_match_and_bytes_kept() {
        let t = TempDir::new();
        let a = json!({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"first"}]});
        let b = json!({"cniVersion":"1.0.0","name":"net","plugins":[{"type":"second"}]});
        write(t.path(), "20-b.conflist", &b);
        write(t.path(), "10-a.conflist", &a);
        let l = load_network(t.path(), "net").unwrap();
        assert_eq!(l.plugins[0].plugin_type, "first", "sorted by file name");
        assert_eq!(l.source, t.path().join("10-a.conflist"));
        assert_eq!(
            l.bytes,
            std::fs::read(t.path().join("10-a.conflist")).unwrap()
        );
        assert_eq!(l.cni_version, "1.0.0");
        assert!(!l.disable_check && !l.disable_gc);
    }

    #[test]
    fn version_selection_and_flags() {
        let p = Path::new("x.conflist");
        let l = NetworkList::from_bytes(
            json!({"cniVersion":"1.0.0","cniVersions":["0.4.0","1.1.0","9.0.0"],"name":"n",
                   "disableCheck":"TRUE","disableGC":true,"plugins":[{"type":"a"}]})
            .to_string()
            .as_bytes(),
            p,
        )
        .unwrap();
        assert_eq!(l.cni_version, "1.1.0");
        assert!(l.disable_check && l.disable_gc);
        assert!(l.version_at_least("1.1.0"));
        let e = NetworkList::from_bytes(
            br#"{"cniVersion":"1.0.0","name":"n","disableCheck":"maybe","plugins":[{"type":"a"}]}"#,
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("disableCheck"), "{e}");
        let e = NetworkList::from_bytes(
            br#"{"cniVersion":"7.0.0","name":"n","plugins":[{"type":"a"}]}"#,
            p,
        )
        .unwrap_err();
        assert!(e.to_string().contains("7.0.0"), "{e}");
    }

    #[test]
    fn plugin_errors() {
        let p = Path::new("/d/x.conflist");
        let cases = [
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[]}),
                "no plugins in list",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":{}}),
                "plugins: expected an array",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[{"type":""}]}),
                "plugins[0]: missing 'type'",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[{"type":"a"},{"x":1}]}),
                "plugins[1]: missing 'type'",
            ),
            (
                json!({"name":"n","cniVersion":"1.0.0","plugins":[{"type":"a","capabilities":{"ips":"yes"}}]}),
                "capabilities.ips",
            ),
            (
                json!({"cniVersion":"1.0.0","plugins":[{"type":"a"}]}),
                "no name",
            ),
            (
                json!({"name":"n","loadOnlyInlinedPlugins":true}),
                "loadOnlyInlinedPlugins",
            ),
        ];
        for (v, want) in cases {
            let e = NetworkList::from_bytes(v.to_string().as_bytes(), p).unwrap_err();
            let s = e.to_string();
            assert!(s.starts_with("/d/x.conflist: ") && s.contains(want), "{s}");
        }
    }

    #[test]
    fn bad_file_reports_name_and_serde_error() {
        let t = TempDir::new();
        std::fs::write(t.path().join("10-bad.conflist"), "{\"name\": \"x\",").unwrap();
        let e = load_network(t.path(), "net").unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("10-bad.conflist") && s.contains("invalid JSON") && s.contains("line"),
            "{s}"
        );
    }

    #[test]
    fn single_conf_is_converted() {
        let t = TempDir::new();
        write(
            t.path(),
            "10-other.conflist",
            &json!({"cniVersion":"1.0.0","name":"other","plugins":[{"type":"x"}]}),
        );
        let conf = json!({"cniVersion":"0.4.0","name":"single","type":"bridge","capabilities":{"mac":true},"bridge":"br9"});
        write(t.path(), "50-single.conf", &conf);
        let l = load_network(t.path(), "single").unwrap();
        assert_eq!(l.cni_version, "0.4.0");
        assert_eq!(l.plugins.len(), 1);
        assert_eq!(l.plugins[0].plugin_type, "bridge");
        assert_eq!(l.plugins[0].capabilities.get("mac"), Some(&true));
        let bytes: Value = serde_json::from_slice(&l.bytes).unwrap();
        assert_eq!(
            bytes,
            json!({"cniVersion":"0.4.0","name":"single","plugins":[conf]})
        );
        // .json files too; a conf without type is an error naming the file.
        write(
            t.path(),
            "60-j.json",
            &json!({"cniVersion":"1.0.0","name":"j","type":"ptp"}),
        );
        assert_eq!(
            load_network(t.path(), "j").unwrap().plugins[0].plugin_type,
            "ptp"
        );
        write(
            t.path(),
            "70-notype.conf",
            &json!({"cniVersion":"1.0.0","name":"k"}),
        );
        let e = load_network(t.path(), "k").unwrap_err();
        assert!(
            e.to_string().contains("70-notype.conf") && e.to_string().contains("missing 'type'")
        );
    }

    #[test]
    fn not_found_lists_what_exists() {
        let t = TempDir::new();
        write(
            t.path(),
            "10-a.conflist",
            &json!({"cniVersion":"1.0.0","name":"a","plugins":[{"type":"x"}]}),
        );
        write(
            t.path(),
            "20-b.conf",
            &json!({"cniVersion":"1.0.0","name":"b","type":"x"}),
        );
        std::fs::write(t.path().join("README"), "not a config").unwrap();
        let e = load_network(t.path(), "zzz").unwrap_err();
        match &e {
            CnmError::NotFound { found, .. } => {
                let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
                assert_eq!(names, ["a", "b"]);
            }
            other => panic!("unexpected {other}"),
        }
        let s = e.to_string();
        assert!(
            s.contains("\"zzz\"") && s.contains("10-a.conflist") && s.contains("20-b.conf"),
            "{s}"
        );
        let e = load_network(&t.path().join("missing-dir"), "a").unwrap_err();
        assert!(e.to_string().contains("no configurations"), "{e}");
    }

    #[test]
    fn fragments_appended_unless_inlined_only() {
        let t = TempDir::new();
        write(
            t.path(),
            "10-n.conflist",
            &json!({"cniVersion":"1.0.0","name":"n","plugins":[{"type":"a"}]}),
        );
        write(
            t.path(),
            "20-m.conflist",
            &json!({"cniVersion":"1.0.0","name":"m","loadOnlyInlinedPlugins":true,"plugins":[{"type":"a"}]}),
        );
        write(
            t.path(),
            "30-o.conflist",
            &json!({"cniVersion":"1.0.0","name":"o"}),
        );
        for net in ["n", "m", "o"] {
            std::fs::create_dir(t.path().join(net)).unwrap();
            write(&t.path().join(net), "1.conf", &json!({"type":"frag"}));
        }
        let types = |net: &str| -> Vec<String> {
            load_network(t.path(), net)
                .unwrap()
                .plugins
                .into_iter()
                .map(|p| p.plugin_type)
                .collect()
        };
        assert_eq!(types("n"), ["a", "frag"]);
        assert_eq!(types("m"), ["a"]);
        assert_eq!(types("o"), ["frag"]);
        std::fs::remove_file(t.path().join("o/1.conf")).unwrap();
        let e = load_network(t.path(), "o").unwrap_err();
        assert!(e.to_string().contains("no plugin configs found"), "{e}");
    }
}
