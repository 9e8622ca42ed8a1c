//! `file://` URIs and paths, percent-encoding, base64 and hex: the small
//! encodings the resources and roots servers need, without dependencies.

use std::path::{Path, PathBuf};

/// The bytes kept as they are in the path of a `file://` URI: RFC 3986
/// unreserved characters and the path separator.
fn keep(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
}

/// Percent-encodes `s` for a URI path (everything but unreserved
/// characters and `/`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes; fails on a malformed escape or text that is not
/// UTF-8 once decoded.
pub fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("malformed percent-escape in {s:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

/// The `file://` URI of an absolute path (`file:///home/me/a%20b.txt`).
/// `None` for paths that are not UTF-8.
pub fn path_to_file_uri(path: &Path) -> Option<String> {
    let s = path.to_str()?;
    // Windows: `\\?\C:\dir` (from canonicalize) becomes `/C:/dir`.
    let s = s.strip_prefix(r"\\?\").unwrap_or(s).replace('\\', "/");
    let s = if s.starts_with('/') {
        s
    } else {
        format!("/{s}")
    };
    Some(format!("file://{}", percent_encode(&s)))
}

/// The path a `file://` URI names. The host must be empty or `localhost`;
/// queries, fragments and NUL bytes are refused.
pub fn file_uri_to_path(uri: &str) -> Result<PathBuf, String> {
    let rest = uri
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("file://"))
        .map(|_| &uri[7..])
        .ok_or_else(|| format!("{uri:?} is not a file:// URI"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err(format!("{uri:?} has no path")),
    };
    if !(host.is_empty() || host.eq_ignore_ascii_case("localhost")) {
        return Err(format!(
            "{uri:?} names the host {host:?}; only local files (file:///...) are served"
        ));
    }
    if path.contains(['?', '#']) {
        return Err(format!(
            "{uri:?} has a query or fragment; file URIs take neither"
        ));
    }
    let decoded = percent_decode(path)?;
    if decoded.contains('\0') {
        return Err(format!("{uri:?} contains a NUL byte"));
    }
    // Windows: `/C:/dir` is `C:/dir`.
    let b = decoded.as_bytes();
    if cfg!(windows) && b.len() >= 3 && b[0] == b'/' && b[1].is_ascii_alphabetic() && b[2] == b':' {
        return Ok(PathBuf::from(&decoded[1..]));
    }
    Ok(PathBuf::from(decoded))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4), as MCP blobs use.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = match chunk.len() {
            3 => u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]),
            2 => u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8,
            _ => u32::from(chunk[0]) << 16,
        };
        let sextet = |shift: u32| BASE64[(n >> shift & 63) as usize] as char;
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Lowercase hex, for opaque pagination cursors.
pub fn hex_encode(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes [`hex_encode`]'s output; `None` if it is not hex.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain.as_bytes()), encoded, "{plain:?}");
        }
        assert_eq!(base64_encode(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn file_uris_round_trip_and_escape() {
        let p = Path::new("/tmp/a dir/ünï%.txt");
        let uri = path_to_file_uri(p).unwrap();
        assert_eq!(uri, "file:///tmp/a%20dir/%C3%BCn%C3%AF%25.txt");
        assert_eq!(file_uri_to_path(&uri).unwrap(), p);
        assert_eq!(
            file_uri_to_path("file://localhost/etc/x").unwrap(),
            Path::new("/etc/x")
        );
    }

    #[test]
    fn bad_file_uris_are_refused() {
        for bad in [
            "http://x/y",
            "file://evil.example/etc/passwd",
            "file:///a?b",
            "file:///a#b",
            "file:///a%zz",
            "file:///a%00b",
            "file:///%ff",
            "file://",
        ] {
            assert!(file_uri_to_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(hex_decode(&hex_encode(b"notes://a")).unwrap(), b"notes://a");
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
