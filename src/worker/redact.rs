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
//! stream keeps its state across writes. While nothing is under way the
//! crate's searcher over the same patterns (its SIMD prefilters: Teddy for
//! a few dozen patterns) skips to where the next occurrence begins, and the
//! automaton is stepped byte by byte only from there, its state re-derived
//! from the last bytes skipped; ordinary output goes by at many GB/s. Bytes
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
    /// The same patterns, leftmost-first, with the crate's prefilters
    /// (SIMD: Teddy, memchr): finds where the next occurrence begins.
    finder: aho_corasick::AhoCorasick,
    kinds: Vec<Kind>,
    start: StateID,
    max_len: usize,
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
    ///
    /// The shapes alone (a job without secrets, the common case) are built
    /// once per process and shared: the worker's zygote builds them before
    /// it forks, so each supervisor it forks starts with them built.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>, shapes: bool) -> Option<Arc<Self>> {
        static SHAPES_ONLY: std::sync::OnceLock<Arc<Redactor>> = std::sync::OnceLock::new();
        let values: Vec<&str> = values.into_iter().filter(|v| !v.is_empty()).collect();
        if values.is_empty() && shapes {
            return Some(
                SHAPES_ONLY
                    .get_or_init(|| Self::build(&[], true).expect("the shapes are patterns"))
                    .clone(),
            );
        }
        Self::build(&values, shapes)
    }

    fn build(values: &[&str], shapes: bool) -> Option<Arc<Self>> {
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut kinds = Vec::new();
        for value in values {
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
        let finder = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&patterns)
            .expect("literal patterns within the size limits always build");
        Some(Arc::new(Redactor {
            automaton,
            finder,
            kinds,
            start,
            max_len,
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
            redactions: 0,
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
    /// Markers written so far: each redacted stretch counts once.
    redactions: u64,
}

impl RedactStream {
    /// Takes the next bytes of the output; appends to `out` what can be
    /// released now.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.write_with(input, |piece| out.extend_from_slice(piece));
    }

    /// Takes the next bytes of the output; hands what can be released now
    /// to `emit`, in order, as slices of `input`, of the bytes held back
    /// before, or the marker — nothing is copied on the way.
    pub fn write_with(&mut self, input: &[u8], mut emit: impl FnMut(&[u8])) {
        self.scan(input);
        let release = self.release_point();
        let input_start = self.pos - input.len() as u64;
        let mut held = std::mem::take(&mut self.held);
        self.emit(&held, input, release, &mut emit);
        // Keep `[release, pos)`: a possible partial match, short.
        if release >= input_start {
            held.clear();
            held.extend_from_slice(&input[(release - input_start) as usize..]);
        } else {
            held.drain(..(release - self.held_start) as usize);
            held.extend_from_slice(input);
        }
        self.held = held;
        self.held_start = release;
    }

    /// The output has ended: releases everything still held.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.finish_with(|piece| out.extend_from_slice(piece));
    }

    /// [`RedactStream::finish`], handing the pieces to `emit`.
    pub fn finish_with(&mut self, mut emit: impl FnMut(&[u8])) {
        self.candidates.clear();
        self.pem = None;
        let held = std::mem::take(&mut self.held);
        self.emit(&held, &[], self.pos, &mut emit);
        self.held_start = self.pos;
    }

    /// Nothing under way: the automaton at its start, no shape's run or
    /// PEM block being read.
    fn idle(&self) -> bool {
        self.state == self.redactor.start && self.candidates.is_empty() && self.pem.is_none()
    }

    /// Runs the matching over `input`. While nothing is under way the
    /// finder (SIMD prefilters) skips to where the next occurrence of a
    /// pattern begins; only from there is the automaton stepped byte by
    /// byte, until nothing is under way again. Where the finder skipped,
    /// the automaton's state is re-derived from the last `max_len - 1`
    /// bytes skipped, which no occurrence ends in.
    fn scan(&mut self, input: &[u8]) {
        let redactor = self.redactor.clone();
        let n = input.len();
        let mut i = 0;
        while i < n {
            if !self.idle() {
                self.step(input[i]);
                i += 1;
                continue;
            }
            // From the start state at `i`, every occurrence from here on
            // begins at `i` or later, so the finder sees them all; the
            // leftmost one begins where it says, and none ends before.
            let found = redactor
                .finder
                .find(aho_corasick::Input::new(input).span(i..n));
            let to = found.map_or(n, |m| m.start());
            // A partial match in progress at `to` began at most
            // `max_len - 1` bytes before it (a longer one would be a whole
            // occurrence beginning before `to`), and not before `i`.
            let from = to.saturating_sub(redactor.max_len - 1).max(i);
            self.pos += (from - i) as u64;
            self.bound = 0;
            for &b in &input[from..to] {
                self.advance(b);
            }
            i = to;
            if i < n {
                // The occurrence's first byte: no longer idle after it.
                self.step(input[i]);
                i += 1;
            }
        }
    }

    /// Steps the automaton over a byte in which no occurrence ends and
    /// nothing is under way (re-deriving its state).
    fn advance(&mut self, b: u8) {
        let ac = &self.redactor.automaton;
        self.state = ac.next_state(Anchored::No, self.state, b);
        debug_assert!(!(ac.is_special(self.state) && ac.is_match(self.state)));
        self.bound = if self.state == self.redactor.start {
            0
        } else {
            (self.bound + 1).min(self.redactor.max_len)
        };
        self.pos += 1;
    }

    /// How many redacted stretches have been released so far, each as one
    /// marker: a value printed twice counts 2, a token shape or PEM block
    /// 1, overlapping or touching occurrences 1 together.
    pub fn redactions(&self) -> u64 {
        self.redactions
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

    /// Hands `held ++ input` (`held` starts at `held_start`) from
    /// `held_start` up to `upto` to `emit`, each redacted stretch as one
    /// marker.
    fn emit(&mut self, held: &[u8], input: &[u8], upto: u64, emit: &mut impl FnMut(&[u8])) {
        let held_start = self.held_start;
        let input_start = held_start + held.len() as u64;
        // The bytes `[from, to)`, from `held`, `input` or both.
        let plain = |from: u64, to: u64, emit: &mut dyn FnMut(&[u8])| {
            if from >= to {
                return;
            }
            if from < input_start {
                let end = to.min(input_start);
                emit(&held[(from - held_start) as usize..(end - held_start) as usize]);
            }
            if to > input_start {
                let begin = from.max(input_start);
                emit(&input[(begin - input_start) as usize..(to - input_start) as usize]);
            }
        };
        let mut q = held_start;
        while q < upto {
            while self.intervals.front().is_some_and(|&(_, e)| e <= q) {
                self.intervals.pop_front();
            }
            match self.intervals.front() {
                Some(&(s, e)) if s <= q => {
                    if !self.in_marker {
                        emit(MARKER);
                        self.in_marker = true;
                        self.redactions += 1;
                    }
                    q = e.min(upto);
                }
                next => {
                    let stop = next.map_or(upto, |&(s, _)| s.min(upto));
                    plain(q, stop, emit);
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
    // SAFETY: fds 0 and 1 stay open for the process's life; ManuallyDrop
    // keeps these borrowed handles from closing them. Fd 1 is the log
    // file: written straight, not through std's line buffering.
    let mut input = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(0)
    });
    let mut output = std::mem::ManuallyDrop::new(unsafe {
        <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(1)
    });
    if pump(&mut *input, &mut *output, stream.as_mut()) {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

/// How much of a job's output is read at once: what `cat` uses. Bigger
/// reads pass more bytes per system call but fall out of the L2 cache
/// between the read and the write (1 MiB `dd` blocks took twice the
/// system time of 128 KiB ones, BENCHMARKS.md 4b). The pipe keeps its
/// default size: a 1 MiB pipe (`F_SETPIPE_SZ`) gained nothing measurable
/// and would count against the user's pipe-buffer limit for every job.
pub const COPY_CHUNK: usize = 128 * 1024;

/// Copies `input` to `output` until its end, redacted by `stream` when
/// there is one: what can be released goes out straight from the read
/// buffer. Once `output` cannot be written (a full disk), `input` is
/// still drained so that the job does not block for ever; false then.
pub fn pump(
    input: &mut impl std::io::Read,
    output: &mut impl std::io::Write,
    mut stream: Option<&mut RedactStream>,
) -> bool {
    // Page-aligned, like `cat`'s: the kernel's copy out of the pipe into a
    // buffer 16 bytes off a page (what the allocator hands out) took 43 %
    // of the copier's time (`perf`, BENCHMARKS.md 4b).
    let mut storage = vec![0u8; COPY_CHUNK + 4096];
    let offset = storage.as_ptr().align_offset(4096);
    let buf = &mut storage[offset..offset + COPY_CHUNK];
    let mut writable = true;
    let mut put = |piece: &[u8]| {
        if writable && !piece.is_empty() {
            writable = output.write_all(piece).is_ok();
        }
    };
    loop {
        let n = match input.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        match stream.as_deref_mut() {
            Some(stream) => stream.write_with(&buf[..n], &mut put),
            None => put(&buf[..n]),
        }
    }
    if let Some(stream) = stream {
        stream.finish_with(&mut put);
    }
    writable
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
    fn each_redacted_stretch_is_counted_once() {
        let r = Redactor::new(["supersecret"], true).unwrap();
        let mut stream = r.stream();
        let mut out = Vec::new();
        // Twice apart, once split over two writes, twice touching (one
        // stretch, one marker), and a token shape.
        stream.write(b"a supersecret b supersecret c super", &mut out);
        assert_eq!(stream.redactions(), 2);
        stream.write(b"secret d supersecretsupersecret ", &mut out);
        stream.write(b"ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", &mut out);
        stream.finish(&mut out);
        assert_eq!(
            out,
            b"a [redacted] b [redacted] c [redacted] d [redacted] [redacted]"
        );
        assert_eq!(stream.redactions(), 5);
    }

    #[test]
    fn nothing_to_redact_is_no_redactor() {
        assert!(Redactor::new([], false).is_none());
    }

    /// What redaction must produce: every occurrence of every pattern, found
    /// naively in the whole text, each maximal stretch one marker.
    fn reference(patterns: &[String], input: &[u8]) -> Vec<u8> {
        let mut redacted = vec![false; input.len()];
        mark_literals(patterns, input, &mut redacted);
        marked(input, &redacted)
    }

    fn mark_literals(patterns: &[String], input: &[u8], redacted: &mut [bool]) {
        for p in patterns {
            let p = p.as_bytes();
            for i in 0..input.len().saturating_sub(p.len() - 1) {
                if &input[i..i + p.len()] == p {
                    redacted[i..i + p.len()].iter_mut().for_each(|r| *r = true);
                }
            }
        }
    }

    /// [`reference`] with the token shapes too (no PEM blocks): every
    /// prefix followed by a long enough run, with its whole run.
    fn reference_with_shapes(patterns: &[String], input: &[u8]) -> Vec<u8> {
        let mut redacted = vec![false; input.len()];
        mark_literals(patterns, input, &mut redacted);
        for shape in SHAPES {
            let p = shape.prefix.as_bytes();
            for i in 0..input.len() {
                if input[i..].starts_with(p) {
                    let after = i + p.len();
                    let run = input[after..]
                        .iter()
                        .take_while(|&&b| (shape.charset)(b))
                        .count();
                    if run >= shape.min_run {
                        redacted[i..after + run].iter_mut().for_each(|r| *r = true);
                    }
                }
            }
        }
        marked(input, &redacted)
    }

    fn marked(input: &[u8], redacted: &[bool]) -> Vec<u8> {
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
        // No input holds the marker itself: each one in the output is one
        // redaction counted.
        let markers = out.windows(MARKER.len()).filter(|w| *w == MARKER).count();
        assert_eq!(stream.redactions(), markers as u64, "redactions counted");
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

        /// Values that contain token prefixes or each other, tokens of
        /// every shape just long enough or one short, bare prefixes, all
        /// split anywhere: exactly what a naive search of the whole text
        /// redacts.
        #[test]
        fn nested_values_and_shapes_match_a_naive_reference(
            (values, pieces, cuts) in nested_case()
        ) {
            let (input, patterns) = assemble(&values, &pieces);
            let redactor = Redactor::new(values.iter().map(String::as_str), true).unwrap();
            let expected = reference_with_shapes(&patterns, &input);
            prop_assert_eq!(&split_run(&redactor, &input, &cuts), &expected);
            prop_assert_eq!(&redact_all(&redactor, &input), &expected);
        }
    }

    /// A value with a token prefix (or another value) inside it.
    fn nested_value() -> impl Strategy<Value = String> {
        (text(0..8), 0..SHAPES.len(), text(0..8), any::<bool>()).prop_map(|(a, i, b, pre)| {
            let v = format!("{a}{}{b}", if pre { SHAPES[i].prefix } else { "" });
            if v.len() < 6 { format!("{v}secret") } else { v }
        })
    }

    fn nested_case() -> impl Strategy<Value = (Vec<String>, Vec<Piece>, Vec<usize>)> {
        (
            proptest::collection::vec(prop_oneof![text(6..16), nested_value()], 1..4).prop_map(
                |mut values| {
                    // One value inside another, now and then.
                    if values.len() > 1 && values[0].len() % 2 == 0 {
                        values[1] = format!("{}{}", values[1], values[0]);
                    }
                    values
                },
            ),
            proptest::collection::vec(
                prop_oneof![
                    text(0..24).prop_map(Piece::Filler),
                    (any::<usize>(), any::<usize>()).prop_map(|(v, e)| Piece::Value(v, e)),
                    (0..SHAPES.len(), 0usize..4).prop_map(|(i, short)| {
                        // A token of the shape, up to three characters too short.
                        let s = &SHAPES[i];
                        let len = (s.prefix.len() + s.min_run + 1).saturating_sub(short);
                        Piece::Filler(s.example[..len.min(s.example.len())].to_string())
                    }),
                    (0..SHAPES.len()).prop_map(|i| Piece::Filler(SHAPES[i].prefix.to_string())),
                ],
                0..16,
            ),
            proptest::collection::vec(any::<usize>(), 0..20),
        )
    }

    /// Splits at every position, for inputs where patterns nest and
    /// overlap: a value holding a token prefix and another value, a token
    /// inside a value, a PEM block, a value as the very last bytes.
    #[test]
    fn a_split_at_every_position_changes_nothing() {
        let values = ["xhf_secret1", "abcdefgh", "zzabcdefghzz"];
        let r = Redactor::new(values, true).unwrap();
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY-----\n";
        let inputs = [
            "a xhf_secret1 b zzabcdefghzz c abcdefg abcdefgh".to_string(),
            format!(
                "[{}] hf_ xhf_secret1hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567",
                "ab"
            ),
            format!("2026-01-01 -----BEGIN x\n{pem}after ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"),
            "AKIAIOSFODNN7EXAMPLEAKIA zzabcdefgh".to_string(),
            "tail abcdefgh".to_string(),
            "tail hf_aBcDeFgHiJkLmNoPqRsTuVwXyZ01234567".to_string(),
        ];
        for input in &inputs {
            let input = input.as_bytes();
            let whole = redact_all(&r, input);
            assert_eq!(whole, bytewise(&r, input));
            for v in values {
                assert!(!whole.windows(v.len()).any(|w| w == v.as_bytes()));
            }
            for a in 0..=input.len() {
                assert_eq!(split_run(&r, input, &[a]), whole, "cut at {a}");
                for b in a..=input.len() {
                    assert_eq!(split_run(&r, input, &[a, b]), whole, "cuts at {a}, {b}");
                }
            }
        }
    }

    /// Long output in big chunks (where the finder's SIMD prefilters run)
    /// with secrets and tokens here and there, straddling chunk borders:
    /// the naive reference, and bounded hold-back.
    #[test]
    fn long_output_in_chunks_matches_the_reference() {
        let values = ["p@ss-word-1234", "another_Secret9"];
        let r = Redactor::new(values, true).unwrap();
        let patterns: Vec<String> = values.iter().flat_map(|v| encodings(v)).collect();
        let mut input = Vec::new();
        let mut n = 0u64;
        while input.len() < 300_000 {
            input.extend_from_slice(
                format!(
                    "2026-01-01T00:00:00.{n:06}Z step {n:09} loss=0.{:04} lr=3e-4 eta=01:23:45 ",
                    n % 9973
                )
                .as_bytes(),
            );
            match n % 97 {
                3 => {
                    input.extend_from_slice(patterns[(n as usize / 97) % patterns.len()].as_bytes())
                }
                50 => input
                    .extend_from_slice(SHAPES[(n as usize / 97) % SHAPES.len()].example.as_bytes()),
                70 => input
                    .extend_from_slice(SHAPES[(n as usize / 97) % SHAPES.len()].prefix.as_bytes()),
                _ => {}
            }
            input.push(b'\n');
            n += 1;
        }
        let expected = reference_with_shapes(&patterns, &input);
        for chunk in [1 << 16, 4093, 1 << 20, 77] {
            let mut stream = r.stream();
            let mut out = Vec::new();
            for piece in input.chunks(chunk) {
                stream.write(piece, &mut out);
                assert!(stream.held() <= 128, "held {}", stream.held());
            }
            stream.finish(&mut out);
            assert!(out == expected, "chunks of {chunk}");
        }
    }
}
