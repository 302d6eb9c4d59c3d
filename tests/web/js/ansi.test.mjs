// Unit tests of the log renderer's terminal handling (src/web/assets/ansi.js),
// run by ./test.sh with Node's built-in runner: node --test tests/web/js/*.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseLine, plainStyle, applySgr, color256, styleClass, lineText, advanceStyle, renderLine,
} from '../../../src/web/assets/ansi.js';

const shown = (raw, style = plainStyle()) => parseLine(raw, style).segments.map((s) => s.text).join('');

test('plain text is one unstyled segment', () => {
  const { segments, cut } = parseLine('hello world', plainStyle());
  assert.equal(segments.length, 1);
  assert.equal(segments[0].text, 'hello world');
  assert.equal(styleClass(segments[0].style), '');
  assert.equal(cut, false);
});

test('the 16 colours and attributes become classes, and reset ends them', () => {
  const { segments } = parseLine('\x1b[1;32mok\x1b[0m plain \x1b[91;44mhot\x1b[39;49m', plainStyle());
  assert.deepEqual(segments.map((s) => [s.text, styleClass(s.style)]), [
    ['ok', 'fg2 b'],
    [' plain ', ''],
    ['hot', 'fg9 bg4'],
  ]);
});

test('256 colours: the first 16 are palette classes, the cube and greys are exact', () => {
  assert.equal(color256(1), 1);
  assert.equal(color256(15), 15);
  assert.equal(color256(16), '#000000');
  assert.equal(color256(196), '#ff0000');
  assert.equal(color256(21), '#0000ff');
  assert.equal(color256(231), '#ffffff');
  assert.equal(color256(232), '#080808');
  assert.equal(color256(255), '#eeeeee');
  assert.equal(color256(256), null);
  const style = plainStyle();
  applySgr(style, '38;5;208');
  assert.equal(style.fg, '#ff8700');
  applySgr(style, '48;5;3');
  assert.equal(style.bg, 3);
  assert.equal(styleClass(style), 'bg3');
});

test('true colour, with semicolons and with colons', () => {
  const style = plainStyle();
  applySgr(style, '38;2;10;20;30');
  assert.equal(style.fg, '#0a141e');
  applySgr(style, '48:2::255:128:0');
  assert.equal(style.bg, '#ff8000');
  applySgr(style, '38:2:1:2:3');
  assert.equal(style.fg, '#010203');
  // Codes after a colour still apply.
  applySgr(style, '38;2;1;1;1;1');
  assert.equal(style.fg, '#010101');
  assert.equal(style.bold, true);
  // Out-of-range values are ignored, not clamped.
  applySgr(style, '0;38;2;300;0;0');
  assert.equal(style.fg, null);
});

test('a carriage return overwrites from the start of the line', () => {
  assert.equal(shown('10%\r20%\r100%'), '100%');
  assert.equal(shown('downloading 100%\rdone'), 'doneloading 100%');
  // A CRLF line ending is no overwrite.
  assert.equal(shown('line\r'), 'line');
});

test('erase in line: to the end, to the start, and all of it', () => {
  assert.equal(shown('downloading 100%\rdone\x1b[K'), 'done');
  assert.equal(shown('downloading 100%\rdone\x1b[0K'), 'done');
  assert.equal(shown('abcdef\r\x1b[2Kxy'), 'xy');
  assert.equal(shown('abcdef\x1b[1K'), '      ');
  assert.equal(shown('abcdef\rab\x1b[1Kz'), '  zdef');
  // After erasing the whole line the cursor stays where it was.
  assert.equal(shown('abc\x1b[2Kd'), '   d');
});

test('styles of overwritten text are those of the new text', () => {
  const { segments } = parseLine('\x1b[31mred\x1b[0m\r\x1b[32mgr', plainStyle());
  assert.deepEqual(segments.map((s) => [s.text, styleClass(s.style)]), [['gr', 'fg2'], ['d', 'fg1']]);
});

test('other escapes and control characters are dropped, tabs stay', () => {
  assert.equal(shown('a\x1b[2Ab\x1b]0;title\x07c\x1b(Bd\x07e\tf\x00'), 'abcde\tf');
  // An escape cut off at the end of the text shows nothing.
  assert.equal(shown('text\x1b[38;5'), 'text');
});

test('the style carries from one line to the next', () => {
  const style = plainStyle();
  parseLine('\x1b[1;34mstart', style);
  const { segments } = parseLine('still blue\x1b[0m', style);
  assert.equal(styleClass(segments[0].style), 'fg4 b');
  assert.equal(style.fg, null);
  const skipped = plainStyle();
  advanceStyle('\x1b[33mskipped', skipped);
  assert.equal(skipped.fg, 3);
});

test('a long line is cut and says so', () => {
  const { segments, cut } = parseLine('x'.repeat(50), plainStyle(), 10);
  assert.equal(segments[0].text, 'x'.repeat(10));
  assert.equal(cut, true);
  // Overwritten below the bound again: not cut.
  assert.equal(parseLine(`${'x'.repeat(50)}\r\x1b[2Kshort`, plainStyle(), 10).cut, false);
});

test('lineText is what a search sees', () => {
  assert.equal(lineText('\x1b[1mbold\x1b[0m 50%\r100%'), '100% 50%');
  assert.equal(lineText('progress 50%\r\x1b[Kdone'), 'done');
  assert.equal(lineText('a\x1b[31mb\x1b[0mc'), 'abc');
});

/** Just enough of a DOM for renderLine: elements with children, classes, style and text. */
function fakeDocument() {
  const node = (tag) => ({
    tag, className: '', style: {}, children: [], textContent: '',
    appendChild(c) { this.children.push(c); return c; },
  });
  return {
    createElement: node,
    createTextNode: (text) => ({ tag: '#text', text }),
  };
}

test('renderLine uses text nodes and classes, and CSSOM colours for exact ones', () => {
  const el = renderLine(fakeDocument(), '<b>\x1b[38;5;208mor\x1b[48;2;1;2;3mange\x1b[0m', plainStyle());
  assert.equal(el.className, 'ln');
  assert.deepEqual(el.children[0], { tag: '#text', text: '<b>' });
  assert.equal(el.children[1].style.color, '#ff8700');
  assert.equal(el.children[1].textContent, 'or');
  assert.equal(el.children[2].style.backgroundColor, '#010203');
  assert.equal(el.children[2].textContent, 'ange');
});
