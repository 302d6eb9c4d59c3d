// Terminal output → styled text, as a terminal would show one line of it.
//
// Pure functions with no DOM at import time, so Node's test runner can check
// them (tests/web/js/ansi.test.mjs). `renderLine` builds the DOM for a line;
// log text only ever becomes text nodes, never markup.

/** Longer lines are cut on screen; the download has them whole. */
export const MAX_LINE_CHARS = 16 * 1024;

// One token of terminal output: a CSI escape (colours, erase, cursor moves),
// a CSI cut off at the end of the text, an OSC string (window titles, links),
// any other escape (with its intermediates, e.g. `ESC(B`), or a carriage return.
const TOKEN = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\[[0-?]*[ -/]*$|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\|$)|\x1b[ -/]*[0-~]?|\r/g;
// Control characters that would show as garbage; tabs stay.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** The style at the start of a log: the terminal's defaults. */
export const plainStyle = () => ({
  fg: null, bg: null, bold: false, dim: false, italic: false, underline: false,
});

/** The six levels of each channel in the 256-colour cube (xterm's). */
const CUBE = [0, 95, 135, 175, 215, 255];

const hex = (r, g, b) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('')}`;

/**
 * Colour N of the 256-colour palette: 0–15 stay palette indexes (themed by
 * the stylesheet), 16–231 are the 6×6×6 cube and 232–255 the grey ramp, as
 * `#rrggbb`. Anything else is `null` (ignored).
 */
export function color256(n) {
  if (!Number.isInteger(n) || n < 0 || n > 255) return null;
  if (n < 16) return n;
  if (n < 232) {
    const i = n - 16;
    return hex(CUBE[Math.floor(i / 36)], CUBE[Math.floor(i / 6) % 6], CUBE[i % 6]);
  }
  const v = 8 + (n - 232) * 10;
  return hex(v, v, v);
}

const byte = (v) => Number.isInteger(v) && v >= 0 && v <= 255;

/**
 * Applies one SGR sequence (the parameters of `ESC[…m`) to `style`: reset,
 * bold/dim/italic/underline, the 16 colours, 256 colours (`38;5;N`) and true
 * colour (`38;2;R;G;B`), both with `;` and with `:` separators.
 */
export function applySgr(style, params) {
  const codes = params === '' ? [0] : params.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (c === 0) Object.assign(style, plainStyle());
    else if (c === 1) style.bold = true;
    else if (c === 2) style.dim = true;
    else if (c === 3) style.italic = true;
    else if (c === 4) style.underline = true;
    else if (c === 22) { style.bold = false; style.dim = false; }
    else if (c === 23) style.italic = false;
    else if (c === 24) style.underline = false;
    else if (c >= 30 && c <= 37) style.fg = c - 30;
    else if (c === 39) style.fg = null;
    else if (c >= 40 && c <= 47) style.bg = c - 40;
    else if (c === 49) style.bg = null;
    else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
    else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
    else if (c === 38 || c === 48) {
      const key = c === 38 ? 'fg' : 'bg';
      if (codes[i + 1] === 5) {
        const color = color256(codes[i + 2]);
        if (color !== null) style[key] = color;
        i += 2;
      } else if (codes[i + 1] === 2) {
        // `38:2::R:G:B` (ITU form with an empty colour-space id) has one more field.
        let at = i + 2;
        if (params.includes(':') && codes.length - at >= 4) at += 1;
        const [r, g, b] = codes.slice(at, at + 3);
        if (byte(r) && byte(g) && byte(b)) style[key] = hex(r, g, b);
        i = at + 2;
      } else {
        i += 1;
      }
    }
  }
}

/** Class names for a style; built from numbers only, never from log text. */
export function styleClass(style) {
  const names = [];
  if (typeof style.fg === 'number') names.push(`fg${style.fg}`);
  if (typeof style.bg === 'number') names.push(`bg${style.bg}`);
  if (style.bold) names.push('b');
  if (style.dim) names.push('d');
  if (style.italic) names.push('i');
  if (style.underline) names.push('u');
  return names.join(' ');
}

/** Carries a style through a line that is not drawn. */
export function advanceStyle(raw, style) {
  if (!raw.includes('\x1b')) return;
  TOKEN.lastIndex = 0;
  let m;
  while ((m = TOKEN.exec(raw)) !== null) {
    if (m[2] === 'm') applySgr(style, m[1]);
  }
}

const sameStyle = (a, b) => a.fg === b.fg && a.bg === b.bg && a.bold === b.bold
  && a.dim === b.dim && a.italic === b.italic && a.underline === b.underline;

/**
 * One line of terminal output as the terminal would leave it: a list of
 * `{style, text}` segments and whether it was cut at `maxChars`.
 *
 * A carriage return moves back to the start of the line and what follows
 * overwrites it (so a progress bar shows only its latest state); `ESC[K`
 * erases to the end of the line, `ESC[1K` to its start and `ESC[2K` all of
 * it; colour codes change the style; other escapes and controls are dropped.
 * `style` is the style at the start of the line and is advanced to its end.
 */
export function parseLine(raw, style, maxChars = MAX_LINE_CHARS) {
  // A CRLF line ending is not a progress update.
  if (raw.endsWith('\r')) raw = raw.slice(0, -1);
  // The screen as cells: one character and its style each. Most lines have
  // no carriage return or erase, so cells are only ever appended.
  const chars = [];
  const styles = [];
  let col = 0;
  let cut = false;
  let current = { ...style };
  const write = (text) => {
    text = text.replace(CONTROL, '');
    for (const ch of text) {
      if (col >= maxChars) {
        cut = true;
        break;
      }
      while (chars.length < col) {
        chars.push(' ');
        styles.push(current);
      }
      chars[col] = ch;
      styles[col] = current;
      col += 1;
    }
  };
  TOKEN.lastIndex = 0;
  let at = 0;
  let m;
  while ((m = TOKEN.exec(raw)) !== null) {
    if (m.index > at) write(raw.slice(at, m.index));
    if (m[0] === '\r') {
      col = 0;
    } else if (m[2] === 'm') {
      applySgr(style, m[1]);
      current = { ...style };
    } else if (m[2] === 'K') {
      const mode = m[1] === '' ? 0 : Number(m[1]);
      if (mode === 0) {
        chars.length = Math.min(chars.length, col);
        styles.length = chars.length;
        cut = false;
      } else if (mode === 1) {
        for (let i = 0; i < Math.min(col + 1, chars.length); i++) {
          chars[i] = ' ';
          styles[i] = current;
        }
      } else if (mode === 2) {
        chars.length = 0;
        styles.length = 0;
        cut = false;
      }
    }
    at = TOKEN.lastIndex;
  }
  if (at < raw.length) write(raw.slice(at));
  const segments = [];
  for (let i = 0; i < chars.length; i++) {
    const last = segments[segments.length - 1];
    if (last && sameStyle(last.style, styles[i])) last.text += chars[i];
    else segments.push({ style: styles[i], text: chars[i] });
  }
  return { segments, cut: cut && chars.length >= maxChars };
}

/** The text a line shows, without its styles (what search and copy see). */
export const lineText = (raw) => parseLine(raw, plainStyle()).segments.map((s) => s.text).join('');

/**
 * One line as a `div.ln` of `doc`: palette colours and attributes as classes,
 * 256-colour and true-colour values through the CSSOM (allowed by the page's
 * CSP, unlike style attributes), text always as text nodes.
 */
export function renderLine(doc, raw, style) {
  const el = doc.createElement('div');
  el.className = 'ln';
  const { segments, cut } = parseLine(raw, style);
  for (const s of segments) {
    const cls = styleClass(s.style);
    const fg = typeof s.style.fg === 'string' ? s.style.fg : null;
    const bg = typeof s.style.bg === 'string' ? s.style.bg : null;
    if (cls || fg || bg) {
      const span = doc.createElement('span');
      if (cls) span.className = cls;
      if (fg) span.style.color = fg;
      if (bg) span.style.backgroundColor = bg;
      span.textContent = s.text;
      el.appendChild(span);
    } else {
      el.appendChild(doc.createTextNode(s.text));
    }
  }
  if (cut) {
    const more = doc.createElement('span');
    more.className = 'cut';
    more.textContent = ' … line cut here; the download has it whole';
    el.appendChild(more);
  }
  return el;
}
