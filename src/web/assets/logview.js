// The text of one log box: fed chunk by chunk, bounded to MAX_LINES lines,
// able to take earlier output in front of what it shows, to show a window
// around a search match, and to highlight what a search finds on screen.

import { plainStyle, advanceStyle, renderLine } from './ansi.js';
import { LineSplitter, MAX_LINES, splitEarlier, findAll } from './lines.js';

/** Bytes of the file each line element stands for (its newline included). */
const BYTES = new WeakMap();

export class LogView {
  constructor(box, onFollowChange) {
    this.box = box;
    this.onFollowChange = onFollowChange;
    this.following = true;
    this.splitter = new LineSplitter();
    this.query = '';
    this.ignoreCase = true;
    this.reset(null);
    box.addEventListener('scroll', () => {
      const atEnd = box.scrollHeight - box.clientHeight - box.scrollTop <= 8;
      if (atEnd !== this.following) {
        this.following = atEnd;
        this.onFollowChange(atEnd);
      }
    });
  }

  /** Empties the box; what comes next starts at byte `offset` of the file. */
  reset(offset) {
    this.box.replaceChildren();
    this.lines = 0;
    this.splitter.reset();
    this.style = plainStyle();
    this.tail = null;
    /** Byte offset of the first line shown (null: not known). */
    this.firstOffset = offset;
    /** Byte offset just after the last whole line shown. */
    this.endOffset = offset;
    /** The box holds the log up to where it was last read: new output may be appended. */
    this.atEnd = true;
    this.setFollowing(true);
  }

  setFollowing(on) {
    if (this.following !== on) {
      this.following = on;
      this.onFollowChange(on);
    }
  }

  hasText() {
    return this.lines > 0 || (this.tail !== null && this.tail.textContent !== '');
  }

  /** Whether output before the first line shown exists. */
  hasEarlier() {
    return this.firstOffset !== null && this.firstOffset > 0;
  }

  /** Adds the next piece of the log (only while the box holds the log's end). */
  append(text) {
    if (!text || !this.atEnd) return;
    const { lines, skip } = this.splitter.feed(text);
    if (this.tail) {
      this.tail.remove();
      this.tail = null;
    }
    // Lines beyond what the box keeps are never drawn, only styled through.
    for (let i = 0; i < skip; i++) advanceStyle(lines[i].raw, this.style);
    if (skip > 0) {
      this.box.replaceChildren();
      if (this.firstOffset !== null) {
        // Everything shown before is older than the skipped lines.
        let shownBytes = 0;
        for (let i = 0; i < skip; i++) shownBytes += lines[i].bytes;
        this.firstOffset = this.endOffset === null ? null : this.endOffset + shownBytes;
      }
      this.lines = 0;
    }
    const fragment = this.box.ownerDocument.createDocumentFragment();
    for (let i = skip; i < lines.length; i++) {
      fragment.appendChild(this.line(lines[i].raw, this.style, lines[i].bytes));
    }
    for (const l of lines) if (this.endOffset !== null) this.endOffset += l.bytes;
    this.lines += lines.length - skip;
    if (this.splitter.pending) {
      // The unfinished line is drawn with a copy of the style: it is drawn again when it grows.
      this.tail = this.line(this.splitter.pending, { ...this.style }, 0);
      fragment.appendChild(this.tail);
    }
    this.box.appendChild(fragment);
    this.trimTop();
    if (this.following) this.scrollToEnd();
  }

  /** A line element, highlighted when a search is on. */
  line(raw, style, bytes) {
    const el = renderLine(this.box.ownerDocument, raw, style);
    BYTES.set(el, bytes);
    if (this.query) markMatches(el, this.query, this.ignoreCase);
    return el;
  }

  /** Drops the oldest lines beyond MAX_LINES, keeping the reader's place. */
  trimTop() {
    let excess = this.lines - MAX_LINES;
    if (excess <= 0) return;
    const before = this.box.scrollHeight;
    while (excess > 0 && this.box.firstChild && this.box.firstChild !== this.tail) {
      if (this.firstOffset !== null) this.firstOffset += BYTES.get(this.box.firstChild) || 0;
      this.box.firstChild.remove();
      this.lines -= 1;
      excess -= 1;
    }
    if (!this.following) this.box.scrollTop -= before - this.box.scrollHeight;
  }

  /**
   * Puts earlier output (read with `before=firstOffset`, starting at byte
   * `offset`) in front of what is shown; the reader's place stays where it
   * was. Past MAX_LINES the newest lines go, and the box no longer holds the
   * log's end.
   */
  prepend(text, offset) {
    const lines = splitEarlier(text);
    if (lines.length === 0) {
      this.firstOffset = offset;
      return 0;
    }
    const fragment = this.box.ownerDocument.createDocumentFragment();
    const style = plainStyle();
    for (const l of lines) fragment.appendChild(this.line(l.raw, style, l.bytes));
    const before = this.box.scrollHeight;
    const top = this.box.scrollTop;
    this.box.insertBefore(fragment, this.box.firstChild);
    this.lines += lines.length;
    this.firstOffset = offset;
    let excess = this.lines - MAX_LINES;
    if (excess > 0) {
      if (this.tail) {
        this.tail.remove();
        this.tail = null;
      }
      while (excess > 0 && this.box.lastChild) {
        this.endOffset = this.endOffset === null ? null : this.endOffset - (BYTES.get(this.box.lastChild) || 0);
        this.box.lastChild.remove();
        this.lines -= 1;
        excess -= 1;
      }
      this.atEnd = false;
      this.splitter.reset();
    }
    this.setFollowing(false);
    this.box.scrollTop = top + (this.box.scrollHeight - before);
    return lines.length;
  }

  /**
   * Shows a window of the log instead of its end: `before` (read with
   * `before=at`, starting at `beforeOffset`) then `after` (read from byte
   * `at`); the line at `at` is scrolled into view and marked.
   */
  showWindow(before, beforeOffset, after, at) {
    this.reset(beforeOffset);
    this.atEnd = false;
    const style = plainStyle();
    const fragment = this.box.ownerDocument.createDocumentFragment();
    for (const l of splitEarlier(before)) fragment.appendChild(this.line(l.raw, style, l.bytes));
    let target = null;
    let end = at;
    for (const l of splitEarlier(after).slice(0, Math.max(1, MAX_LINES / 2))) {
      const el = this.line(l.raw, style, l.bytes);
      if (target === null) {
        target = el;
        el.classList.add('target');
      }
      end += l.bytes;
      fragment.appendChild(el);
    }
    this.box.appendChild(fragment);
    this.lines = this.box.childElementCount;
    this.endOffset = end;
    this.setFollowing(false);
    if (target) {
      this.box.scrollTop = Math.max(0, target.offsetTop - this.box.clientHeight / 3);
    }
    return target;
  }

  /** Highlights `query` in every line shown (and in lines to come); the number of matches. */
  highlight(query, ignoreCase) {
    for (const mark of [...this.box.querySelectorAll('mark')]) {
      const parent = mark.parentNode;
      parent.replaceChild(this.box.ownerDocument.createTextNode(mark.textContent), mark);
      parent.normalize();
    }
    this.query = query;
    this.ignoreCase = ignoreCase;
    if (!query) return 0;
    let n = 0;
    for (const el of this.box.children) n += markMatches(el, query, ignoreCase);
    return n;
  }

  scrollToEnd() {
    this.box.scrollTop = this.box.scrollHeight;
  }
}

/** Wraps each match of `query` in a line element in `<mark>`; the number of matches. */
function markMatches(el, query, ignoreCase) {
  const doc = el.ownerDocument;
  const texts = [];
  const walker = doc.createTreeWalker(el, 4 /* NodeFilter.SHOW_TEXT */);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentNode.classList || !n.parentNode.classList.contains('cut')) texts.push(n);
  }
  const whole = texts.map((t) => t.data).join('');
  const ranges = findAll(whole, query, ignoreCase);
  if (ranges.length === 0) return 0;
  // Split the text nodes at the ranges' ends, from the last range back, so
  // earlier positions stay valid.
  let starts = [];
  let pos = 0;
  for (const t of texts) {
    starts.push(pos);
    pos += t.data.length;
  }
  for (let r = ranges.length - 1; r >= 0; r--) {
    const [from, to] = ranges[r];
    for (let i = texts.length - 1; i >= 0; i--) {
      const t = texts[i];
      const s = starts[i];
      const e = s + t.data.length;
      const a = Math.max(from, s);
      const b = Math.min(to, e);
      if (a >= b) continue;
      let node = t;
      if (b < e) node.splitText(b - s);
      if (a > s) node = node.splitText(a - s);
      const mark = doc.createElement('mark');
      node.parentNode.replaceChild(mark, node);
      mark.appendChild(node);
    }
  }
  return ranges.length;
}
