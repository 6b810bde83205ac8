//! resolv.conf parsing into the endpoint's DNS settings (reference
//! `parseResolvConf`).

use std::path::Path;

use cnm_model::DnsSettings as Dns;

use crate::error::IpamError;

/// Parses `nameserver`, `domain`, `search` and `options` lines; `#`/`;` comments
/// and lines with fewer than two fields are skipped.
pub fn parse_resolv_conf_str(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let rest = fields[1..].iter().map(|s| s.to_string());
        match fields[0] {
            "nameserver" => dns.nameservers.push(fields[1].to_string()),
            "domain" => dns.domain = Some(fields[1].to_string()),
            "search" => dns.search.extend(rest),
            "options" => dns.options.extend(rest),
            _ => {}
        }
    }
    dns
}

/// Reads and parses the file named by `ipam.resolvConf`.
pub fn parse_resolv_conf(path: &Path) -> Result<Dns, IpamError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        IpamError::Config(format!(
            "ipam.resolvConf: cannot read {}: {e}",
            path.display()
        ))
    })?;
    Ok(parse_resolv_conf_str(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_keys() {
        let d = parse_resolv_conf_str(
            "# c\n; c\nnameserver 10.0.0.1\nnameserver 10.0.0.2\ndomain example.com\nsearch a.com b.com\noptions ndots:5 rotate\nbogus\n",
        );
        assert_eq!(d.nameservers, ["10.0.0.1", "10.0.0.2"]);
        assert_eq!(d.domain.as_deref(), Some("example.com"));
        assert_eq!(d.search, ["a.com", "b.com"]);
        assert_eq!(d.options, ["ndots:5", "rotate"]);
        let e = parse_resolv_conf(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert!(e.to_string().contains("ipam.resolvConf"));
    }
}
