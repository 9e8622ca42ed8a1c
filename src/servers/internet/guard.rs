//! Server-side request forgery protection: which addresses a fetch may
//! reach, checked after DNS resolution and on every redirect.
//!
//! Loopback, private (RFC 1918, `fc00::/7`), carrier-grade NAT, link-local
//! (`169.254.0.0/16`, `fe80::/10`), unspecified, multicast, broadcast,
//! reserved and documentation addresses are refused, and so are cloud
//! metadata endpoints (they live in those ranges: `169.254.169.254`,
//! `fd00:ec2::254`, `100.100.100.200`). IPv4 addresses hidden in IPv6 ones
//! (mapped, translated, well-known NAT64, 6to4) are judged as the IPv4
//! address they carry; IPv4-compatible, local-use NAT64 (`64:ff9b:1::/48`)
//! and Teredo addresses are refused outright. Hosts on the allow-list
//! skip the check.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Hosts (names or IP literals, as written in URLs) whose addresses are not
/// checked, such as a service on the local network the server is meant to
/// reach. Case-insensitive; IPv6 literals without brackets.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    hosts: HashSet<String>,
}

impl AllowList {
    /// An allow-list of these hosts.
    pub fn new<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let hosts = hosts
            .into_iter()
            .map(|h| normalize_host(h.as_ref()))
            .filter(|h| !h.is_empty())
            .collect();
        AllowList { hosts }
    }

    /// Whether `host` (as written in a URL) is allowed without a check.
    pub fn allows(&self, host: &str) -> bool {
        self.hosts.contains(&normalize_host(host))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

fn normalize_host(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Why an address may not be reached, or `None` if it may.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => "a cloud metadata address",
        _ if ip == Ipv4Addr::new(100, 100, 100, 200) => "a cloud metadata address",
        _ if ip.is_unspecified() => "the unspecified address",
        (0, _, _) => "a 'this network' address (0.0.0.0/8)",
        (127, _, _) => "a loopback address",
        (10, _, _) => "a private address (10.0.0.0/8)",
        (172, 16..=31, _) => "a private address (172.16.0.0/12)",
        (192, 168, _) => "a private address (192.168.0.0/16)",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address (100.64.0.0/10)",
        (169, 254, _) => "a link-local address (169.254.0.0/16)",
        (192, 0, 0) => "an IETF protocol address (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address (198.18.0.0/15)",
        (224..=239, _, _) => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (240..=255, _, _) => "a reserved address (240.0.0.0/4)",
        _ => return None,
    })
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("the unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4 inside IPv6 is judged as the IPv4 address it carries: mapped
    // (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d, RFC 2765), NAT64
    // well-known (64:ff9b::a.b.c.d, RFC 6052) and 6to4 (2002:aabb:ccdd::,
    // RFC 3056). A system may hand any of them to the IPv4 stack or a
    // translator that reaches the embedded address.
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if seg[..6] == [0, 0, 0, 0, 0, 0xffff] || seg[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return forbidden_v4(embedded(seg[6], seg[7]));
    }
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(seg[6], seg[7]));
    }
    if seg[0] == 0x2002 {
        return forbidden_v4(embedded(seg[1], seg[2]));
    }
    // IPv4-compatible (::a.b.c.d) is deprecated (RFC 4291) and never a
    // public destination: refused whatever it carries, which is stricter
    // than the embedded address's verdict.
    if seg[..6] == [0, 0, 0, 0, 0, 0] {
        return Some("a deprecated IPv4-compatible address (::/96)");
    }
    // The local-use NAT64 range (RFC 8215) translates to whatever the
    // operator's own translator maps it to, with the IPv4 address at a
    // position that depends on a prefix length we cannot know: refused.
    if seg[..3] == [0x64, 0xff9b, 1] {
        return Some("a local-use NAT64 address (64:ff9b:1::/48)");
    }
    // Teredo (2001::/32) carries an obfuscated IPv4 client address and
    // relays through a server: a tunnel, not a destination to fetch from.
    if seg[..2] == [0x2001, 0] {
        return Some("a Teredo tunnel address (2001::/32)");
    }
    if seg[0] == 0xfd00 && seg[1] == 0x0ec2 {
        return Some("a cloud metadata address");
    }
    Some(match seg[0] {
        0xfc00..=0xfdff => "a unique local (private) address (fc00::/7)",
        0xfe80..=0xfebf => "a link-local address (fe80::/10)",
        0xfec0..=0xfeff => "a site-local address (fec0::/10)",
        0xff00..=0xffff => "a multicast address",
        0x2001 if seg[1] == 0x0db8 => "a documentation address (2001:db8::/32)",
        0x0100 if seg[1..4] == [0, 0, 0] => "a discard-only address (100::/64)",
        _ => return None,
    })
}

/// A refused destination, found by the resolver or by the URL check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The host as written in the URL.
    pub host: String,
    /// The address refused.
    pub ip: IpAddr,
    /// Why.
    pub reason: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.host.trim_start_matches('[').trim_end_matches(']');
        if shown.parse::<IpAddr>().ok() == Some(self.ip) {
            write!(
                f,
                "refused to connect to {}: it is {}",
                self.ip, self.reason
            )?;
        } else {
            write!(
                f,
                "refused to connect to {}: it resolves to {}, {}",
                self.host, self.ip, self.reason
            )?;
        }
        write!(
            f,
            " (this server does not reach internal networks; an operator can allow a host with --allow-host)"
        )
    }
}

impl std::error::Error for Refused {}

/// Checks an address of `host`; `Err` when it is forbidden and the host is
/// not on the allow-list.
pub fn check(host: &str, ip: IpAddr, allow: &AllowList) -> Result<(), Refused> {
    if allow.allows(host) {
        return Ok(());
    }
    match forbidden_reason(ip) {
        Some(reason) => Err(Refused {
            host: host.to_owned(),
            ip,
            reason,
        }),
        None => Ok(()),
    }
}

/// A DNS resolver that resolves with the system resolver and then refuses
/// the name if any of its addresses is forbidden, so the connection can only
/// go to the addresses checked here.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl GuardedResolver {
    /// A resolver honouring `allow`.
    pub fn new(allow: Arc<AllowList>) -> Self {
        GuardedResolver { allow }
    }
}

/// A name that resolved to nothing.
#[derive(Debug)]
struct NoAddresses(String);

impl fmt::Display for NoAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} has no addresses", self.0)
    }
}

impl std::error::Error for NoAddresses {}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = self.allow.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(Box::new(NoAddresses(host)) as _);
            }
            // Every address must pass: a name with one public and one
            // private address could otherwise be steered to the private one.
            for addr in &addrs {
                check(&host, addr.ip(), &allow)?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(s: &str) -> bool {
        forbidden_reason(s.parse().unwrap()).is_some()
    }

    #[test]
    fn internal_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "100.100.100.200",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            // IPv4-translated (::ffff:0:a.b.c.d) of internal addresses.
            "::ffff:0:127.0.0.1",
            "::ffff:0:10.0.0.1",
            "::ffff:0:169.254.169.254",
            // NAT64 well-known prefix of internal addresses, and the
            // whole local-use NAT64 range.
            "64:ff9b::10.0.0.1",
            "64:ff9b::169.254.169.254",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:ffff::808:808",
            "64:ff9b:1::8.8.8.8",
            // 6to4 of internal addresses.
            "2002:a00:1::",
            "2002:a9fe:a9fe::1",
            "2002:c0a8:101::",
            // IPv4-compatible, internal or not.
            "::127.0.0.1",
            "::10.0.0.1",
            "::8.8.8.8",
            // Teredo.
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::",
            "2001:4860:4860::8888",
        ] {
            assert!(!refused(ip), "{ip} should pass");
        }
    }

    #[test]
    fn the_allow_list_matches_hosts_as_written() {
        let allow = AllowList::new(["Intranet.Example.", "127.0.0.1", "[::1]"]);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(check("intranet.example", "10.0.0.1".parse().unwrap(), &allow).is_ok());
        assert!(check("127.0.0.1", lo, &allow).is_ok());
        assert!(check("[::1]", "::1".parse().unwrap(), &allow).is_ok());
        // `localhost` resolving to an allowed address is still refused: the
        // list names hosts, not addresses.
        let err = check("localhost", lo, &allow).unwrap_err();
        assert_eq!(err.reason, "a loopback address");
        assert!(err.to_string().contains("localhost"), "{err}");
    }
}
