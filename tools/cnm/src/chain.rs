//! Plugin chains as libcni runs them (`libcni/api.go`): the per-plugin
//! request config, ADD in order with `prevResult`, CHECK in order and DEL
//! in reverse with the cached result, GC and STATUS for 1.1.0 lists.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cni_protocol::{
    validate_container_id, validate_ifname, validate_network_name, Attachment, CniError, CniResult,
    Command,
};
use serde_json::{Map, Value};

use crate::cache::{Cache, CacheEntry};
use crate::config::{NetworkList, PluginConf};
use crate::error::CnmError;
use crate::exec::{exec_plugin, parse_add_result, RuntimeConf};

/// `runtimeConfig` for `plugin`: the capability args whose capability the
/// plugin sets to `true` (libcni `injectRuntimeConfig`).
pub fn runtime_config(
    plugin: &PluginConf,
    capability_args: &Map<String, Value>,
) -> Map<String, Value> {
    capability_args
        .iter()
        .filter(|(cap, _)| plugin.capabilities.get(cap.as_str()) == Some(&true))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The request config of one plugin call (spec §3, libcni `buildOneConfig`):
/// the plugin object with `name` and `cniVersion` of the list, `prevResult`
/// when given, and `runtimeConfig` when non-empty. Other keys pass through
/// unchanged, in their order.
pub fn plugin_request(
    list: &NetworkList,
    plugin: &PluginConf,
    prev_result: Option<&Value>,
    rt: Option<&RuntimeConf>,
) -> Map<String, Value> {
    let mut conf = plugin.raw.clone();
    conf.insert("name".into(), Value::String(list.name.clone()));
    conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.clone());
    }
    if let Some(rt) = rt {
        let rc = runtime_config(plugin, &rt.capability_args);
        if !rc.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(rc));
        }
    }
    conf
}

/// A container ID and interface name that are safe to use (and to put in
/// a cache file name).
fn validate_attachment(container_id: &str, ifname: &str) -> Result<(), CniError> {
    validate_container_id(container_id)?;
    validate_ifname(ifname)
}

fn to_bytes(conf: &Map<String, Value>) -> Vec<u8> {
    // Serializing a map of JSON values cannot fail.
    serde_json::to_vec(conf).unwrap_or_default()
}

/// The libcni-like runtime: where plugins and the result cache live.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub path: Vec<PathBuf>,
    pub cache: Cache,
}

impl Runtime {
    pub fn new(path: Vec<PathBuf>, cache_dir: &Path) -> Runtime {
        Runtime {
            path,
            cache: Cache::new(cache_dir),
        }
    }

    fn call(
        &self,
        list: &NetworkList,
        plugin: &PluginConf,
        command: Command,
        verb: &'static str,
        conf: &Map<String, Value>,
        rt: Option<&RuntimeConf>,
    ) -> Result<Vec<u8>, CnmError> {
        exec_plugin(
            &plugin.plugin_type,
            command,
            &to_bytes(conf),
            rt,
            &self.path,
        )
        .map_err(|source| CnmError::Plugin {
            plugin: plugin.plugin_type.clone(),
            network: list.name.clone(),
            verb,
            source,
        })
    }

    fn invalid(list: &NetworkList, source: CniError) -> CnmError {
        CnmError::Invalid {
            network: list.name.clone(),
            source,
        }
    }

    /// The network name, container ID and interface name are valid: they
    /// name the cache file, so nothing may be read, run or removed before.
    fn validate(list: &NetworkList, rt: &RuntimeConf) -> Result<(), CnmError> {
        validate_network_name(&list.name).map_err(|e| Self::invalid(list, e))?;
        validate_attachment(&rt.container_id, &rt.ifname).map_err(|e| Self::invalid(list, e))
    }

    /// ADD: every plugin in order, each getting the previous result; the
    /// final result is cached only when the whole chain succeeded.
    pub fn add(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<CniResult, CnmError> {
        Self::validate(list, rt)?;
        let mut prev: Option<(CniResult, Value)> = None;
        for plugin in &list.plugins {
            let conf = plugin_request(list, plugin, prev.as_ref().map(|(_, v)| v), Some(rt));
            let stdout = self.call(list, plugin, Command::Add, "add", &conf, Some(rt))?;
            let plugin_err = |source: CniError| CnmError::Plugin {
                plugin: plugin.plugin_type.clone(),
                network: list.name.clone(),
                verb: "add",
                source,
            };
            let result = parse_add_result(&stdout, &list.cni_version).map_err(plugin_err)?;
            let json = result.to_json(&result.cni_version).map_err(plugin_err)?;
            prev = Some((result, json));
        }
        let Some((result, json)) = prev else {
            return Err(Self::invalid(
                list,
                CniError::invalid_config(
                    "the network has no plugins",
                    list.source.display().to_string(),
                ),
            ));
        };
        self.cache.save(&CacheEntry {
            container_id: rt.container_id.clone(),
            config: list.bytes.clone(),
            ifname: rt.ifname.clone(),
            network_name: list.name.clone(),
            netns: rt.netns.clone(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: Some(json),
        })?;
        Ok(result)
    }

    /// CHECK: not for lists older than 0.4.0 (error), nothing when
    /// `disableCheck`; every plugin in order with the cached result.
    pub fn check(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), CnmError> {
        Self::validate(list, rt)?;
        if !list.version_at_least("0.4.0") {
            return Err(Self::invalid(
                list,
                CniError::incompatible_version(
                    format!(
                        "configuration version {:?} does not support the CHECK command",
                        list.cni_version
                    ),
                    "CHECK needs cniVersion 0.4.0 or later",
                ),
            ));
        }
        if list.disable_check {
            return Ok(());
        }
        let prev = self.cache.cached_result(
            &list.name,
            &rt.container_id,
            &rt.ifname,
            &list.cni_version,
        )?;
        for plugin in &list.plugins {
            let conf = plugin_request(list, plugin, prev.as_ref(), Some(rt));
            self.call(list, plugin, Command::Check, "check", &conf, Some(rt))?;
        }
        Ok(())
    }

    /// DEL: every plugin in reverse order with the cached result (lists
    /// 0.4.0+). A missing cache means no `prevResult`; a corrupt one is
    /// deleted and DEL goes on without it. The cache is removed once every
    /// plugin succeeded, and kept on failure so DEL can be retried.
    pub fn del(&self, list: &NetworkList, rt: &RuntimeConf) -> Result<(), CnmError> {
        Self::validate(list, rt)?;
        let prev = if list.version_at_least("0.4.0") {
            match self.cache.cached_result(
                &list.name,
                &rt.container_id,
                &rt.ifname,
                &list.cni_version,
            ) {
                Ok(prev) => prev,
                Err(_) => {
                    let _ = self.cache.remove(&list.name, &rt.container_id, &rt.ifname);
                    None
                }
            }
        } else {
            None
        };
        for plugin in list.plugins.iter().rev() {
            let conf = plugin_request(list, plugin, prev.as_ref(), Some(rt));
            self.call(list, plugin, Command::Del, "delete", &conf, Some(rt))?;
        }
        self.cache.remove(&list.name, &rt.container_id, &rt.ifname)
    }

    /// GC (libcni `GCNetworkList`): nothing when `disableGC`; a full DEL for
    /// each cached attachment of this network not in `valid`; then, for
    /// 1.1.0+ lists, GC on every plugin with `cni.dev/valid-attachments`
    /// (and the older `cni.dev/attachments`) when `valid` is given. Goes on
    /// after errors and returns them all. A cache entry with an invalid
    /// container ID or interface name is left alone and reported.
    pub fn gc(&self, list: &NetworkList, valid: Option<&[Attachment]>) -> Result<(), CnmError> {
        if list.disable_gc {
            return Ok(());
        }
        validate_network_name(&list.name).map_err(|e| Self::invalid(list, e))?;
        let keep: HashSet<&Attachment> = valid.unwrap_or_default().iter().collect();
        let mut errors = Vec::new();
        for entry in self.cache.attachments() {
            if entry.network_name != list.name {
                continue;
            }
            let id = Attachment {
                container_id: entry.container_id.clone(),
                ifname: entry.ifname.clone(),
            };
            if keep.contains(&id) {
                continue;
            }
            if let Err(source) = validate_attachment(&entry.container_id, &entry.ifname) {
                errors.push(CnmError::SkippedCacheEntry {
                    network: list.name.clone(),
                    container_id: entry.container_id,
                    ifname: entry.ifname,
                    source: Box::new(source),
                });
                continue;
            }
            let rt = RuntimeConf {
                container_id: entry.container_id,
                netns: entry.netns,
                ifname: entry.ifname,
                args: entry.cni_args,
                capability_args: entry.capability_args,
            };
            if let Err(e) = self.del(list, &rt) {
                errors.push(CnmError::StaleDel {
                    container_id: rt.container_id,
                    ifname: rt.ifname,
                    source: Box::new(e),
                });
            }
        }
        if list.version_at_least("1.1.0") {
            let attachments =
                valid.map(|v| serde_json::to_value(v).unwrap_or(Value::Array(Vec::new())));
            for plugin in &list.plugins {
                let mut conf = plugin_request(list, plugin, None, None);
                if let Some(a) = &attachments {
                    conf.insert("cni.dev/valid-attachments".into(), a.clone());
                    conf.insert("cni.dev/attachments".into(), a.clone());
                }
                if let Err(e) = self.call(list, plugin, Command::Gc, "gc", &conf, None) {
                    errors.push(e);
                }
            }
        }
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(CnmError::Multiple(errors)),
        }
    }

    /// The attachments of `list` in the cache whose netns still exists:
    /// what the CLI treats as valid for GC.
    pub fn live_attachments(&self, list: &NetworkList) -> Vec<Attachment> {
        self.cache
            .attachments()
            .into_iter()
            .filter(|e| e.network_name == list.name)
            .filter(|e| !e.netns.is_empty() && Path::new(&e.netns).exists())
            .map(|e| Attachment {
                container_id: e.container_id,
                ifname: e.ifname,
            })
            .collect()
    }

    /// STATUS: a no-op before 1.1.0; otherwise every plugin in order, the
    /// first error returned.
    pub fn status(&self, list: &NetworkList) -> Result<(), CnmError> {
        if !list.version_at_least("1.1.0") {
            return Ok(());
        }
        for plugin in &list.plugins {
            let conf = plugin_request(list, plugin, None, None);
            self.call(list, plugin, Command::Status, "status", &conf, None)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cni_protocol::testutil::TempDir;
    use serde_json::json;

    /// A fake plugin: logs `<name> <COMMAND> <stdin>` per call; ADD prints
    /// a result whose address depends on the plugin; `fail` errors.
    fn fake(t: &TempDir, name: &str, octet: u8) {
        let log = t.path().join("log");
        t.script(
            name,
            &format!(
                r#"#!/bin/sh
in=$(cat)
printf '%s %s %s\n' "{name}" "$CNI_COMMAND" "$in" >> {log}
if [ "{name}" = fail ]; then
  printf '%s' '{{"cniVersion":"1.0.0","code":11,"msg":"try later","details":"busy"}}'
  exit 1
fi
case "$CNI_COMMAND" in
  ADD) printf '%s' '{{"cniVersion":"1.0.0","interfaces":[{{"name":"eth0"}}],"ips":[{{"address":"10.0.0.{octet}/24","interface":0}}]}}' ;;
esac
"#,
                log = log.display()
            ),
        );
    }

    /// Every logged call: (plugin, command, request config).
    fn calls(t: &TempDir) -> Vec<(String, String, Value)> {
        let text = std::fs::read_to_string(t.path().join("log")).unwrap_or_default();
        std::fs::remove_file(t.path().join("log")).ok();
        text.lines()
            .map(|l| {
                let mut parts = l.splitn(3, ' ');
                let p = parts.next().unwrap().to_string();
                let c = parts.next().unwrap().to_string();
                let v = serde_json::from_str(parts.next().unwrap()).unwrap();
                (p, c, v)
            })
            .collect()
    }

    fn list(version: &str, plugins: Value, extra: Value) -> NetworkList {
        let mut v = json!({"cniVersion": version, "name": "testnet", "plugins": plugins});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        NetworkList::from_bytes(v.to_string().as_bytes(), Path::new("/t/10-test.conflist")).unwrap()
    }

    fn rt() -> RuntimeConf {
        RuntimeConf {
            container_id: "ctr1".into(),
            netns: "/nonexistent/netns".into(),
            ifname: "eth0".into(),
            args: vec![("IgnoreUnknown".into(), "1".into())],
            capability_args: json!({"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp"}],"mac":"c2:11:22:33:44:55","ips":["10.0.0.9/24"]})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    #[test]
    fn runtime_config_is_capabilities_intersection() {
        let l = list(
            "1.0.0",
            json!([{"type":"a","capabilities":{"portMappings":true,"mac":false,"bandwidth":true}},{"type":"b"}]),
            json!({}),
        );
        let rc = runtime_config(&l.plugins[0], &rt().capability_args);
        assert_eq!(
            Value::Object(rc),
            json!({"portMappings":[{"hostPort":80,"containerPort":8080,"protocol":"tcp"}]})
        );
        let req = plugin_request(&l, &l.plugins[1], None, Some(&rt()));
        assert!(
            !req.contains_key("runtimeConfig"),
            "empty runtimeConfig is not inserted"
        );
        assert_eq!(req["name"], "testnet");
        assert_eq!(req["cniVersion"], "1.0.0");
        let req = plugin_request(
            &l,
            &l.plugins[0],
            Some(&json!({"cniVersion":"1.0.0"})),
            Some(&rt()),
        );
        assert_eq!(req["prevResult"], json!({"cniVersion":"1.0.0"}));
        assert!(
            req.contains_key("capabilities"),
            "libcni leaves capabilities in place"
        );
        assert!(req.contains_key("runtimeConfig"));
        let req = plugin_request(&l, &l.plugins[0], None, None);
        assert!(!req.contains_key("runtimeConfig") && !req.contains_key("prevResult"));
    }

    #[test]
    fn add_check_del_chain() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        fake(&t, "p2", 3);
        let r = Runtime::new(vec![t.path().to_path_buf()], &t.path().join("cache"));
        let l = list(
            "1.0.0",
            json!([{"type":"p1","custom":{"k":1}},{"type":"p2","capabilities":{"mac":true}}]),
            json!({}),
        );
        let res = r.add(&l, &rt()).unwrap();
        assert_eq!(
            res.ips[0].address.to_string(),
            "10.0.0.3/24",
            "the last plugin's result"
        );
        let c = calls(&t);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].0.as_str(), c[0].1.as_str()), ("p1", "ADD"));
        assert_eq!(
            c[0].2,
            json!({"type":"p1","custom":{"k":1},"name":"testnet","cniVersion":"1.0.0"})
        );
        assert_eq!(c[1].2["prevResult"]["ips"][0]["address"], "10.0.0.2/24");
        assert_eq!(c[1].2["runtimeConfig"], json!({"mac":"c2:11:22:33:44:55"}));

        let cached = r.cache.load("testnet", "ctr1", "eth0").unwrap().unwrap();
        assert_eq!(cached.config, l.bytes);
        assert_eq!(cached.netns, "/nonexistent/netns");
        assert_eq!(cached.cni_args, rt().args);
        assert_eq!(cached.result.unwrap()["ips"][0]["address"], "10.0.0.3/24");

        r.check(&l, &rt()).unwrap();
        let c = calls(&t);
        assert_eq!(
            c.iter()
                .map(|x| (x.0.as_str(), x.1.as_str()))
                .collect::<Vec<_>>(),
            [("p1", "CHECK"), ("p2", "CHECK")]
        );
        assert!(c
            .iter()
            .all(|x| x.2["prevResult"]["ips"][0]["address"] == "10.0.0.3/24"));

        r.del(&l, &rt()).unwrap();
        let c = calls(&t);
        assert_eq!(
            c.iter()
                .map(|x| (x.0.as_str(), x.1.as_str()))
                .collect::<Vec<_>>(),
            [("p2", "DEL"), ("p1", "DEL")]
        );
        assert!(c
            .iter()
            .all(|x| x.2["prevResult"]["ips"][0]["address"] == "10.0.0.3/24"));
        assert!(
            r.cache.load("testnet", "ctr1", "eth0").unwrap().is_none(),
            "cache removed"
        );

        // DEL again: no cache, no prevResult, still succeeds.
        r.del(&l, &rt()).unwrap();
        assert!(calls(&t).iter().all(|x| x.2.get("prevResult").is_none()));
    }

    #[test]
    fn failures_keep_error_and_cache_rules() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        fake(&t, "fail", 0);
        let r = Runtime::new(vec![t.path().to_path_buf()], &t.path().join("cache"));
        let l = list("1.0.0", json!([{"type":"p1"},{"type":"fail"}]), json!({}));
        let e = r.add(&l, &rt()).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("type=\"fail\"")
                && s.contains("(add)")
                && s.contains("try later: busy")
                && s.contains("code 11"),
            "{s}"
        );
        assert!(
            r.cache.load("testnet", "ctr1", "eth0").unwrap().is_none(),
            "no cache after a failed ADD"
        );

        // A failed DEL keeps the cache for a retry.
        let ok = list("1.0.0", json!([{"type":"p1"}]), json!({}));
        r.add(&ok, &rt()).unwrap();
        let e = r.del(&l, &rt()).unwrap_err();
        assert!(e.to_string().contains("(delete)"), "{e}");
        assert!(r.cache.load("testnet", "ctr1", "eth0").unwrap().is_some());

        // A corrupt cache is deleted and DEL proceeds without prevResult.
        std::fs::write(r.cache.file_path("testnet", "ctr1", "eth0"), "{garbage").unwrap();
        calls(&t);
        r.del(&ok, &rt()).unwrap();
        assert!(calls(&t)[0].2.get("prevResult").is_none());
        assert!(!r.cache.file_path("testnet", "ctr1", "eth0").exists());

        // Missing binary: named with the CNI_PATH dirs.
        let l = list("1.0.0", json!([{"type":"absent"}]), json!({}));
        let s = r.add(&l, &rt()).unwrap_err().to_string();
        assert!(
            s.contains("absent") && s.contains(&t.path().display().to_string()),
            "{s}"
        );

        // Invalid attachment parameters are refused before any exec.
        let mut bad = rt();
        bad.ifname = "a/b".into();
        assert!(matches!(r.add(&ok, &bad), Err(CnmError::Invalid { .. })));
        assert!(calls(&t).is_empty());
    }

    #[test]
    fn check_and_del_refuse_invalid_attachments_before_touching_files() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        let cache_dir = t.path().join("cache");
        let r = Runtime::new(vec![t.path().to_path_buf()], &cache_dir);
        let l = list("1.0.0", json!([{"type":"p1"}]), json!({}));
        // `<cache>/results/testnet-x/../../victim-eth0` is `<cache>/victim-eth0`:
        // a corrupt file there would be removed by DEL's error branch.
        std::fs::create_dir_all(cache_dir.join("results/testnet-x")).unwrap();
        let victim = cache_dir.join("victim-eth0");
        std::fs::write(&victim, "{not a cache entry").unwrap();
        let mut bad = rt();
        bad.container_id = "x/../../victim".into();
        let e = r.del(&l, &bad).unwrap_err();
        assert!(
            matches!(&e, CnmError::Invalid { source, .. } if source.msg.contains("containerID")),
            "{e}"
        );
        assert!(
            victim.exists(),
            "DEL must not remove a file outside the cache"
        );
        let e = r.check(&l, &bad).unwrap_err();
        assert!(matches!(e, CnmError::Invalid { .. }), "{e}");
        let mut bad_if = rt();
        bad_if.ifname = "../x".into();
        for e in [
            r.del(&l, &bad_if).unwrap_err(),
            r.check(&l, &bad_if).unwrap_err(),
        ] {
            assert!(
                matches!(&e, CnmError::Invalid { source, .. } if source.msg.contains("interface name")),
                "{e}"
            );
        }
        let bad_net = NetworkList {
            name: "a/b".into(),
            ..l.clone()
        };
        assert!(matches!(
            r.del(&bad_net, &rt()),
            Err(CnmError::Invalid { .. })
        ));
        assert!(matches!(
            r.check(&bad_net, &rt()),
            Err(CnmError::Invalid { .. })
        ));
        assert!(matches!(
            r.gc(&bad_net, None),
            Err(CnmError::Invalid { .. })
        ));
        assert!(calls(&t).is_empty(), "no plugin ran");
    }

    #[test]
    fn gc_skips_invalid_cache_entries() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        let r = Runtime::new(vec![t.path().to_path_buf()], &t.path().join("cache"));
        let l = list("1.1.0", json!([{"type":"p1"}]), json!({}));
        // Stale (netns gone) entries: one valid, one with a bad container ID,
        // one with a bad interface name, as a foreign or tampered cache holds.
        r.add(&l, &rt()).unwrap();
        let mut files = Vec::new();
        for (n, (cid, ifname)) in [("../../escape", "eth0"), ("ctr2", "a/b")]
            .iter()
            .enumerate()
        {
            let e = CacheEntry {
                container_id: cid.to_string(),
                config: l.bytes.clone(),
                ifname: ifname.to_string(),
                network_name: "testnet".into(),
                netns: "/nonexistent/netns".into(),
                ..Default::default()
            };
            let f = r.cache.results_dir().join(format!("bogus{n}"));
            std::fs::write(&f, e.to_json().to_string()).unwrap();
            files.push(f);
        }
        calls(&t);
        let e = r.gc(&l, Some(&[])).unwrap_err();
        let CnmError::Multiple(errs) = &e else {
            panic!("two warnings expected: {e}")
        };
        assert_eq!(errs.len(), 2, "{e}");
        assert!(errs
            .iter()
            .all(|x| matches!(x, CnmError::SkippedCacheEntry { .. })));
        let s = e.to_string();
        assert!(s.contains("../../escape") && s.contains("a/b"), "{s}");
        let c = calls(&t);
        let seq: Vec<(&str, &str)> = c.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
        assert_eq!(
            seq,
            [("p1", "DEL"), ("p1", "GC")],
            "only the valid entry is deleted"
        );
        assert!(
            files.iter().all(|f| f.exists()),
            "invalid entries are untouched"
        );
        assert!(r.cache.load("testnet", "ctr1", "eth0").unwrap().is_none());
    }

    #[test]
    fn check_version_and_disable() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        let r = Runtime::new(vec![t.path().to_path_buf()], &t.path().join("cache"));
        let old = list("0.3.1", json!([{"type":"p1"}]), json!({}));
        let e = r.check(&old, &rt()).unwrap_err();
        assert!(
            e.to_string().contains("does not support the CHECK command"),
            "{e}"
        );
        let off = list(
            "1.0.0",
            json!([{"type":"p1"}]),
            json!({"disableCheck": true}),
        );
        r.check(&off, &rt()).unwrap();
        assert!(calls(&t).is_empty());
        // Pre-0.4.0 DEL does not read the cache.
        r.add(&old, &rt()).unwrap();
        calls(&t);
        r.del(&old, &rt()).unwrap();
        assert!(calls(&t)[0].2.get("prevResult").is_none());
    }

    #[test]
    fn gc_and_status() {
        let t = TempDir::new();
        fake(&t, "p1", 2);
        fake(&t, "p2", 3);
        let r = Runtime::new(vec![t.path().to_path_buf()], &t.path().join("cache"));
        let l = list("1.1.0", json!([{"type":"p1"},{"type":"p2"}]), json!({}));
        let live_ns = t.path().join("live-ns");
        std::fs::write(&live_ns, "").unwrap();
        let mut live = rt();
        live.container_id = "live".into();
        live.netns = live_ns.display().to_string();
        let mut stale = rt();
        stale.container_id = "stale".into();
        r.add(&l, &live).unwrap();
        r.add(&l, &stale).unwrap();
        // Another network's attachment is never touched.
        let other = NetworkList {
            name: "other".into(),
            ..l.clone()
        };
        r.add(&other, &stale).unwrap();
        calls(&t);

        let valid = r.live_attachments(&l);
        assert_eq!(
            valid,
            [Attachment {
                container_id: "live".into(),
                ifname: "eth0".into()
            }]
        );
        r.gc(&l, Some(&valid)).unwrap();
        let c = calls(&t);
        let seq: Vec<(&str, &str)> = c.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
        assert_eq!(
            seq,
            [("p2", "DEL"), ("p1", "DEL"), ("p1", "GC"), ("p2", "GC")]
        );
        assert_eq!(c[0].2["prevResult"]["ips"][0]["address"], "10.0.0.3/24");
        let want = json!([{"containerID":"live","ifname":"eth0"}]);
        assert_eq!(c[2].2["cni.dev/valid-attachments"], want);
        assert_eq!(c[2].2["cni.dev/attachments"], want);
        assert_eq!(c[2].2["name"], "testnet");
        assert!(r.cache.load("testnet", "stale", "eth0").unwrap().is_none());
        assert!(r.cache.load("testnet", "live", "eth0").unwrap().is_some());
        assert!(r.cache.load("other", "stale", "eth0").unwrap().is_some());

        // 1.0.0 lists: the stale DELs only; disableGC: nothing at all.
        let l100 = NetworkList {
            cni_version: "1.0.0".into(),
            ..l.clone()
        };
        r.gc(&l100, Some(&[])).unwrap();
        let seq: Vec<String> = calls(&t).into_iter().map(|x| x.1).collect();
        assert_eq!(seq, ["DEL", "DEL"]);
        let off = NetworkList {
            disable_gc: true,
            ..l.clone()
        };
        r.gc(&off, None).unwrap();
        assert!(calls(&t).is_empty());

        r.status(&l).unwrap();
        let seq: Vec<(String, String)> = calls(&t).into_iter().map(|x| (x.0, x.1)).collect();
        assert_eq!(
            seq,
            [
                ("p1".to_string(), "STATUS".to_string()),
                ("p2".into(), "STATUS".into())
            ]
        );
        r.status(&l100).unwrap();
        assert!(calls(&t).is_empty(), "STATUS is a no-op before 1.1.0");

        // GC continues after errors and reports them all; STATUS stops at the first.
        fake(&t, "fail", 0);
        r.cache.remove("testnet", "live", "eth0").unwrap();
        let bad = list(
            "1.1.0",
            json!([{"type":"fail"},{"type":"p1"},{"type":"fail"}]),
            json!({}),
        );
        let e = r.gc(&bad, None).unwrap_err();
        assert!(matches!(&e, CnmError::Multiple(v) if v.len() == 2), "{e}");
        assert_eq!(calls(&t).len(), 3);
        let e = r.status(&bad).unwrap_err();
        assert!(e.to_string().contains("(status)"), "{e}");
        assert_eq!(calls(&t).len(), 1);
    }
}
