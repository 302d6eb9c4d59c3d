// Unit tests of the page's message helpers (src/web/assets/http.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sentence, caughtUp } from '../../../src/web/assets/http.js';

test('an error message becomes one sentence, never "running?. Retrying"', () => {
  const said = `${sentence('cannot reach the jobctl web server (is it running?)')} Retrying every 5 s.`;
  assert.equal(said, 'cannot reach the jobctl web server (is it running?). Retrying every 5 s.');
  assert.equal(sentence('is it running?'), 'is it running?');
  assert.equal(sentence('the job service is unreachable.'), 'the job service is unreachable.');
  assert.equal(sentence('job not found '), 'job not found.');
  assert.ok(!`${sentence('is it running?')} Retrying`.includes('?.'));
});

test('a chunk is caught up at the end of the file or when nothing more can be read', () => {
  assert.equal(caughtUp({ next_offset: 10, size: 10, logs: 'x' }), true);
  assert.equal(caughtUp({ next_offset: 8, size: 10, logs: '' }), true);
  assert.equal(caughtUp({ next_offset: 8, size: 10, logs: 'x' }), false);
});
