//! Newline-delimited JSON-RPC framing, as the stdio transport uses it:
//! one message per line, bounded. Shared by the server's and the client's
//! transports (feature `tokio`); the rest of this crate does no I/O.

use std::io;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// The longest line a transport accepts by default (16 MiB): a longer one
/// is skipped, so a runaway peer cannot exhaust memory.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Reads one line (with its newline) into `buf`, up to `max` bytes. A
/// longer line is consumed to its end and reported as
/// [`io::ErrorKind::InvalidData`], leaving the reader at the next line.
/// Returns the bytes consumed; 0 at end of input.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<usize> {
    let mut total = 0;
    let mut too_long = false;
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            break;
        }
        let (chunk, done) = match find_newline(available) {
            Some(i) => (&available[..=i], true),
            None => (available, false),
        };
        let n = chunk.len();
        total += n;
        if !too_long && buf.len() + n <= max {
            buf.extend_from_slice(chunk);
        } else {
            too_long = true;
            buf.clear();
        }
        reader.consume(n);
        if done {
            break;
        }
    }
    if too_long {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line longer than {max} bytes"),
        ));
    }
    Ok(total)
}

/// The index of the first newline, eight bytes at a time.
pub fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("eight bytes")) ^ NEWLINES;
        // Some byte of `word` is zero, i.e. some byte of the chunk is '\n'.
        if word.wrapping_sub(ONES) & !word & HIGHS != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// A line without its trailing newline and whitespace.
pub fn trim_line(line: &[u8]) -> &[u8] {
    let mut s = line;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_newline_finds_the_first_newline_anywhere() {
        for len in 0..40 {
            for nl in 0..len {
                let mut bytes = vec![b'x'; len];
                bytes[nl] = b'\n';
                if nl + 3 < len {
                    bytes[nl + 3] = b'\n';
                }
                assert_eq!(find_newline(&bytes), Some(nl), "{len} {nl}");
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[tokio::test]
    async fn long_lines_are_skipped_and_reading_goes_on() {
        let input = b"short\nthis one is too long\nok\n".to_vec();
        let mut reader = tokio::io::BufReader::with_capacity(4, &input[..]);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).await.unwrap(), 6);
        assert_eq!(trim_line(&buf), b"short");
        buf.clear();
        let err = read_line(&mut reader, &mut buf, 8).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        buf.clear();
        read_line(&mut reader, &mut buf, 8).await.unwrap();
        assert_eq!(trim_line(&buf), b"ok");
        buf.clear();
        assert_eq!(read_line(&mut reader, &mut buf, 8).await.unwrap(), 0);
    }
}
