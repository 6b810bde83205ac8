//! Extended ack (NETLINK_EXT_ACK) parsing: pulls the human readable kernel
//! message out of NLMSG_ERROR and NLMSG_DONE payloads.

use netlink_packet_core::{NLM_F_ACK_TLVS, NLM_F_CAPPED};

const NLMSG_HDRLEN: usize = 16;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSGERR_ATTR_MISS_TYPE: u16 = 5;
const NLA_TYPE_MASK: u16 = 0x3fff;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Parse the extended ack of an NLMSG_ERROR message.
///
/// `flags` are the flags of the error message itself; `after_code` is the
/// payload after the 32-bit error code: the echoed request (only its header
/// when NLM_F_CAPPED is set) followed by the TLVs when NLM_F_ACK_TLVS is set.
pub(crate) fn from_error(flags: u16, after_code: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed_len = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len_bytes: [u8; 4] = after_code.get(0..4)?.try_into().ok()?;
        align4(u32::from_ne_bytes(len_bytes) as usize)
    };
    from_tlvs(after_code.get(echoed_len..)?)
}

/// Parse NLMSGERR_ATTR_* TLVs (as found directly in NLMSG_DONE).
pub(crate) fn from_tlvs(mut tlvs: &[u8]) -> Option<String> {
    let mut parts = Vec::new();
    while tlvs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([tlvs[0], tlvs[1]]));
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > tlvs.len() {
            break;
        }
        let value = &tlvs[4..len];
        match kind {
            NLMSGERR_ATTR_MSG => {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                let msg = String::from_utf8_lossy(&value[..end]).trim().to_string();
                if !msg.is_empty() {
                    parts.push(msg);
                }
            }
            NLMSGERR_ATTR_MISS_TYPE if value.len() >= 4 => {
                let t = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]);
                parts.push(format!("missing attribute type {t}"));
            }
            _ => {}
        }
        tlvs = tlvs.get(align4(len)..).unwrap_or(&[]);
    }
    if parts.is_empty() {
        None
    } else {
        Some(parts.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut v = Vec::new();
        v.extend_from_slice(&(len as u16).to_ne_bytes());
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn header(len: u32) -> Vec<u8> {
        let mut h = len.to_ne_bytes().to_vec();
        h.extend_from_slice(&[0u8; 12]);
        h
    }

    #[test]
    fn capped_error_with_message() {
        let mut payload = header(40);
        payload.extend(tlv(NLMSGERR_ATTR_MSG, b"Unknown device type\0"));
        payload.extend(tlv(2, &7u32.to_ne_bytes()));
        let got = from_error(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload);
        assert_eq!(got.as_deref(), Some("Unknown device type"));
    }

    #[test]
    fn uncapped_error_skips_echoed_request() {
        // echoed request of 22 bytes -> padded to 24
        let mut payload = header(22);
        payload.extend_from_slice(&[0xaa; 6]);
        payload.extend_from_slice(&[0, 0]);
        payload.extend(tlv(NLMSGERR_ATTR_MSG, b"bad vid\0"));
        assert_eq!(
            from_error(NLM_F_ACK_TLVS, &payload).as_deref(),
            Some("bad vid")
        );
    }

    #[test]
    fn no_tlv_flag_means_no_message() {
        let mut payload = header(16);
        payload.extend(tlv(NLMSGERR_ATTR_MSG, b"ignored\0"));
        assert_eq!(from_error(NLM_F_CAPPED, &payload), None);
    }

    #[test]
    fn missing_type_and_garbage() {
        let v = tlv(NLMSGERR_ATTR_MISS_TYPE, &3u32.to_ne_bytes());
        assert_eq!(from_tlvs(&v).as_deref(), Some("missing attribute type 3"));
        assert_eq!(from_tlvs(&[0xff, 0xff, 1, 0]), None);
        assert_eq!(from_tlvs(&[]), None);
        assert_eq!(from_error(NLM_F_ACK_TLVS, &[1, 2]), None);
    }
}
