//! Redaction of a job's output before it reaches the log file.
//!
//! A [`Redactor`] is built once per job from the values of its secrets
//! (each value, its base64 — standard and URL-safe — and its
//! percent-encodings, each of the whole value) and, unless turned off, the
//! well-known token shapes of [`SHAPES`] and PEM private key blocks. A
//! [`RedactStream`] then runs over the job's output as it arrives, however
//! the job splits its writes, and replaces every occurrence with
//! `[redacted]`.
//!
//! One Aho-Corasick automaton (the `aho-corasick` crate, a DFA when the
//! patterns are small) holds every literal and every shape's prefix; the
//! stream steps it over each byte and keeps its state across writes. Bytes
//! are held back only while they may still be part of a match: while the
//! automaton is away from its start state (at most the longest pattern), a
//! shape's prefix is followed by fewer characters than the shape needs, or
//! a `-----BEGIN` line is not finished. Everything before that is released
//! at once, so live output stays live. A shape's run or a PEM block, once
//! recognised, is redacted as it streams past without being held; a PEM
//! block longer than [`PEM_MAX`] is redacted from its BEGIN line up to that
//! bound. Work is linear in the output and memory bounded by the patterns.

use std::collections::VecDeque;
use std::sync::Arc;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, MatchKind};
use base64::Engine;

/// What a worker redacts from its jobs' output (`jobctl worker --redact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RedactMode {
    /// Declared secrets and the well-known token shapes
    #[default]
    All,
    /// Declared secrets only
    Secrets,
    /// Nothing: job output goes straight to the log file, secrets included
    Off,
}

impl RedactMode {
    /// Whether the token shapes are redacted.
    pub fn shapes(self) -> bool {
        self == RedactMode::All
    }
    /// Whether declared secrets are redacted.
    pub fn secrets(self) -> bool {
        self != RedactMode::Off
    }
}

/// What every redacted stretch becomes.
pub const MARKER: &[u8] = b"[redacted]";

/// The longest PEM block redacted as one; the rest of a longer one passes.
pub const PEM_MAX: usize = 64 * 1024;

/// A well-known token shape: a fixed prefix followed by at least
/// `min_run` characters of `charset`. The whole run is redacted.
#[derive(Debug)]
pub struct Shape {
    /// Who issues such tokens.
    pub name: &'static str,
    pub prefix: &'static str,
    pub charset: fn(u8) -> bool,
    pub min_run: usize,
    /// A made-up token of this shape, for its test.
    pub example: &'static str,
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}
fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}
fn alnum_dash_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}
fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}
fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}
fn hex_underscore(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'_'
}

/// The token shapes redacted whether or not a job declared them.
pub const SHAPES: &[Shape] = &[
    Shape {
        name: "jobctl token",
        prefix: "jobctl_",
        charset: hex_underscore,
        min_run: 12 + 1 + 64,
        example: "jobctl_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    },
    Shape {
        name: "GitHub personal access token (classic)",
        prefix: "ghp_",
        charset: alnum,
        min_run: 36,
        example: "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    },
    Shape {
        name: "GitHub OAuth token",
        prefix: "gho_",
        charset: alnum,
        min_run: 36,
        example: "gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    },
    Shape {
        name: "GitHub user-to-server token",
        prefix: "ghu_",
        charset: alnum,
        min_run: 36,
        example: "ghu_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    },
    Shape {
        name: "GitHub server-to-server token",
        prefix: "ghs_",
        charset: alnum,
        min_run: 36,
        example: "ghs_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    },
    Shape {
        name: "GitHub refresh token",
        prefix: "ghr_",
        charset: alnum,
        min_run: 36,
        example: "ghr_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
    },
    Shape {
        name: "GitHub fine-grained personal access token",
        prefix: "github_pat_",
        charset: alnum_underscore,
        min_run: 82,
        example: "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ab",
    },
    Shape {
        name: "GitLab personal access token",
        prefix: "glpat-",
        charset: alnum_dash_underscore,
        min_run: 20,
        example: "glpat-aBcDeFgHiJ-kLmNoPqRsT",
    },
    Shape {
        name: "AWS access key id",
        prefix: "AKIA",
        charset: upper_digit,
        min_run: 16,
        example: "AKIAIOSFODNN7EXAMPLE",
    },
    Shape {
        name: "Slack app token",
        prefix: "xoxa-",
        charset: alnum_dash,
        min_run: 10,
        example: "xoxa-2-1234567890-abcdefghij",
    },
    Shape {
        name: "Slack bot token",
        prefix: "xoxb-",
        charset: alnum_dash,
        min_run: 10,
        example: "xoxb-1234567890-0987654321-aBcDeFgHiJkL",
    },
    Shape {
        name: "Slack user token",
        prefix: "xoxp-",
        charset: alnum_dash,
        min_run: 10,
        example: "xoxp-1234567890-0987654321-aBcDeFgHiJkL",
    },
    Shape {
        name: "Slack refresh token",
        prefix: "xoxr-",
        charset: alnum_dash,
        min_run: 10,
        example: "xoxr-1234567890-aBcDeFgHiJkL",
    },
    Shape {
        name: "Hugging Face token",
        prefix: "hf_",
        charset: alnum,
        min_run: 34,
        example: "hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567",
    },
];

/// How a PEM block begins; what follows up to `-----` must name a private key.
const PEM_BEGIN: &str = "-----BEGIN ";
/// The longest label (`RSA PRIVATE KEY`, …) looked at.
const PEM_LABEL_MAX: usize = 64;

/// What an automaton pattern stands for.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Literal,
    Shape(usize),
    PemBegin,
}

/// The patterns of one job, compiled; shared by its stdout/stderr stream.
pub struct Redactor {
    automaton: Box<dyn Automaton + Send + Sync>,
    kinds: Vec<Kind>,
    start: StateID,
    max_len: usize,
    /// The bytes that begin some pattern.
    first: [bool; 256],
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.kinds.len())
            .finish()
    }
}

/// Characters left as they are by percent-encoding (RFC 3986 unreserved).
const URL_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value and its common encodings, each of the whole value.
pub fn encodings(value: &str) -> Vec<String> {
    let bytes = value.as_bytes();
    // Unpadded (what some encoders write) and padded, so that the marker
    // takes the padding too.
    let mut out = vec![
        value.to_string(),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        base64::engine::general_purpose::STANDARD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE.encode(bytes),
    ];
    let upper = percent_encoding::utf8_percent_encode(value, URL_UNRESERVED).to_string();
    out.push(lowercase_escapes(&upper));
    // Form encoding writes a space as `+`.
    out.push(upper.replace("%20", "+"));
    out.push(upper);
    out.sort();
    out.dedup();
    out
}

/// `%2F` → `%2f`: some encoders write lowercase hex.
fn lowercase_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// Patterns at most this long in total get a DFA (fast, bigger); more get
/// the contiguous NFA (compact).
const DFA_MAX_PATTERN_BYTES: usize = 64 * 1024;

impl Redactor {
    /// Redacts these values (and their encodings) and, when `shapes`, the
    /// well-known token shapes. `None` when there is nothing to redact.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>, shapes: bool) -> Option<Arc<Self>> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut kinds = Vec::new();
        for value in values {
            if value.is_empty() {
                continue;
            }
            for encoded in encodings(value) {
                patterns.push(encoded.into_bytes());
                kinds.push(Kind::Literal);
            }
        }
        if shapes {
            for (i, shape) in SHAPES.iter().enumerate() {
                patterns.push(shape.prefix.as_bytes().to_vec());
                kinds.push(Kind::Shape(i));
            }
            patterns.push(PEM_BEGIN.as_bytes().to_vec());
            kinds.push(Kind::PemBegin);
        }
        if patterns.is_empty() {
            return None;
        }
        let total: usize = patterns.iter().map(Vec::len).sum();
        let automaton: Box<dyn Automaton + Send + Sync> = if total <= DFA_MAX_PATTERN_BYTES {
            Box::new(
                aho_corasick::dfa::DFA::builder()
                    .match_kind(MatchKind::Standard)
                    .start_kind(aho_corasick::StartKind::Unanchored)
                    .build(&patterns)
                    .expect("literal patterns within the size limits always build"),
            )
        } else {
            Box::new(
                aho_corasick::nfa::contiguous::NFA::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .expect("literal patterns within the size limits always build"),
            )
        };
        let start = automaton
            .start_state(Anchored::No)
            .expect("an unanchored automaton has an unanchored start");
        let max_len = automaton.max_pattern_len();
        let mut first = [false; 256];
        for p in &patterns {
            first[p[0] as usize] = true;
        }
        Some(Arc::new(Redactor {
            automaton,
            kinds,
            start,
            max_len,
            first,
        }))
    }

    /// A stream over one output.
    pub fn stream(self: &Arc<Self>) -> RedactStream {
        RedactStream {
            redactor: self.clone(),
            state: self.start,
            held: Vec::new(),
            held_start: 0,
            pos: 0,
            bound: 0,
            intervals: VecDeque::new(),
            candidates: Vec::new(),
            pem: None,
            in_marker: false,
        }
    }
}

/// A shape's prefix seen, its run being read.
#[derive(Debug)]
struct Candidate {
    shape: usize,
    /// Where the prefix starts.
    start: u64,
    /// Characters of the charset after the prefix so far.
    run: usize,
}

/// A PEM block being read.
#[derive(Debug)]
enum Pem {
    /// `-----BEGIN ` seen at `start`; reading the label.
    Header { start: u64, label: Vec<u8> },
    /// A private key's block: redacted up to its END line or [`PEM_MAX`].
    Body { start: u64, line: Vec<u8> },
}

/// The redaction of one output stream. Feed it with [`RedactStream::write`],
/// end it with [`RedactStream::finish`].
pub struct RedactStream {
    redactor: Arc<Redactor>,
    state: StateID,
    /// Bytes not yet released; `held[0]` is at offset `held_start`.
    held: Vec<u8>,
    held_start: u64,
    /// Offset of the next byte.
    pos: u64,
    /// At least the depth of the automaton's state: the bytes since it
    /// last was at its start, at most the longest pattern.
    bound: usize,
    /// Stretches to redact, `[start, end)`, sorted and disjoint.
    intervals: VecDeque<(u64, u64)>,
    candidates: Vec<Candidate>,
    pem: Option<Pem>,
    /// The last byte released was redacted: a stretch that goes on gets no
    /// second marker.
    in_marker: bool,
}

impl RedactStream {
    /// Takes the next bytes of the output; appends to `out` what can be
    /// released now.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let redactor = self.redactor.clone();
        let first = &redactor.first;
        let mut i = 0;
        while i < input.len() {
            if self.state == self.redactor.start && self.candidates.is_empty() && self.pem.is_none()
            {
                // Nothing under way: skip to the next byte that can begin
                // a pattern (from the start state every other byte leads
                // back to it).
                match input[i..].iter().position(|&b| first[b as usize]) {
                    Some(k) => {
                        self.pos += k as u64;
                        i += k;
                    }
                    None => {
                        self.pos += (input.len() - i) as u64;
                        break;
                    }
                }
            }
            self.step(input[i]);
            i += 1;
        }
        let release = self.release_point();
        if self.held.is_empty() {
            // The usual case: released straight from the input, only what
            // must wait is copied.
            let input_start = self.pos - input.len() as u64;
            self.emit(input, input_start, release, out);
            self.held
                .extend_from_slice(&input[(release - input_start) as usize..]);
        } else {
            self.held.extend_from_slice(input);
            let held = std::mem::take(&mut self.held);
            self.emit(&held, self.held_start, release, out);
            self.held = held;
            self.held.drain(..(release - self.held_start) as usize);
        }
        self.held_start = release;
    }

    /// The output has ended: releases everything still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.candidates.clear();
        self.pem = None;
        let held = std::mem::take(&mut self.held);
        self.emit(&held, self.held_start, self.pos, out);
        self.held_start = self.pos;
    }

    /// Bytes held back right now (for tests and the bound).
    pub fn held(&self) -> usize {
        self.held.len()
    }

    fn step(&mut self, b: u8) {
        let end = self.pos + 1;
        // Runs of shapes already seen.
        let mut i = 0;
        while i < self.candidates.len() {
            let c = &mut self.candidates[i];
            let shape = &SHAPES[c.shape];
            if (shape.charset)(b) {
                c.run += 1;
                if c.run >= shape.min_run {
                    let start = c.start;
                    add_interval(&mut self.intervals, start, end);
                }
                i += 1;
            } else {
                self.candidates.swap_remove(i);
            }
        }
        self.step_pem(b, end);
        let ac = &self.redactor.automaton;
        self.state = ac.next_state(Anchored::No, self.state, b);
        if ac.is_special(self.state) && ac.is_match(self.state) {
            for m in 0..ac.match_len(self.state) {
                let pid = ac.match_pattern(self.state, m);
                let start = end - ac.pattern_len(pid) as u64;
                match self.redactor.kinds[pid.as_usize()] {
                    Kind::Literal => add_interval(&mut self.intervals, start, end),
                    Kind::Shape(shape) => {
                        if !self.candidates.iter().any(|c| c.shape == shape) {
                            self.candidates.push(Candidate {
                                shape,
                                start,
                                run: 0,
                            });
                        }
                    }
                    Kind::PemBegin => {
                        if self.pem.is_none() {
                            self.pem = Some(Pem::Header {
                                start,
                                label: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        self.bound = if self.state == self.redactor.start {
            0
        } else {
            (self.bound + 1).min(self.redactor.max_len)
        };
        self.pos = end;
    }

    fn step_pem(&mut self, b: u8, end: u64) {
        match &mut self.pem {
            None => {}
            Some(Pem::Header { start, label }) => {
                if b == b'\n' || label.len() > PEM_LABEL_MAX + 5 {
                    self.pem = None;
                    return;
                }
                label.push(b);
                if let Some(name) = label.strip_suffix(b"-----") {
                    if name.ends_with(b"PRIVATE KEY") || name.ends_with(b"PRIVATE KEY BLOCK") {
                        let start = *start;
                        add_interval(&mut self.intervals, start, end);
                        self.pem = Some(Pem::Body {
                            start,
                            line: Vec::new(),
                        });
                    } else {
                        self.pem = None;
                    }
                }
            }
            Some(Pem::Body { start, line }) => {
                let start = *start;
                add_interval(&mut self.intervals, start, end);
                if b == b'\n' {
                    line.clear();
                } else if line.len() < 128 {
                    line.push(b);
                }
                let done =
                    line.starts_with(b"-----END ") && line.len() > 14 && line.ends_with(b"-----");
                if done || end - start >= PEM_MAX as u64 {
                    self.pem = None;
                }
            }
        }
    }

    /// Everything before this offset can go out now.
    fn release_point(&self) -> u64 {
        let mut point = self.pos - self.bound as u64;
        // Held bytes already known to be redacted can go out as the
        // marker: whatever longer match is still possible lies inside.
        for &(s, e) in &self.intervals {
            if s <= point && point < e {
                point = e;
            }
        }
        for c in &self.candidates {
            if c.run < SHAPES[c.shape].min_run {
                point = point.min(c.start);
            }
        }
        if let Some(Pem::Header { start, .. }) = &self.pem {
            point = point.min(*start);
        }
        point.max(self.held_start)
    }

    /// Appends `data` (which starts at offset `data_start`) from
    /// `held_start` up to `upto`, each redacted stretch as one marker.
    fn emit(&mut self, data: &[u8], data_start: u64, upto: u64, out: &mut Vec<u8>) {
        let mut q = self.held_start;
        let idx = |o: u64| (o - data_start) as usize;
        while q < upto {
            while self.intervals.front().is_some_and(|&(_, e)| e <= q) {
                self.intervals.pop_front();
            }
            match self.intervals.front() {
                Some(&(s, e)) if s <= q => {
                    if !self.in_marker {
                        out.extend_from_slice(MARKER);
                        self.in_marker = true;
                    }
                    q = e.min(upto);
                }
                next => {
                    let stop = next.map_or(upto, |&(s, _)| s.min(upto));
                    out.extend_from_slice(&data[idx(q)..idx(stop)]);
                    self.in_marker = false;
                    q = stop;
                }
            }
        }
    }
}

/// Adds `[start, end)`, merging with what it overlaps or touches.
fn add_interval(intervals: &mut VecDeque<(u64, u64)>, mut start: u64, mut end: u64) {
    while let Some(&(s, e)) = intervals.back() {
        if e >= start {
            start = start.min(s);
            end = end.max(e);
            intervals.pop_back();
        } else {
            break;
        }
    }
    intervals.push_back((start, end));
}

/// Redacts a whole text at once (for `[jobctl]` lines and tests).
pub fn redact_all(redactor: &Arc<Redactor>, input: &[u8]) -> Vec<u8> {
    let mut stream = redactor.stream();
    let mut out = Vec::new();
    stream.write(input, &mut out);
    stream.finish(&mut out);
    out
}

/// `jobctl __redact`: the output filter of a Slurm job's batch script
/// (see [`crate::worker::slurm`]). Copies stdin to stdout, redacted like
/// the local supervisor's copier, until the job's last process closes the
/// pipe. The values are read from the environment variables named by
/// `--secret`, which the batch script exported from its secrets file.
///
/// SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 are ignored: a cancel or
/// the time limit reaches every process of the Slurm job, and the filter
/// must outlive the job to write its last bytes. The job's exit status is
/// the batch script's business (`PIPESTATUS`), not this process's.
pub fn filter(args: &crate::cli::RedactArgs) -> std::process::ExitCode {
    use std::io::{Read, Write};
    for sig in [
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ] {
        // SAFETY: SIG_IGN is a valid disposition for these signals.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let values: Vec<String> = args
        .secret
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .collect();
    let redactor = Redactor::new(values.iter().map(String::as_str), args.shapes);
    let mut stream = redactor.map(|r| r.stream());
    let mut input = std::io::stdin().lock();
    // Straight to fd 1 (the log file), not through std's line buffering.
    // SAFETY: fd 1 stays open for the process's life; ManuallyDrop keeps
    // this borrowed handle from closing it.
    let mut output = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(1)
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buf.len() + 64);
    // Once the log cannot be written (a full disk), input is still drained
    // so that the job does not block for ever.
    let mut writable = true;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        out.clear();
        match &mut stream {
            Some(stream) => stream.write(&buf[..n], &mut out),
            None => out.extend_from_slice(&buf[..n]),
        }
        if writable && !out.is_empty() {
            writable = output.write_all(&out).is_ok();
        }
    }
    out.clear();
    if let Some(stream) = &mut stream {
        stream.finish(&mut out);
    }
    if writable && !out.is_empty() {
        writable = output.write_all(&out).is_ok();
    }
    if writable {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes_only() -> Arc<Redactor> {
        Redactor::new([], true).unwrap()
    }

    /// Output of `input` fed one byte at a time.
    fn bytewise(redactor: &Arc<Redactor>, input: &[u8]) -> Vec<u8> {
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        for b in input {
            stream.write(std::slice::from_ref(b), &mut out);
        }
        stream.finish(&mut out);
        out
    }

    #[test]
    fn every_shape_in_the_table_is_redacted() {
        let r = shapes_only();
        for shape in SHAPES {
            assert!(shape.example.starts_with(shape.prefix), "{}", shape.name);
            let text = format!("token: {} end\n", shape.example);
            for out in [
                redact_all(&r, text.as_bytes()),
                bytewise(&r, text.as_bytes()),
            ] {
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    "token: [redacted] end\n",
                    "{}",
                    shape.name
                );
            }
            // One character short of the shape is ordinary text.
            let short = &shape.example[..shape.prefix.len() + shape.min_run - 1];
            let text = format!("{short} x");
            assert_eq!(
                redact_all(&r, text.as_bytes()),
                text.as_bytes(),
                "{}: {short}",
                shape.name
            );
        }
    }

    #[test]
    fn a_real_jobctl_token_is_a_jobctl_shape() {
        let token = crate::auth::mint().secret;
        let out = redact_all(&shapes_only(), format!("t={token}\n").as_bytes());
        assert_eq!(out, b"t=[redacted]\n");
    }

    #[test]
    fn pem_private_key_blocks_are_redacted_public_ones_are_not() {
        let r = shapes_only();
        for label in [
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "PGP PRIVATE KEY BLOCK",
        ] {
            let text = format!(
                "before\n-----BEGIN {label}-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END {label}-----\nafter\n"
            );
            for out in [
                redact_all(&r, text.as_bytes()),
                bytewise(&r, text.as_bytes()),
            ] {
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    "before\n[redacted]\nafter\n",
                    "{label}"
                );
            }
        }
        let public = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(redact_all(&r, public.as_bytes()), public.as_bytes());
    }

    #[test]
    fn a_pem_block_without_end_is_redacted_up_to_the_bound() {
        let r = shapes_only();
        let mut text = b"-----BEGIN PRIVATE KEY-----\n".to_vec();
        text.extend(std::iter::repeat_n(b'A', PEM_MAX * 2));
        let out = redact_all(&r, &text);
        assert!(out.starts_with(MARKER));
        assert!(out.len() < PEM_MAX * 2, "the rest passes: {}", out.len());
        let mut stream = r.stream();
        let mut out = Vec::new();
        stream.write(&text, &mut out);
        assert!(stream.held() < 100, "a PEM body is not held back");
    }

    #[test]
    fn values_and_their_encodings_are_redacted_across_any_split() {
        let value = "p@ss word/with+chars";
        let r = Redactor::new([value], false).unwrap();
        for encoded in encodings(value) {
            let text = format!("a {encoded} b {encoded}");
            assert_eq!(
                bytewise(&r, text.as_bytes()),
                b"a [redacted] b [redacted]",
                "{encoded}"
            );
        }
        let b64 = base64::engine::general_purpose::STANDARD.encode(value);
        assert!(b64.ends_with('='), "padding is covered too");
        assert_eq!(
            redact_all(&r, format!("[{b64}]").as_bytes()),
            b"[[redacted]]"
        );
    }

    #[test]
    fn only_a_possible_partial_match_is_held_back() {
        let r = Redactor::new(["supersecret"], false).unwrap();
        let mut stream = r.stream();
        let mut out = Vec::new();
        stream.write(b"hello super", &mut out);
        assert_eq!(out, b"hello ");
        assert_eq!(stream.held(), 5);
        stream.write(b"man\n", &mut out);
        assert_eq!(out, b"hello superman\n");
        assert_eq!(stream.held(), 0);
        stream.write(b"x supersecr", &mut out);
        stream.write(b"et", &mut out);
        assert_eq!(out, b"hello superman\nx [redacted]");
        stream.write(b"!", &mut out);
        stream.finish(&mut out);
        assert_eq!(out, b"hello superman\nx [redacted]!");
    }

    #[test]
    fn nothing_to_redact_is_no_redactor() {
        assert!(Redactor::new([], false).is_none());
    }

    /// What redaction must produce: every occurrence of every pattern, found
    /// naively in the whole text, each maximal stretch one marker.
    fn reference(patterns: &[String], input: &[u8]) -> Vec<u8> {
        let mut redacted = vec![false; input.len()];
        for p in patterns {
            let p = p.as_bytes();
            for i in 0..input.len().saturating_sub(p.len() - 1) {
                if &input[i..i + p.len()] == p {
                    redacted[i..i + p.len()].iter_mut().for_each(|r| *r = true);
                }
            }
        }
        let mut out = Vec::new();
        for (i, &b) in input.iter().enumerate() {
            if !redacted[i] {
                out.push(b);
            } else if i == 0 || !redacted[i - 1] {
                out.extend_from_slice(MARKER);
            }
        }
        out
    }

    fn split_run(redactor: &Arc<Redactor>, input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        cuts.sort();
        let mut stream = redactor.stream();
        let mut out = Vec::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([input.len()]) {
            stream.write(&input[from..cut], &mut out);
            from = cut;
        }
        stream.finish(&mut out);
        out
    }

    use proptest::prelude::*;

    /// A small alphabet, so that values overlap, repeat and half-match
    /// each other and the filler; no `[` or `]`, so no value can be made
    /// up of a marker and its neighbours.
    const ALPHABET: &[u8] = b"abcAB01 -_/+=%";

    fn text(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(ALPHABET), len)
            .prop_map(|v| String::from_utf8(v).unwrap())
    }

    #[derive(Debug, Clone)]
    enum Piece {
        Filler(String),
        Value(usize, usize),
    }

    fn case() -> impl Strategy<Value = (Vec<String>, Vec<Piece>, Vec<usize>)> {
        (
            proptest::collection::vec(text(6..16), 1..4),
            proptest::collection::vec(
                prop_oneof![
                    text(0..24).prop_map(Piece::Filler),
                    (any::<usize>(), any::<usize>()).prop_map(|(v, e)| Piece::Value(v, e)),
                ],
                0..12,
            ),
            proptest::collection::vec(any::<usize>(), 0..20),
        )
    }

    fn assemble(values: &[String], pieces: &[Piece]) -> (Vec<u8>, Vec<String>) {
        let all: Vec<String> = values.iter().flat_map(|v| encodings(v)).collect();
        let mut input = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Filler(t) => input.extend_from_slice(t.as_bytes()),
                Piece::Value(v, e) => {
                    let encoded = encodings(&values[v % values.len()]);
                    input.extend_from_slice(encoded[e % encoded.len()].as_bytes());
                }
            }
        }
        (input, all)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// However the writes are split, no value or encoding gets
        /// through, and every other byte arrives unchanged and in order.
        #[test]
        fn redaction_is_exact_under_any_split((values, pieces, cuts) in case()) {
            let (input, patterns) = assemble(&values, &pieces);
            let redactor = Redactor::new(values.iter().map(String::as_str), false).unwrap();
            let out = split_run(&redactor, &input, &cuts);
            for p in &patterns {
                prop_assert!(
                    !out.windows(p.len()).any(|w| w == p.as_bytes()),
                    "{p:?} got through"
                );
            }
            prop_assert_eq!(out, reference(&patterns, &input));
        }

        /// With the token shapes on too, a split changes nothing and no
        /// value gets through.
        #[test]
        fn shapes_on_split_or_whole_is_the_same((values, pieces, cuts) in case()) {
            let (mut input, patterns) = assemble(&values, &pieces);
            input.extend_from_slice(b" ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 ");
            let redactor = Redactor::new(values.iter().map(String::as_str), true).unwrap();
            let out = split_run(&redactor, &input, &cuts);
            prop_assert_eq!(&out, &redact_all(&redactor, &input));
            for p in &patterns {
                prop_assert!(!out.windows(p.len()).any(|w| w == p.as_bytes()));
            }
            prop_assert!(!out.windows(4).any(|w| w == b"ghp_"));
        }
    }
}
