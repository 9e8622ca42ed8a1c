//! Images given as prompt arguments: base64 checked, size bounded, type
//! told from the bytes themselves (never from what the caller claims).

/// The largest image accepted, decoded: 1 MiB.
pub const MAX_IMAGE_BYTES: usize = 1024 * 1024;

/// The longest base64 text that can hold [`MAX_IMAGE_BYTES`], plus room
/// for a `data:` prefix and line breaks.
pub const MAX_BASE64_BYTES: usize = MAX_IMAGE_BYTES / 3 * 4 + 64 * 1024;

/// A 16×16 PNG: a red disc on white above a blue band. What
/// `describe_image` shows when given no image.
pub const SAMPLE_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAPklEQVR42mP4TyJgoIKGOxoacERAA7JSXNoYCKpG00OuBvyqkfUMXg20DyUSIk6j4g4aQlaKKYtFA35EsgYAb9jvdE6cm/cAAAAASUVORK5CYII=";

fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

/// Decodes standard base64 (padding optional).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return Err("it is not valid base64 (wrong length or padding)".into());
    }
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3 + 2);
    for chunk in trimmed.as_bytes().chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| {
                format!(
                    "it is not valid base64 (the character {:?} is not allowed)",
                    c as char
                )
            })?;
            acc |= v << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}

/// The image type of these bytes, from their signature.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The image type of checked base64 data (see [`normalize`]).
pub fn mime_of(base64: &str) -> Option<&'static str> {
    let head = &base64[..base64.len().min(16)];
    sniff(&decode_base64(head).ok()?)
}

/// Checks an image argument and returns its bare base64: a `data:` URL
/// prefix and whitespace removed, the data decoded, its size bounded and
/// its type one of PNG, JPEG, GIF and WebP.
pub fn normalize(value: &str) -> Result<String, String> {
    let mut data = value.trim();
    if let Some(rest) = data.strip_prefix("data:") {
        data = rest
            .split_once(',')
            .filter(|(meta, _)| meta.ends_with(";base64"))
            .map(|(_, d)| d)
            .ok_or("a data: URL must be `data:<type>;base64,<data>`")?;
    }
    let clean: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if clean.len() / 4 * 3 > MAX_IMAGE_BYTES {
        return Err(format!("the image is larger than {MAX_IMAGE_BYTES} bytes"));
    }
    let bytes = decode_base64(&clean)?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(format!("the image is larger than {MAX_IMAGE_BYTES} bytes"));
    }
    if sniff(&bytes).is_none() {
        return Err("the image must be PNG, JPEG, GIF or WebP".into());
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_and_refuses_garbage() {
        assert_eq!(decode_base64("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(decode_base64("aGk").unwrap(), b"hi");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("a").is_err());
        assert!(decode_base64("aGk*").unwrap_err().contains("'*'"));
        assert!(decode_base64("aG===").is_err());
    }

    #[test]
    fn images_are_checked() {
        assert_eq!(mime_of(SAMPLE_PNG), Some("image/png"));
        assert_eq!(normalize(SAMPLE_PNG).unwrap(), SAMPLE_PNG);
        let url = format!(
            "data:image/png;base64,{}\n{}",
            &SAMPLE_PNG[..40],
            &SAMPLE_PNG[40..]
        );
        assert_eq!(normalize(&url).unwrap(), SAMPLE_PNG);
        assert!(normalize("data:image/png,notbase64")
            .unwrap_err()
            .contains("data: URL"));
        assert!(normalize("aGVsbG8gd29ybGQ=")
            .unwrap_err()
            .contains("PNG, JPEG"));
        let gif = "R0lGODlhAQABAAAAACw="; // "GIF89a" + a few bytes
        assert_eq!(mime_of(gif), Some("image/gif"));
        let huge = "A".repeat(MAX_IMAGE_BYTES / 3 * 4 + 8);
        assert!(normalize(&huge).unwrap_err().contains("larger than"));
    }
}
