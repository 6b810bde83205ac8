//! One query in, one decision out: an answer's bytes, "forward it", or
//! "drop it". Pure (no I/O), so it is unit-tested and fuzzed
//! (`fuzz/fuzz_targets/dns_packet.rs`) on arbitrary bytes.
//!
//! The wire format is NLnet Labs' `domain` crate (ADR 0015). Rules:
//! - shorter than a header, or a response (QR set): dropped (no answer to
//!   garbage or reflected packets);
//! - an opcode other than QUERY: NOTIMP; not exactly one question, or a
//!   question that does not parse: FORMERR; a class other than IN/ANY:
//!   REFUSED; EDNS version > 0: BADVERS;
//! - A / AAAA / ANY for a name the client sees: the addresses of that family
//!   (none: NOERROR without answer), authoritative, TTL 0 (as dnsmasq's
//!   hosts); other types for such a name: NOERROR without answer;
//! - an unknown name under the client's networks' domain: NXDOMAIN at once;
//! - PTR for an address with a visible name: `name.domain.`; for an address
//!   of a served subnet without one: NXDOMAIN;
//! - everything else: forwarded, unless the network the query arrived on is
//!   internal, or the client is on none of our networks (then REFUSED: no
//!   open resolver on a gateway address);
//! - answers larger than the client takes over UDP (512, or its EDNS size up
//!   to 1232) are sent truncated (TC, no records) so it retries over TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use domain::base::iana::{Class, Opcode, OptRcode, Rcode, Rtype};
use domain::base::message_builder::{AdditionalBuilder, AnswerBuilder, StaticCompressor};
use domain::base::{Message, MessageBuilder, Name, ParsedName, Ttl};
use domain::rdata::{Aaaa, Ptr, A};

use crate::view::{NameLookup, PtrLookup, View};

/// The largest UDP answer we send to an EDNS client (the DNS flag day 2020 value).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// The largest UDP answer to a client without EDNS.
pub const PLAIN_UDP_SIZE: usize = 512;
/// TTL of our answers.
pub const TTL: Ttl = Ttl::ZERO;

/// How the query came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP message.
    Tcp,
}

/// What to do with a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Forward the query as it is; these upstreams (empty: the host's).
    Forward(Vec<SocketAddr>),
    /// Ignore it.
    Drop,
}

type Target = StaticCompressor<Vec<u8>>;

/// The question's name as we compare it: lowercase, labels joined with
/// `.`, no trailing dot; `None` when a label holds a byte no name of ours
/// can hold (such a name is never answered locally, only forwarded).
pub fn plain_name<O: AsRef<[u8]>>(name: &ParsedName<O>) -> Option<String> {
    let mut out = String::new();
    for label in name.iter() {
        if label.is_root() {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        for b in label.as_ref() {
            if b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_' {
                out.push(b.to_ascii_lowercase() as char);
            } else {
                return None;
            }
        }
    }
    Some(out)
}

/// The address of a reverse name (`4.3.2.1.in-addr.arpa`, 32 nibbles +
/// `ip6.arpa`), lowercase without trailing dot.
pub fn reverse_to_ip(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa") {
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() != 4 {
            return None;
        }
        let mut octets = [0u8; 4];
        for (i, p) in parts.iter().rev().enumerate() {
            if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
                return None;
            }
            octets[i] = p.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(octets)));
    }
    if let Some(rest) = name.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = rest.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let mut v: u128 = 0;
        for n in nibbles.iter().rev() {
            if n.len() != 1 {
                return None;
            }
            v = (v << 4) | u128::from(u8::from_str_radix(n, 16).ok()?);
        }
        return Some(IpAddr::V6(Ipv6Addr::from(v)));
    }
    None
}

/// Decides what to do with `packet`, which arrived from `src` at our
/// address `local`.
pub fn handle(
    packet: &[u8],
    src: IpAddr,
    local: IpAddr,
    view: &View,
    transport: Transport,
) -> Action {
    let Ok(msg) = Message::from_octets(packet) else {
        return Action::Drop;
    };
    let header = msg.header();
    if header.qr() {
        return Action::Drop;
    }
    let opt = msg.opt();
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => match &opt {
            Some(o) => usize::from(o.udp_payload_size().clamp(512, EDNS_UDP_SIZE)),
            None => PLAIN_UDP_SIZE,
        },
    };
    let edns = opt.is_some();
    let ra = view.may_forward(local);
    if header.opcode() != Opcode::QUERY {
        return error(&msg, Rcode::NOTIMP, edns, ra);
    }
    if opt.as_ref().is_some_and(|o| o.version() > 0) {
        return badvers(&msg, ra);
    }
    if msg.header_counts().qdcount() != 1 {
        return error(&msg, Rcode::FORMERR, edns, ra);
    }
    let Some(question) = msg.first_question() else {
        return error(&msg, Rcode::FORMERR, edns, ra);
    };
    if question.qclass() != Class::IN && question.qclass() != Class::ANY {
        return error(&msg, Rcode::REFUSED, edns, ra);
    }
    let qtype = question.qtype();
    let nets = view.visible(src, local);
    // Only clients of our networks are served upstream: no open resolver on
    // a gateway address someone else can reach.
    let forward = || {
        if view.may_forward(local) && !nets.is_empty() {
            Action::Forward(view.upstreams_at(local))
        } else {
            error(&msg, Rcode::REFUSED, edns, ra)
        }
    };
    let Some(name) = plain_name(question.qname()) else {
        return forward();
    };
    if qtype == Rtype::PTR {
        if let Some(addr) = reverse_to_ip(&name) {
            return match view.lookup_ptr(&nets, addr) {
                PtrLookup::Found(targets) => {
                    let records: Vec<Name<Vec<u8>>> = targets
                        .iter()
                        .filter_map(|t| Name::<Vec<u8>>::from_str(t).ok())
                        .collect();
                    answer(&msg, Rcode::NOERROR, edns, ra, limit, |ans| {
                        for r in &records {
                            ans.push((question.qname(), Class::IN, TTL, Ptr::new(r.clone())))?;
                        }
                        Ok(())
                    })
                }
                PtrLookup::Unknown => answer(&msg, Rcode::NXDOMAIN, edns, ra, limit, |_| Ok(())),
                PtrLookup::NotOurs => forward(),
            };
        }
    }
    match view.lookup(&nets, &name) {
        NameLookup::Found(addrs) => {
            let want_v4 = qtype == Rtype::A || qtype == Rtype::ANY;
            let want_v6 = qtype == Rtype::AAAA || qtype == Rtype::ANY;
            answer(&msg, Rcode::NOERROR, edns, ra, limit, |ans| {
                for a in &addrs {
                    match a {
                        IpAddr::V4(v4) if want_v4 => {
                            ans.push((question.qname(), Class::IN, TTL, A::new(*v4)))?
                        }
                        IpAddr::V6(v6) if want_v6 => {
                            ans.push((question.qname(), Class::IN, TTL, Aaaa::new(*v6)))?
                        }
                        _ => {}
                    }
                }
                Ok(())
            })
        }
        NameLookup::DomainApex => answer(&msg, Rcode::NOERROR, edns, ra, limit, |_| Ok(())),
        NameLookup::Unknown => answer(&msg, Rcode::NXDOMAIN, edns, ra, limit, |_| Ok(())),
        NameLookup::NotOurs => forward(),
    }
}

/// A builder on a `Vec` (which always holds a header: no error possible).
fn new_builder(capacity: usize) -> MessageBuilder<Target> {
    let Ok(b) = MessageBuilder::from_target(StaticCompressor::new(Vec::with_capacity(capacity)));
    b
}

/// An authoritative answer: the question, the records `fill` pushes (all
/// of them or, when they do not fit in `limit`, none with TC set), OPT when
/// the query had one.
fn answer(
    msg: &Message<&[u8]>,
    rcode: Rcode,
    edns: bool,
    ra: bool,
    limit: usize,
    fill: impl FnOnce(
        &mut AnswerBuilder<Target>,
    ) -> Result<(), domain::base::message_builder::PushError>,
) -> Action {
    let mut builder = new_builder(512);
    // Room for the OPT record (11 bytes) is kept back while answers go in.
    builder.set_push_limit(if edns {
        limit.saturating_sub(11)
    } else {
        limit
    });
    let mut ans = match builder.start_answer(msg, rcode) {
        Ok(a) => a,
        Err(_) => return error(msg, Rcode::FORMERR, edns, ra),
    };
    ans.header_mut().set_aa(true);
    ans.header_mut().set_ra(ra);
    if fill(&mut ans).is_err() {
        ans = ans.tc_rewind_into();
    }
    ans.as_builder_mut().set_push_limit(limit);
    finish(ans.additional(), edns, None)
}

fn finish(mut add: AdditionalBuilder<Target>, edns: bool, rcode: Option<OptRcode>) -> Action {
    if edns {
        let pushed = add.opt(|o| {
            o.set_udp_payload_size(EDNS_UDP_SIZE);
            if let Some(r) = rcode {
                o.set_rcode(r);
            }
            Ok(())
        });
        if pushed.is_err() {
            return Action::Drop;
        }
    }
    Action::Reply(add.finish().into_target())
}

/// An error answer (no records), with the question when it parses.
pub fn error(msg: &Message<&[u8]>, rcode: Rcode, edns: bool, ra: bool) -> Action {
    let mut builder = new_builder(128);
    builder.set_push_limit(PLAIN_UDP_SIZE);
    let mut ans = builder.start_error(msg, rcode);
    ans.header_mut().set_ra(ra);
    // A question section that did not fit or parse is left out.
    if ans.header().rcode() == Rcode::SERVFAIL && rcode != Rcode::SERVFAIL {
        let mut b = ans.builder();
        let h = b.header_mut();
        h.set_id(msg.header().id());
        h.set_qr(true);
        h.set_opcode(msg.header().opcode());
        h.set_rd(msg.header().rd());
        h.set_rcode(rcode);
        return finish(b.additional(), edns, None);
    }
    finish(ans.additional(), edns, None)
}

fn badvers(msg: &Message<&[u8]>, ra: bool) -> Action {
    let mut ans = new_builder(128).start_error(msg, Rcode::NOERROR);
    ans.header_mut().set_ra(ra);
    let add = ans.rewind_into().additional();
    finish(add, true, Some(OptRcode::BADVERS))
}

/// SERVFAIL for a query (forwarding failed); `None` when it does not parse.
pub fn servfail(packet: &[u8], ra: bool) -> Option<Vec<u8>> {
    let msg = Message::from_octets(packet).ok()?;
    match error(&msg, Rcode::SERVFAIL, msg.opt().is_some(), ra) {
        Action::Reply(b) => Some(b),
        _ => None,
    }
}

/// Is `reply` an upstream's answer to `query` (ID, QR, same question)?
pub fn is_reply_to(query: &[u8], reply: &[u8]) -> bool {
    match (Message::from_octets(query), Message::from_octets(reply)) {
        (Ok(q), Ok(r)) => r.is_answer(&q),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
