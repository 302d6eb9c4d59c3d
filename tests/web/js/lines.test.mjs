// Unit tests of the log view's line handling (src/web/assets/lines.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, splitEarlier, utf8Length, findAll } from '../../../src/web/assets/lines.js';

test('utf8Length counts bytes as the file holds them', () => {
  assert.equal(utf8Length('abc'), 3);
  assert.equal(utf8Length('é'), 2);
  assert.equal(utf8Length('€'), 3);
  assert.equal(utf8Length('😀'), 4);
  assert.equal(utf8Length('\ufffd'), 3);
  assert.equal(utf8Length('a\nb'), 3);
});

test('chunks become whole lines, with the unfinished one kept back', () => {
  const s = new LineSplitter();
  let out = s.feed('one\ntw');
  assert.deepEqual(out.lines, [{ raw: 'one', bytes: 4 }]);
  assert.equal(s.pending, 'tw');
  out = s.feed('o\nthree\n');
  assert.deepEqual(out.lines, [{ raw: 'two', bytes: 4 }, { raw: 'three', bytes: 6 }]);
  assert.equal(s.pending, '');
  assert.deepEqual(s.feed('').lines, []);
});

test('the bytes of every line add up to the bytes fed', () => {
  const s = new LineSplitter();
  const text = 'héllo\nwörld 😀\n\nlast €';
  let total = 0;
  for (const piece of ['hé', 'llo\nwö', 'rld 😀\n', '\nlast €']) {
    for (const l of s.feed(piece).lines) total += l.bytes;
  }
  assert.equal(total + s.pendingBytes, utf8Length(text));
});

test('more lines than the view keeps at once: the first ones are marked skipped', () => {
  const s = new LineSplitter({ maxLines: 3 });
  const out = s.feed('1\n2\n3\n4\n5\n');
  assert.equal(out.lines.length, 5);
  assert.equal(out.skip, 2);
});

test('a line that never ends stays bounded and its rest is skipped to its newline', () => {
  const s = new LineSplitter({ maxLineChars: 10, maxPendingChars: 20 });
  s.feed('x'.repeat(15));
  s.feed('x'.repeat(15));
  assert.ok(s.overlong);
  assert.equal(s.pending.length, 11);
  s.feed('y'.repeat(1000));
  assert.equal(s.pending.length, 11);
  const out = s.feed('zz\nnext\n');
  assert.equal(out.lines[0].raw, 'x'.repeat(11));
  assert.equal(out.lines[0].bytes, 30 + 1000 + 3);
  assert.deepEqual(out.lines[1], { raw: 'next', bytes: 5 });
  assert.equal(s.overlong, false);
});

test('a progress bar longer than the bound keeps its last state', () => {
  const s = new LineSplitter({ maxLineChars: 10, maxPendingChars: 20 });
  s.feed(`${'a'.repeat(15)}\r${'b'.repeat(8)}`);
  assert.equal(s.overlong, false);
  assert.equal(s.pending, `\r${'b'.repeat(8)}`);
});

test('earlier output splits into lines whose bytes give back its length', () => {
  const text = 'a\nbé\n\n';
  const lines = splitEarlier(text);
  assert.deepEqual(lines.map((l) => l.raw), ['a', 'bé', '']);
  assert.equal(lines.reduce((n, l) => n + l.bytes, 0), utf8Length(text));
  assert.deepEqual(splitEarlier(''), []);
  assert.deepEqual(splitEarlier('cut tail').map((l) => l.raw), ['cut tail']);
});

test('findAll finds every match, case-insensitively when asked', () => {
  assert.deepEqual(findAll('Error: error ERROR', 'error', false), [[7, 12]]);
  assert.deepEqual(findAll('Error: error ERROR', 'error', true), [[0, 5], [7, 12], [13, 18]]);
  assert.deepEqual(findAll('aaaa', 'aa', false), [[0, 2], [2, 4]]);
  assert.deepEqual(findAll('abc', '', true), []);
});
