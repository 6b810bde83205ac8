//! The content of a reservation file: `<containerID>\r\n<ifname>`, or the legacy `<containerID>`.

/// Separator between the container ID and the interface name (reference `LineBreak`).
pub const LINE_BREAK: &str = "\r\n";

/// Who holds a reservation, as read from its file (whitespace-trimmed like the reference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Current format: container ID and interface name.
    Attachment {
        container_id: String,
        ifname: String,
    },
    /// Files written before ifnames were recorded: the container ID only.
    Legacy { container_id: String },
}

/// How a reservation relates to a `(containerID, ifname)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Same container ID and interface name.
    Exact,
    /// A legacy file naming the same container ID.
    Legacy,
    /// Someone else's.
    No,
}

impl Owner {
    /// Parses file content; `None` for an empty file or one that is not UTF-8.
    pub fn parse(content: &[u8]) -> Option<Owner> {
        let text = std::str::from_utf8(content).ok()?.trim();
        if text.is_empty() {
            return None;
        }
        Some(match text.split_once(LINE_BREAK) {
            Some((id, ifname)) => Owner::Attachment {
                container_id: id.to_string(),
                ifname: ifname.to_string(),
            },
            None => Owner::Legacy {
                container_id: text.to_string(),
            },
        })
    }

    /// The bytes written for a new reservation (no trailing newline).
    pub fn encode(container_id: &str, ifname: &str) -> String {
        format!("{}{LINE_BREAK}{ifname}", container_id.trim())
    }

    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub fn container_id(&self) -> &str {
        match self {
            Owner::Attachment { container_id, .. } | Owner::Legacy { container_id } => container_id,
        }
    }

    /// Compares with `(container_id, ifname)` like the reference's trimmed string match.
    pub fn matches(&self, container_id: &str, ifname: &str) -> Match {
        let id = container_id.trim();
        match self {
            Owner::Attachment {
                container_id: c,
                ifname: i,
            } if c == id && i == ifname => Match::Exact,
            Owner::Legacy { container_id: c } if c == id => Match::Legacy,
            _ => Match::No,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let o = Owner::parse(b"abc\r\neth0").unwrap();
        assert_eq!(o.matches("abc", "eth0"), Match::Exact);
        assert_eq!(o.matches("abc", "eth1"), Match::No);
        let l = Owner::parse(b"abc\n").unwrap();
        assert_eq!(
            l,
            Owner::Legacy {
                container_id: "abc".into()
            }
        );
        assert_eq!(l.matches("abc", "eth0"), Match::Legacy);
        assert_eq!(l.matches("abd", "eth0"), Match::No);
        assert_eq!(Owner::parse(b"  \n"), None);
        assert_eq!(Owner::encode("abc", "eth0"), "abc\r\neth0");
    }
}
