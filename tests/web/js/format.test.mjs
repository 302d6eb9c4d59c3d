// Unit tests of the page's job formatting (src/web/assets/format.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gpuText } from '../../../src/web/assets/format.js';

test('a job shows its GPU count, and its devices once it has them', () => {
  assert.equal(gpuText({ gpus: 0, gpu_ids: null }), '0');
  assert.equal(gpuText({ gpus: 0, gpu_ids: [] }), '0');
  assert.equal(gpuText({ gpus: 2, gpu_ids: null }), '2');
  assert.equal(gpuText({ gpus: 2, gpu_ids: ['1', '3'] }), '2 (devices 1, 3)');
  assert.equal(gpuText({}), '0', 'a job from an older api');
});
