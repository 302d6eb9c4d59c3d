//! Reading job log files: tails and offset chunks with bounded cost.
//!
//! A log is whatever bytes the job wrote — invalid UTF-8, NUL, `\r` progress
//! bars, one 100 MB line. Readers here never load a whole file: a tail scans
//! backwards from the end in blocks and stops after `lines` newlines or
//! `max_bytes`, whichever comes first, and an offset read takes at most
//! `max_bytes`. Chunks never end inside a UTF-8 character while the job can
//! still write, so a follower that decodes chunk by chunk sees the same text
//! as one that decodes the whole file.
//!
//! These functions are synchronous on purpose; the api calls them from
//! `spawn_blocking` so file I/O never stalls the async runtime. Each call opens
//! the file afresh: a cached handle would hide new data on NFS.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::domain::JobId;

/// Size of the first backwards read while looking for newlines; each
/// further read is twice the one before, so a tail of long lines takes a few
/// large reads (one disk request each when the cache is cold), not many small
/// ones.
pub const TAIL_BLOCK: usize = 64 * 1024;
/// The most a tail returns, however long its lines.
pub const MAX_TAIL_BYTES: usize = 1024 * 1024;
/// The most one offset read returns.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// Lines in a tail when the caller does not say.
pub const DEFAULT_TAIL_LINES: usize = 1000;
/// The most lines a tail may ask for.
pub const MAX_TAIL_LINES: usize = 10_000;

/// Where job `id`'s log lives.
pub fn log_path(logs_dir: &Path, id: JobId) -> PathBuf {
    logs_dir.join(format!("{id}.log"))
}

/// A piece of a log file, as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogSlice {
    /// The bytes read.
    pub bytes: Vec<u8>,
    /// Where `bytes` starts in the file.
    pub offset: u64,
    /// Where the next read should start: `offset + bytes.len()`.
    pub next_offset: u64,
    /// The file's size when read.
    pub size: u64,
    /// A tail that was cut at its byte limit.
    pub truncated: bool,
}

impl LogSlice {
    fn empty_at(offset: u64, size: u64) -> Self {
        LogSlice {
            bytes: Vec::new(),
            offset,
            next_offset: offset,
            size,
            truncated: false,
        }
    }

    /// The bytes as text; invalid UTF-8 becomes U+FFFD. No copy when valid.
    pub fn into_text(self) -> String {
        String::from_utf8(self.bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The last `lines` lines of a reader holding `size` bytes, as `tail -n`
/// counts them (a final line without a newline counts), cut to the last
/// `max_bytes` when longer. `complete` says no more bytes will ever come, so
/// a trailing partial UTF-8 character is returned instead of held back.
pub fn tail<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    lines: usize,
    max_bytes: usize,
    complete: bool,
) -> io::Result<LogSlice> {
    if lines == 0 || size == 0 {
        return Ok(LogSlice::empty_at(size, size));
    }
    // Never look below this position: what lies before it could not be returned.
    let floor = size.saturating_sub(max_bytes as u64);
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut pos = size;
    let mut newlines = 0;
    let mut start = None;
    let mut block_size = TAIL_BLOCK as u64;
    'scan: while pos > floor {
        let block_start = pos.saturating_sub(block_size).max(floor);
        block_size = block_size.saturating_mul(2);
        let mut block = vec![0; (pos - block_start) as usize];
        reader.seek(SeekFrom::Start(block_start))?;
        reader.read_exact(&mut block)?;
        // memrchr scans a word at a time; a byte loop here was a tenth of
        // the api's time on long-lined logs (BENCHMARKS.md).
        let mut end = block.len();
        while let Some(i) = memchr::memrchr(b'\n', &block[..end]) {
            end = i;
            let at = block_start + i as u64;
            // The newline that ends the last line does not start a new one.
            if at == size - 1 {
                continue;
            }
            newlines += 1;
            if newlines == lines {
                start = Some(at + 1);
                blocks.push(block);
                pos = block_start;
                break 'scan;
            }
        }
        blocks.push(block);
        pos = block_start;
    }
    let (mut start, truncated) = match start {
        Some(s) => (s, false),
        None if pos == 0 => (0, false),
        None => (floor, true),
    };
    let mut bytes = Vec::with_capacity((size - pos) as usize);
    for block in blocks.into_iter().rev() {
        bytes.extend_from_slice(&block);
    }
    let mut skip = (start - pos) as usize;
    if truncated {
        // The cut may have landed inside a character: start at the next one.
        let continuation = bytes[skip..]
            .iter()
            .take(3)
            .take_while(|&&b| is_continuation(b))
            .count();
        skip += continuation;
        start += continuation as u64;
    }
    bytes.drain(..skip);
    if !complete {
        bytes.truncate(complete_utf8_len(&bytes));
    }
    Ok(LogSlice {
        next_offset: start + bytes.len() as u64,
        bytes,
        offset: start,
        size,
        truncated,
    })
}

/// The last `lines` lines that end at or before byte `before` of a reader
/// holding `size` bytes, cut to `max_bytes` like [`tail`]: how a viewer
/// loads the output above what it shows. The answer's `offset` is where its
/// text starts, so asking again with `before = offset` gives the lines just
/// above, with nothing missing or repeated at the seam; `next_offset` is
/// where the text ends (`before`, unless that fell inside a character).
///
/// A `before` past the end is taken as the end (a viewer's idea of the size
/// may be stale; the file only grows). A `before` inside a UTF-8 character
/// ends the text at that character's start, so it is never split.
pub fn tail_before<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    before: u64,
    lines: usize,
    max_bytes: usize,
    complete: bool,
) -> io::Result<LogSlice> {
    let mut end = before.min(size);
    if end < size && end > 0 {
        end = character_start(reader, end)?;
    }
    // Bytes below `end < size` are followed by more, so a character cut at
    // `end` can only be an invalid one: nothing to hold back.
    let mut slice = tail(reader, end, lines, max_bytes, complete || end < size)?;
    slice.size = size;
    Ok(slice)
}

/// Where the character holding byte `at` starts: `at` itself unless it is
/// the continuation of a valid lead byte at most 3 bytes before.
fn character_start<R: Read + Seek>(reader: &mut R, at: u64) -> io::Result<u64> {
    let from = at.saturating_sub(3);
    let mut around = [0u8; 4];
    let len = (at - from) as usize + 1;
    reader.seek(SeekFrom::Start(from))?;
    reader.read_exact(&mut around[..len])?;
    let here = len - 1;
    if !is_continuation(around[here]) {
        return Ok(at);
    }
    let mut i = here;
    while i > 0 && is_continuation(around[i - 1]) {
        i -= 1;
    }
    if i == 0 {
        return Ok(at);
    }
    let lead = i - 1;
    let needed = match around[lead] {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => return Ok(at),
    };
    // Only a sequence long enough to reach `at` holds it.
    if here - lead < needed {
        Ok(from + lead as u64)
    } else {
        Ok(at)
    }
}

/// Reads the lines ending at or before `before` in the log at `path`;
/// `None` when there is no file yet.
pub fn read_tail_before_file(
    path: &Path,
    before: u64,
    lines: usize,
    max_bytes: usize,
    complete: bool,
) -> io::Result<Option<LogSlice>> {
    with_log(path, |file, size| {
        tail_before(file, size, before, lines, max_bytes, complete)
    })
}

/// The bytes from `offset` towards `size`, at most `max_bytes`, never ending
/// inside a UTF-8 character unless `complete` and the read reached the end.
/// An offset past the end (a stale view of the file, e.g. another NFS client)
/// reads nothing and keeps the offset, so a follower simply polls again.
pub fn read_from<R: Read + Seek>(
    reader: &mut R,
    size: u64,
    offset: u64,
    max_bytes: usize,
    complete: bool,
) -> io::Result<LogSlice> {
    if offset >= size {
        return Ok(LogSlice::empty_at(offset, size));
    }
    let end = size.min(offset.saturating_add(max_bytes as u64));
    let mut bytes = vec![0; (end - offset) as usize];
    reader.seek(SeekFrom::Start(offset))?;
    let mut filled = 0;
    // The file may shrink under us only if someone truncates it; then stop short.
    while filled < bytes.len() {
        match reader.read(&mut bytes[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    bytes.truncate(filled);
    let at_end = offset + filled as u64 == size;
    if !(complete && at_end) {
        bytes.truncate(complete_utf8_len(&bytes));
    }
    Ok(LogSlice {
        next_offset: offset + bytes.len() as u64,
        bytes,
        offset,
        size,
        truncated: false,
    })
}

/// Reads the tail of the log at `path`; `None` when there is no file yet.
pub fn read_tail_file(
    path: &Path,
    lines: usize,
    max_bytes: usize,
    complete: bool,
) -> io::Result<Option<LogSlice>> {
    with_log(path, |file, size| {
        tail(file, size, lines, max_bytes, complete)
    })
}

/// Reads from `offset` in the log at `path`; `None` when there is no file yet.
pub fn read_file_from(
    path: &Path,
    offset: u64,
    max_bytes: usize,
    complete: bool,
) -> io::Result<Option<LogSlice>> {
    with_log(path, |file, size| {
        read_from(file, size, offset, max_bytes, complete)
    })
}

fn with_log<T>(
    path: &Path,
    read: impl FnOnce(&mut File, u64) -> io::Result<T>,
) -> io::Result<Option<T>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    read(&mut file, size).map(Some)
}

/// Appends one `[jobctl] …` line to a job's log, creating the file if the
/// job never got one.
pub fn append_jobctl_line(path: &Path, message: &str) -> io::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    append_note(&file, message)
}

/// Writes `[jobctl] message` on a line of its own: after a newline only if
/// the job's output does not already end with one (a progress bar, say).
/// `file` must be open for reading and in append mode; `O_APPEND` keeps the
/// line whole between the job's own writes.
pub fn append_note(file: &File, message: &str) -> io::Result<()> {
    let mut reader = file;
    let len = file.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        reader.seek(SeekFrom::Start(len - 1))?;
        reader.read_exact(&mut last)?;
    }
    let lead = if last[0] == b'\n' { "" } else { "\n" };
    let mut writer = file;
    writer.write_all(format!("{lead}[jobctl] {message}\n").as_bytes())
}

pub(crate) fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The length of `bytes` without a trailing, incomplete UTF-8 sequence.
/// Invalid bytes are left alone: they will never become valid, and lossy
/// decoding shows them the same wherever a chunk ends.
pub(crate) fn complete_utf8_len(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if is_continuation(b) {
            continue;
        }
        let needed = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if needed > back { len - back } else { len };
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// What `tail -n` prints, computed the slow obvious way.
    fn naive_tail(data: &[u8], n: usize) -> Vec<u8> {
        if n == 0 || data.is_empty() {
            return Vec::new();
        }
        let mut lines: Vec<&[u8]> = data.split_inclusive(|&b| b == b'\n').collect();
        let keep = lines.len().saturating_sub(n);
        lines.drain(..keep);
        lines.concat()
    }

    fn tail_of(data: &[u8], n: usize, max: usize) -> LogSlice {
        tail(&mut Cursor::new(data), data.len() as u64, n, max, true).unwrap()
    }

    #[test]
    fn tail_matches_the_naive_reader_on_awkward_files() {
        let long_line = "x".repeat(3 * TAIL_BLOCK + 17);
        let files: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\n".to_vec(),
            b"\n\n\n".to_vec(),
            b"one line no newline".to_vec(),
            b"a\nb\nc\n".to_vec(),
            b"a\nb\nc".to_vec(),
            b"a\r\nb\r\nc\r\n".to_vec(),
            b"\xff\xfe bad utf8\n\x00nul\n\xc3".to_vec(),
            format!("short\n{long_line}\nend\n").into_bytes(),
            (0..5000)
                .map(|i| format!("line {i}\n"))
                .collect::<String>()
                .into_bytes(),
            (0..5000)
                .map(|i| {
                    if i % 7 == 0 {
                        "\n".into()
                    } else {
                        format!("l{i}\n")
                    }
                })
                .collect::<String>()
                .into_bytes(),
        ];
        for data in &files {
            for n in [0, 1, 2, 3, 999, 1000, 1001, 10_000] {
                let got = tail_of(data, n, usize::MAX / 2);
                assert_eq!(
                    got.bytes,
                    naive_tail(data, n),
                    "n={n} file={:?}",
                    String::from_utf8_lossy(&data[..data.len().min(40)])
                );
                assert_eq!(got.next_offset, data.len() as u64);
                assert_eq!(got.offset + got.bytes.len() as u64, data.len() as u64);
                assert!(!got.truncated);
            }
        }
    }

    /// Pages backwards from the end with `before = offset` until the
    /// start, and puts the pages together again.
    fn pages_back(data: &[u8], lines: usize, max: usize) -> (Vec<u8>, usize) {
        let size = data.len() as u64;
        let mut pages: Vec<Vec<u8>> = Vec::new();
        let mut before = size;
        loop {
            let got = tail_before(&mut Cursor::new(data), size, before, lines, max, true).unwrap();
            assert_eq!(got.size, size);
            assert_eq!(got.next_offset, got.offset + got.bytes.len() as u64);
            assert!(got.offset <= before && got.next_offset <= before);
            assert_eq!(
                &data[got.offset as usize..got.next_offset as usize],
                got.bytes
            );
            // The text reaches up to `before` (only a cut character is left out).
            assert!(before - got.next_offset < 4, "{before} {}", got.next_offset);
            if got.offset == before {
                assert_eq!(before, 0, "no progress before the start");
                break;
            }
            before = got.offset;
            pages.push(got.bytes);
        }
        let count = pages.len();
        pages.reverse();
        (pages.concat(), count)
    }

    #[test]
    fn paging_back_with_before_rebuilds_the_file_without_gaps_or_repeats() {
        let numbered: Vec<u8> = (0..5000)
            .map(|i| format!("line {i} ünï€ode\n"))
            .collect::<String>()
            .into_bytes();
        let long = format!("a\n{}\nb\n", "🦀".repeat(10_000)).into_bytes();
        let awkward = b"\n\n\xff\xfe\n\x00nul\r\ncr\rno newline at the end".to_vec();
        for data in [&numbered, &long, &awkward] {
            for (lines, max) in [
                (1, 1 << 20),
                (7, 1 << 20),
                (1000, 1 << 20),
                (3, 101),
                (50, 4096),
            ] {
                let (rebuilt, pages) = pages_back(data, lines, max);
                assert_eq!(&rebuilt, data, "lines={lines} max={max}");
                assert!(pages >= 1);
            }
        }
        // Each page of whole lines is what `tail -n` would print of the
        // file cut at `before`.
        let size = numbered.len() as u64;
        let first =
            tail_before(&mut Cursor::new(&numbered), size, size, 10, 1 << 20, true).unwrap();
        let second = tail_before(
            &mut Cursor::new(&numbered),
            size,
            first.offset,
            10,
            1 << 20,
            true,
        )
        .unwrap();
        assert_eq!(
            second.bytes,
            naive_tail(&numbered[..first.offset as usize], 10)
        );
        assert!(
            String::from_utf8(second.bytes)
                .unwrap()
                .starts_with("line 4980 ")
        );
    }

    #[test]
    fn before_past_the_end_is_the_end_and_inside_a_character_is_its_start() {
        let data = "ab\n€€\n".as_bytes(); // € is 3 bytes: 3..6, 6..9
        let size = data.len() as u64;
        let got = tail_before(&mut Cursor::new(data), size, 1000, 10, 100, true).unwrap();
        assert_eq!(got.bytes, data);
        assert_eq!((got.offset, got.next_offset, got.size), (0, size, size));
        for (before, ends_at) in [(4, 3), (5, 3), (6, 6), (7, 6), (8, 6), (9, 9)] {
            let got = tail_before(&mut Cursor::new(data), size, before, 10, 100, true).unwrap();
            assert_eq!(got.next_offset, ends_at, "before={before}");
            assert!(std::str::from_utf8(&got.bytes).is_ok(), "before={before}");
        }
        // Invalid bytes are not characters: cut where asked.
        let bad = b"a\x80\x80\x80\x80b";
        let got = tail_before(&mut Cursor::new(bad), 6, 3, 10, 100, true).unwrap();
        assert_eq!(got.next_offset, 3);
        let got = tail_before(&mut Cursor::new(b"x"), 1, 0, 10, 100, true).unwrap();
        assert_eq!((got.offset, got.bytes.len()), (0, 0));
    }

    #[test]
    fn a_tail_longer_than_the_byte_cap_is_cut_and_flagged() {
        let data = "é".repeat(100_000).into_bytes(); // 200 000 bytes, no newline
        let got = tail_of(&data, 10, 1001);
        assert!(got.truncated);
        assert!(got.bytes.len() <= 1001);
        assert!(
            std::str::from_utf8(&got.bytes).is_ok(),
            "the cut starts on a character boundary"
        );
        assert_eq!(got.next_offset, data.len() as u64);
    }

    #[test]
    fn an_unfinished_character_at_the_end_is_held_back_while_the_job_runs() {
        let data = "ab€".as_bytes(); // € is 3 bytes
        let partial = &data[..data.len() - 1];
        let got = tail(
            &mut Cursor::new(partial),
            partial.len() as u64,
            10,
            1000,
            false,
        )
        .unwrap();
        assert_eq!(got.bytes, b"ab");
        assert_eq!(got.next_offset, 2);
        let got = read_from(
            &mut Cursor::new(partial),
            partial.len() as u64,
            0,
            100,
            false,
        )
        .unwrap();
        assert_eq!(got.bytes, b"ab");
        let done = read_from(
            &mut Cursor::new(partial),
            partial.len() as u64,
            0,
            100,
            true,
        )
        .unwrap();
        assert_eq!(done.bytes, partial, "a finished job gets every byte");
    }

    #[test]
    fn offset_reads_rebuild_the_file_byte_for_byte() {
        let mut data = Vec::new();
        for i in 0..3000 {
            data.extend_from_slice(format!("{i} ünï€ode 🦀 \r").as_bytes());
            if i % 13 == 0 {
                data.extend_from_slice(b"\xff\x00\n");
            }
        }
        for max in [4, 5, 7, 64, 1000, 4096] {
            let mut rebuilt = Vec::new();
            let mut text = String::new();
            let mut offset = 0;
            // The file grows while it is followed: each poll sees a bit more.
            let mut visible = 0;
            loop {
                visible = (visible + 997).min(data.len());
                let complete = visible == data.len();
                let got = read_from(
                    &mut Cursor::new(&data[..visible]),
                    visible as u64,
                    offset,
                    max,
                    complete,
                )
                .unwrap();
                assert_eq!(got.offset, offset);
                offset = got.next_offset;
                rebuilt.extend_from_slice(&got.bytes);
                text.push_str(&got.into_text());
                if complete && offset == data.len() as u64 {
                    break;
                }
            }
            assert_eq!(rebuilt, data, "max={max}");
            assert_eq!(text, String::from_utf8_lossy(&data), "max={max}");
        }
    }

    #[test]
    fn an_offset_past_the_end_reads_nothing_and_keeps_its_place() {
        let got = read_from(&mut Cursor::new(b"abc"), 3, 10, 100, false).unwrap();
        assert_eq!(got.bytes, b"");
        assert_eq!(got.next_offset, 10);
        assert_eq!(got.size, 3);
    }

    #[test]
    fn complete_utf8_len_cuts_only_unfinished_sequences() {
        assert_eq!(complete_utf8_len(b""), 0);
        assert_eq!(complete_utf8_len(b"abc"), 3);
        assert_eq!(complete_utf8_len("a€".as_bytes()), 4);
        assert_eq!(complete_utf8_len(&"a€".as_bytes()[..3]), 1);
        assert_eq!(complete_utf8_len(&"🦀".as_bytes()[..3]), 0);
        assert_eq!(complete_utf8_len(b"a\xff"), 2, "invalid stays");
        assert_eq!(complete_utf8_len(b"\x80\x80\x80\x80"), 4, "invalid stays");
    }

    /// Counts what is read, to show that a tail's cost does not grow with
    /// the file's size.
    struct Counting<R> {
        inner: R,
        read: u64,
    }
    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }
    impl<R: Seek> Seek for Counting<R> {
        fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
            self.inner.seek(pos)
        }
    }

    #[test]
    fn the_tail_of_a_huge_file_reads_a_bounded_number_of_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let size = 256 * 1024 * 1024u64;
        let tail_text: String = (0..1000).map(|i| format!("last line {i}\n")).collect();
        {
            // Sparse: 256 MiB of zeros costs no disk; a newline ends them.
            let mut f = File::create(&path).unwrap();
            f.set_len(size - tail_text.len() as u64 - 1).unwrap();
            f.seek(SeekFrom::End(0)).unwrap();
            f.write_all(b"\n").unwrap();
            f.write_all(tail_text.as_bytes()).unwrap();
        }
        let mut counting = Counting {
            inner: File::open(&path).unwrap(),
            read: 0,
        };
        let got = tail(&mut counting, size, 1000, MAX_TAIL_BYTES, true).unwrap();
        assert!(
            got.bytes == tail_text.as_bytes(),
            "the tail is the last 1000 lines ({} bytes returned)",
            got.bytes.len()
        );
        assert!(!got.truncated);
        assert!(
            // Reads double in size: at most twice what is returned, plus the first block.
            counting.read <= (2 * tail_text.len() + TAIL_BLOCK) as u64,
            "read {} bytes to find a {}-byte tail",
            counting.read,
            tail_text.len()
        );

        // Newline-free: 256 MiB of zeros and nothing else.
        let flat = dir.path().join("flat.log");
        File::create(&flat).unwrap().set_len(size).unwrap();
        let mut counting = Counting {
            inner: File::open(&flat).unwrap(),
            read: 0,
        };
        let got = tail(&mut counting, size, 1000, MAX_TAIL_BYTES, true).unwrap();
        assert!(got.truncated);
        assert_eq!(got.bytes.len(), MAX_TAIL_BYTES);
        assert!(counting.read <= (MAX_TAIL_BYTES + TAIL_BLOCK) as u64);
    }

    #[test]
    fn notes_start_on_a_line_of_their_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        append_jobctl_line(&path, "first").unwrap();
        let file = OpenOptions::new()
            .append(true)
            .read(true)
            .open(&path)
            .unwrap();
        (&file).write_all(b"progress 50%\r").unwrap();
        append_note(&file, "second").unwrap();
        (&file).write_all(b"done\n").unwrap();
        append_note(&file, "third").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[jobctl] first\nprogress 50%\r\n[jobctl] second\ndone\n[jobctl] third\n"
        );
    }

    #[test]
    fn a_missing_file_is_none_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.log");
        assert_eq!(read_tail_file(&path, 10, 100, false).unwrap(), None);
        assert_eq!(read_file_from(&path, 0, 100, false).unwrap(), None);
    }

    #[test]
    fn tail_agrees_with_gnu_tail() {
        if std::process::Command::new("tail")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("SKIPPED: GNU tail not found");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cases: Vec<Vec<u8>> = vec![
            b"a\nb\n\n\nc".to_vec(),
            b"\r\n\r\nx\r\n".to_vec(),
            b"\xc3\x28 invalid\n\xe2\x82\n\x00\x00\n".to_vec(),
            format!("{}\nshort\n", "y".repeat(200_000)).into_bytes(),
            (0..2500)
                .map(|i| format!("{i}\n"))
                .collect::<String>()
                .into_bytes(),
        ];
        for (k, data) in cases.iter().enumerate() {
            let path = dir.path().join(format!("{k}.log"));
            std::fs::write(&path, data).unwrap();
            for n in [0usize, 1, 2, 999, 1000, 1001] {
                let gnu = std::process::Command::new("tail")
                    .arg("-n")
                    .arg(n.to_string())
                    .arg(&path)
                    .output()
                    .unwrap();
                let ours = read_tail_file(&path, n, usize::MAX / 2, true)
                    .unwrap()
                    .unwrap();
                assert_eq!(ours.bytes, gnu.stdout, "case {k}, n={n}");
            }
        }
    }
}
