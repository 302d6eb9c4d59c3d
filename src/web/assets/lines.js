// The log view's line handling, without the DOM: splitting chunks of output
// into whole lines, keeping the unfinished last line bounded, counting the
// bytes each line takes in the file (so "Load earlier output" asks for
// exactly what comes before the first line shown), and finding search
// matches in a line. Tested by tests/web/js/lines.test.mjs.

/** Lines kept on screen per log; older ones are dropped (see the download link). */
export const MAX_LINES = 5000;
/** An unfinished line (no newline yet) kept beyond this is cut. */
export const MAX_PENDING_CHARS = 256 * 1024;

/**
 * Bytes `text` takes in UTF-8. The API decodes a log lossily, so a line with
 * invalid bytes counts its U+FFFD replacements as 3 bytes each.
 */
export function utf8Length(text) {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i += 1;
      } else {
        n += 3;
      }
    } else n += 3;
  }
  return n;
}

/**
 * Turns a stream of log chunks into whole lines.
 *
 * `feed` returns the lines the chunk completed, each with the bytes it takes
 * in the file (its newline included), plus how many of the first ones will
 * not be shown because more than `maxLines` came at once (they are still
 * returned, so their colours carry over). The unfinished last line is
 * `pending`, bounded to `maxPendingChars`: a line that never ends cannot
 * grow memory without end.
 */
export class LineSplitter {
  constructor({ maxLines = MAX_LINES, maxLineChars = 16 * 1024, maxPendingChars = MAX_PENDING_CHARS } = {}) {
    this.maxLines = maxLines;
    this.maxLineChars = maxLineChars;
    this.maxPendingChars = maxPendingChars;
    this.reset();
  }

  reset() {
    /** The unfinished last line, as shown (maybe cut). */
    this.pending = '';
    /** Bytes the unfinished line takes in the file, all of it. */
    this.pendingBytes = 0;
    /** The unfinished line was cut: its rest is skipped up to its newline. */
    this.overlong = false;
  }

  feed(text) {
    const lines = [];
    if (!text) return { lines, skip: 0 };
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = nl < 0 ? text.slice(start) : text.slice(start, nl);
      this.pendingBytes += utf8Length(piece) + (nl < 0 ? 0 : 1);
      if (!this.overlong) this.pending = this.bound(this.pending + piece);
      if (nl < 0) break;
      lines.push({ raw: this.pending, bytes: this.pendingBytes });
      this.pending = '';
      this.pendingBytes = 0;
      this.overlong = false;
      start = nl + 1;
    }
    return { lines, skip: Math.max(0, lines.length - this.maxLines) };
  }

  bound(pending) {
    if (pending.length <= this.maxPendingChars) return pending;
    // What comes before the last carriage return is never shown again.
    const cr = pending.lastIndexOf('\r', pending.length - 2);
    if (cr > 0 && pending.length - cr <= this.maxPendingChars) return pending.slice(cr);
    this.overlong = true;
    return pending.slice(0, this.maxLineChars + 1);
  }
}

/**
 * The whole lines of a chunk read with `before=`: the text ends at a line
 * boundary, so every piece is a line. A last piece without a newline (a
 * tail cut by the API's byte bound) is a line too.
 */
export function splitEarlier(text) {
  if (!text) return [];
  const parts = text.split('\n');
  const last = parts.pop();
  const lines = parts.map((raw) => ({ raw, bytes: utf8Length(raw) + 1 }));
  if (last !== '') lines.push({ raw: last, bytes: utf8Length(last) });
  return lines;
}

/**
 * Where `query` occurs in `text`, as `[start, end)` pairs that do not
 * overlap; case-insensitive when asked (and when lower-casing keeps the
 * text's length, which it does but for a few rare letters).
 */
export function findAll(text, query, ignoreCase) {
  const ranges = [];
  if (!query) return ranges;
  let hay = text;
  let needle = query;
  if (ignoreCase) {
    const lower = text.toLowerCase();
    const q = query.toLowerCase();
    if (lower.length === text.length && q.length === query.length) {
      hay = lower;
      needle = q;
    }
  }
  let at = hay.indexOf(needle);
  while (at >= 0) {
    ranges.push([at, at + needle.length]);
    at = hay.indexOf(needle, at + needle.length);
  }
  return ranges;
}
