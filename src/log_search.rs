//! Searching a job's log for a literal string, with bounded work per call.
//!
//! `GET /jobs/{id}/logs/search` must find a line 150 000 lines back in a
//! log of any size without reading the whole file per request and without
//! a regex engine on user input. So the search is a literal substring
//! (memchr's `memmem`, SIMD and linear-time), it reads at most
//! [`MAX_SCAN_BYTES`] per call in blocks of [`SEARCH_BLOCK`], and it stops
//! at a number of matching lines; the answer says where to go on
//! (`next_after`). Each match is one line, reported once however often the
//! string occurs in it, with the byte offset where the line starts — a
//! viewer loads the output around it with `?before=` / `?offset=`.
//!
//! A match or a line may straddle two blocks: the last `len(q) - 1` bytes
//! of a block are searched again with the next one, and the line a match
//! sits in is read separately when it does not lie in the block at hand.
//! Like [`crate::logs`], everything here is synchronous; the api runs it in
//! `spawn_blocking`.

use std::io::{self, Read, Seek, SeekFrom};

use memchr::memmem;

/// The most bytes one request scans.
pub const MAX_SCAN_BYTES: u64 = 64 * 1024 * 1024;
/// One read of the scan.
pub const SEARCH_BLOCK: usize = 1024 * 1024;
/// The most of a matching line an answer carries.
pub const MAX_MATCH_TEXT: usize = 1024;
/// Matching lines per answer when the caller does not say.
pub const DEFAULT_MATCHES: usize = 100;
/// The most matching lines one answer holds.
pub const MAX_MATCHES: usize = 1000;
/// The longest search string, in bytes.
pub const MAX_QUERY_BYTES: usize = 1024;

/// How much one search may do.
#[derive(Debug, Clone, Copy)]
pub struct SearchLimits {
    /// Stop after this many matching lines.
    pub max_matches: usize,
    /// Stop after reading this many bytes.
    pub max_scan: u64,
    /// Bytes per read.
    pub block: usize,
    /// The most of a line returned with a match.
    pub max_text: usize,
}

impl Default for SearchLimits {
    fn default() -> Self {
        SearchLimits {
            max_matches: DEFAULT_MATCHES,
            max_scan: MAX_SCAN_BYTES,
            block: SEARCH_BLOCK,
            max_text: MAX_MATCH_TEXT,
        }
    }
}

/// A validated search string: not empty, no newline (a match is within one
/// line), at most [`MAX_QUERY_BYTES`].
#[derive(Debug, Clone)]
pub struct Needle {
    /// Lowercased (ASCII) when the search ignores case.
    bytes: Vec<u8>,
    ignore_case: bool,
}

/// Why a search string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadNeedle {
    #[error("q must not be empty")]
    Empty,
    #[error("q must be at most {MAX_QUERY_BYTES} bytes")]
    TooLong,
    #[error("q must not contain a line break: a match lies within one line")]
    LineBreak,
}

impl Needle {
    /// `text` as a search string; `ignore_case` folds ASCII letters only
    /// (both the string and the log), which keeps the search one linear pass.
    pub fn new(text: &str, ignore_case: bool) -> Result<Self, BadNeedle> {
        if text.is_empty() {
            return Err(BadNeedle::Empty);
        }
        if text.len() > MAX_QUERY_BYTES {
            return Err(BadNeedle::TooLong);
        }
        if text.contains(['\n', '\r']) {
            return Err(BadNeedle::LineBreak);
        }
        let bytes = if ignore_case {
            text.as_bytes().to_ascii_lowercase()
        } else {
            text.as_bytes().to_vec()
        };
        Ok(Needle { bytes, ignore_case })
    }
}

/// One matching line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineMatch {
    /// Where the line starts.
    pub offset: u64,
    /// Where the first occurrence in the line starts.
    pub match_offset: u64,
    /// Where `text` starts: the line's start, unless the occurrence lies
    /// further into a long line than `max_text` reaches.
    pub text_offset: u64,
    /// Up to `max_text` bytes of the line, without its line break, never
    /// ending inside a UTF-8 character; always holds the occurrence.
    pub text: Vec<u8>,
    /// `text` is not the whole line.
    pub truncated: bool,
}

/// What one search call found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchResult {
    pub matches: Vec<LineMatch>,
    /// Where the next call starts (`after=`), or `None` when the search
    /// reached the end of the file as it was.
    pub next_after: Option<u64>,
    /// Bytes read by the scan (lines read again for their text not counted).
    pub scanned_bytes: u64,
    /// The file's size when searched.
    pub size: u64,
}

/// Searches a reader of `size` bytes for `needle` from byte `after` (the
/// start of a line: 0, or a `next_after`), within `limits`.
///
/// A call that stops inside a line ends at that line's start, so the next
/// call reads the whole line: each line is reported once, with its true
/// start. Only a line longer than `limits.max_scan` is cut between calls;
/// the next call then counts its rest as a line starting at `after`.
pub fn search<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    needle: &Needle,
    after: u64,
    limits: &SearchLimits,
) -> io::Result<SearchResult> {
    let start = after.min(size);
    let end = size.min(start.saturating_add(limits.max_scan.max(1)));
    let finder = memmem::Finder::new(&needle.bytes);
    let overlap = needle.bytes.len() - 1;
    // Allocated (and zeroed) once: each block is read in after the bytes
    // kept from the one before, with no per-block clearing.
    let mut buf: Vec<u8> = vec![0; limits.block + overlap];
    let mut folded: Vec<u8> = if needle.ignore_case {
        vec![0; buf.len()]
    } else {
        Vec::new()
    };
    let mut filled = 0;
    let mut win_start = start;
    let mut pos = start;
    // The start of the line holding `scan_from`.
    let mut line_start = start;
    // Where the next occurrence (or, while `in_match`, line break) may start.
    let mut scan_from = start;
    // The current line has matched: look for its end, not for the string.
    let mut in_match = false;
    let mut matches: Vec<LineMatch> = Vec::new();
    let mut limit_reached_at: Option<u64> = None;

    'blocks: while pos < end {
        // Keep what may still begin an occurrence: the tail of the window.
        let win_end = win_start + filled as u64;
        let keep_from = scan_from
            .max(win_end.saturating_sub(overlap as u64))
            .min(win_end);
        let dropped = (keep_from - win_start) as usize;
        buf.copy_within(dropped..filled, 0);
        filled -= dropped;
        win_start = keep_from;
        let n = limits.block.min((end - pos) as usize);
        reader.seek(SeekFrom::Start(pos))?;
        reader.read_exact(&mut buf[filled..filled + n])?;
        filled += n;
        pos += n as u64;
        let window = &buf[..filled];
        let hay: &[u8] = if needle.ignore_case {
            for (to, from) in folded.iter_mut().zip(window) {
                *to = from.to_ascii_lowercase();
            }
            &folded[..filled]
        } else {
            window
        };
        let win_end = win_start + filled as u64;
        loop {
            let rel = (scan_from - win_start) as usize;
            if in_match {
                let Some(j) = memchr::memchr(b'\n', &window[rel..]) else {
                    scan_from = win_end;
                    break;
                };
                in_match = false;
                line_start = win_start + (rel + j) as u64 + 1;
                scan_from = line_start;
                if matches.len() >= limits.max_matches {
                    limit_reached_at = Some(line_start);
                    break 'blocks;
                }
                continue;
            }
            match finder.find(&hay[rel..]) {
                Some(k) => {
                    let at = rel + k;
                    if let Some(j) = memchr::memrchr(b'\n', &window[rel..at]) {
                        line_start = win_start + (rel + j) as u64 + 1;
                    }
                    let match_offset = win_start + at as u64;
                    matches.push(line_text(
                        reader,
                        size,
                        (window, win_start),
                        line_start,
                        match_offset,
                        needle.bytes.len(),
                        limits.max_text,
                    )?);
                    in_match = true;
                    scan_from = match_offset + needle.bytes.len() as u64;
                }
                None => {
                    if let Some(j) = memchr::memrchr(b'\n', &window[rel..]) {
                        line_start = win_start + (rel + j) as u64 + 1;
                    }
                    // Only the last `overlap` bytes may yet begin an
                    // occurrence, completed by the next block.
                    scan_from = scan_from.max(win_end.saturating_sub(overlap as u64));
                    break;
                }
            }
        }
    }

    let next_after = if let Some(at) = limit_reached_at {
        (at < size).then_some(at)
    } else if pos >= size {
        None
    } else if in_match && line_start > start {
        // Stopped inside a matching line before its end: leave it to the
        // next call, which reads it whole, so that it is reported once.
        matches.pop();
        Some(line_start)
    } else if in_match {
        // A matching line longer than the whole scan: go on after this
        // point (its rest counts as a line of its own).
        Some(pos)
    } else if line_start > start {
        // Stopped inside a line not yet matched: read it again, whole.
        Some(line_start)
    } else {
        // One line longer than the whole scan: go on inside it, keeping
        // the bytes that may begin an occurrence.
        Some(pos.saturating_sub(overlap as u64).max(start + 1))
    };
    Ok(SearchResult {
        matches,
        next_after,
        scanned_bytes: pos - start,
        size,
    })
}

/// The text reported for an occurrence at `match_offset` in the line that
/// starts at `line_start`: from the line's start when the occurrence ends
/// within `max_text` of it, else from a little before the occurrence.
fn line_text<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    (window, win_start): (&[u8], u64),
    line_start: u64,
    match_offset: u64,
    needle_len: usize,
    max_text: usize,
) -> io::Result<LineMatch> {
    let match_end = match_offset + needle_len as u64;
    let mut text_offset = if match_end - line_start <= max_text as u64 {
        line_start
    } else {
        // Some context before it, and the occurrence whole.
        let before = (max_text.saturating_sub(needle_len) / 4) as u64;
        match_offset.saturating_sub(before).max(line_start)
    };
    let want = (max_text as u64 + 4).min(size - text_offset) as usize;
    let win_end = win_start + window.len() as u64;
    let mut bytes = if text_offset >= win_start && text_offset + want as u64 <= win_end {
        let from = (text_offset - win_start) as usize;
        window[from..from + want].to_vec()
    } else {
        let mut buf = vec![0; want];
        reader.seek(SeekFrom::Start(text_offset))?;
        reader.read_exact(&mut buf)?;
        buf
    };
    if text_offset > line_start {
        // Started inside the line: begin at a character, not inside one.
        let skip = bytes
            .iter()
            .take(3)
            .take_while(|&&b| crate::logs::is_continuation(b))
            .count();
        bytes.drain(..skip);
        text_offset += skip as u64;
    }
    let line_end = memchr::memchr(b'\n', &bytes);
    let whole_line_end = line_end.is_some() || text_offset + bytes.len() as u64 == size;
    let mut len = line_end.unwrap_or(bytes.len());
    let mut truncated = text_offset > line_start;
    if len > max_text {
        len = crate::logs::complete_utf8_len(&bytes[..max_text]);
        truncated = true;
    } else if !whole_line_end {
        truncated = true;
    }
    bytes.truncate(len);
    if bytes.last() == Some(&b'\r') && !truncated {
        bytes.pop();
    }
    Ok(LineMatch {
        offset: line_start,
        match_offset,
        text_offset,
        text: bytes,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Every matching line, the obvious way: (line start, first occurrence).
    fn naive(data: &[u8], q: &str, ignore_case: bool) -> Vec<(u64, u64)> {
        let hay = if ignore_case {
            data.to_ascii_lowercase()
        } else {
            data.to_vec()
        };
        let q = if ignore_case {
            q.to_ascii_lowercase()
        } else {
            q.to_string()
        };
        let mut found = Vec::new();
        let mut start = 0;
        for line in hay.split_inclusive(|&b| b == b'\n') {
            if let Some(i) = memmem::find(line, q.as_bytes()) {
                found.push((start as u64, (start + i) as u64));
            }
            start += line.len();
        }
        found
    }

    /// Every call until the end, as a viewer pressing "next" would.
    fn search_all(
        data: &[u8],
        q: &str,
        ignore_case: bool,
        limits: SearchLimits,
    ) -> (Vec<LineMatch>, usize) {
        let needle = Needle::new(q, ignore_case).unwrap();
        let mut all = Vec::new();
        let mut after = 0;
        let mut calls = 0;
        loop {
            let got = search(
                &mut Cursor::new(data),
                data.len() as u64,
                &needle,
                after,
                &limits,
            )
            .unwrap();
            calls += 1;
            assert!(got.scanned_bytes <= limits.max_scan.max(1));
            assert!(got.matches.len() <= limits.max_matches);
            all.extend(got.matches);
            match got.next_after {
                Some(next) => {
                    assert!(next > after, "progress: {after} → {next}");
                    after = next;
                }
                None => return (all, calls),
            }
        }
    }

    fn limits(block: usize, max_scan: u64, max_matches: usize) -> SearchLimits {
        SearchLimits {
            max_matches,
            max_scan,
            block,
            max_text: 64,
        }
    }

    #[test]
    fn every_matching_line_once_whatever_the_blocks_and_bounds() {
        let mut data = Vec::new();
        for i in 0..3000 {
            match i % 11 {
                0 => {
                    data.extend_from_slice(format!("{i} needle here and needle there\n").as_bytes())
                }
                3 => data.extend_from_slice(format!("{i} NeEdLe in caps\n").as_bytes()),
                5 => data.extend_from_slice(format!("{i} nee\n").as_bytes()),
                7 => data
                    .extend_from_slice(format!("{i} {}needle\r\n", "x".repeat(i % 200)).as_bytes()),
                _ => data.extend_from_slice(format!("{i} ünïcode € line\n").as_bytes()),
            }
        }
        data.extend_from_slice(b"needle at the end, no newline");
        for ignore_case in [false, true] {
            let want = naive(&data, "needle", ignore_case);
            assert!(want.len() > 500);
            for (block, max_scan, max_matches) in [
                (1 << 20, 1 << 30, 1000),
                (7, 1 << 30, 1000), // a match spans blocks all the time
                (64, 1000, 1000),   // many calls, each stopped by the scan bound
                (4096, 1 << 30, 3), // many calls, each stopped by the match bound
                (13, 97, 2),        // both, with blocks smaller than a line
                (5, 13, 1000),      // the scan bound smaller than a line
            ] {
                let (got, calls) = search_all(
                    &data,
                    "needle",
                    ignore_case,
                    limits(block, max_scan, max_matches),
                );
                let got_keys: Vec<(u64, u64)> =
                    got.iter().map(|m| (m.offset, m.match_offset)).collect();
                if max_scan >= 200 {
                    assert_eq!(
                        got_keys, want,
                        "block={block} scan={max_scan} matches={max_matches} ic={ignore_case}"
                    );
                } else {
                    // Calls that stop inside a line count its rest as a
                    // line: each occurrence is still found, in order.
                    let firsts: Vec<u64> = want.iter().map(|w| w.1).collect();
                    let got_at: Vec<u64> = got.iter().map(|m| m.match_offset).collect();
                    for at in &firsts {
                        assert!(got_at.contains(at), "missed {at}");
                    }
                    assert!(got_at.windows(2).all(|w| w[0] < w[1]));
                }
                if max_scan < data.len() as u64 || max_matches < want.len() {
                    assert!(calls > 1);
                }
                for m in &got {
                    let text = &m.text;
                    assert!(!text.contains(&b'\n'));
                    let at = (m.match_offset - m.text_offset) as usize;
                    let found = &text[at..at + 6];
                    assert!(found.eq_ignore_ascii_case(b"needle"), "{m:?}");
                    assert_eq!(
                        &data[m.text_offset as usize..m.text_offset as usize + text.len()],
                        &text[..]
                    );
                }
            }
        }
    }

    #[test]
    fn a_call_that_stops_inside_a_matching_line_leaves_it_whole_to_the_next() {
        // Every line matches twice; wherever the scan bound falls, each
        // line is reported once, at its start.
        let data = "a needle b needle c\n".repeat(40).into_bytes();
        let want = naive(&data, "needle", false);
        for max_scan in 20..=70 {
            for block in [3, 8, 1 << 20] {
                let (got, _) = search_all(&data, "needle", false, limits(block, max_scan, 1000));
                let keys: Vec<(u64, u64)> =
                    got.iter().map(|m| (m.offset, m.match_offset)).collect();
                assert_eq!(keys, want, "max_scan={max_scan} block={block}");
            }
        }
    }

    #[test]
    fn a_line_longer_than_the_text_cut_carries_its_match() {
        let long = format!(
            "start {} needle {} end\nnext needle\n",
            "é".repeat(5000),
            "x".repeat(9000)
        );
        let data = long.as_bytes();
        let (got, _) = search_all(data, "needle", false, limits(1000, 1 << 30, 10));
        assert_eq!(got.len(), 2);
        let m = &got[0];
        assert_eq!(m.offset, 0);
        assert!(m.truncated);
        assert!(m.text.len() <= 64);
        assert!(m.text_offset > 0 && m.text_offset <= m.match_offset);
        let text = std::str::from_utf8(&m.text).expect("cut on character boundaries");
        assert!(text.contains("needle"), "{text}");
        let second = &got[1];
        assert_eq!(second.text, b"next needle");
        assert!(!second.truncated);
        // A short line is whole; a line cut at the end of the text is not.
        let short = b"a needle b\r\n";
        let (got, _) = search_all(short, "needle", false, limits(4, 1 << 30, 10));
        assert_eq!(got[0].text, b"a needle b");
        assert!(!got[0].truncated);
    }

    #[test]
    fn the_next_call_starts_at_the_line_after_the_last_match() {
        let data = b"one needle\ntwo needle\nthree needle\nfour\n";
        let needle = Needle::new("needle", false).unwrap();
        let got = search(
            &mut Cursor::new(data),
            40,
            &needle,
            0,
            &limits(1 << 20, 1 << 30, 2),
        )
        .unwrap();
        assert_eq!(got.matches.len(), 2);
        assert_eq!(got.next_after, Some(22), "the start of line three");
        let got = search(
            &mut Cursor::new(data),
            40,
            &needle,
            22,
            &limits(1 << 20, 1 << 30, 2),
        )
        .unwrap();
        assert_eq!(got.matches.len(), 1);
        assert_eq!(got.matches[0].offset, 22);
        assert_eq!(got.next_after, None);
        assert_eq!(got.scanned_bytes, 18);
        let got = search(
            &mut Cursor::new(data),
            40,
            &needle,
            400,
            &limits(1 << 20, 1 << 30, 2),
        )
        .unwrap();
        assert_eq!(
            (got.matches.len(), got.next_after, got.scanned_bytes),
            (0, None, 0)
        );
    }

    #[test]
    fn ignore_case_folds_ascii_only() {
        let data = "ÉCOLE école Needle\n".as_bytes();
        let (got, _) = search_all(data, "nEEDLE", true, SearchLimits::default());
        assert_eq!(got.len(), 1);
        let (got, _) = search_all(data, "école", true, SearchLimits::default());
        assert_eq!(got.len(), 1, "lowercase é is matched as is");
        let (got, _) = search_all(data, "ÉCOLE", true, SearchLimits::default());
        assert_eq!(got.len(), 1);
        let (got, _) = search_all(b"NEEDLE\n", "needle", false, SearchLimits::default());
        assert!(got.is_empty(), "case counts by default");
    }

    #[test]
    fn bad_search_strings_are_refused() {
        assert_eq!(Needle::new("", false).unwrap_err(), BadNeedle::Empty);
        assert_eq!(
            Needle::new("a\nb", false).unwrap_err(),
            BadNeedle::LineBreak
        );
        assert_eq!(
            Needle::new(&"x".repeat(MAX_QUERY_BYTES + 1), true).unwrap_err(),
            BadNeedle::TooLong
        );
        assert!(Needle::new("x", true).is_ok());
    }
}
