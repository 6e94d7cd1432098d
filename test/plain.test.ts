import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toPlain } from '../src/htsp/plain';
import { HtsUuid } from '../src/htsp/codec';

test('bigint and UUID become strings; everything else is kept as is', () => {
  const payload = Buffer.from([1, 2]);
  const entry = { id: 7, files: [{ fsid: 6025583699295824166n, size: 10 }], u: new HtsUuid(Buffer.alloc(16, 1)), payload };
  const plain = toPlain(entry);
  assert.equal(JSON.stringify(plain).includes('"fsid":"6025583699295824166"'), true);
  assert.equal((plain as { u: unknown }).u, '01'.repeat(16));
  assert.equal((plain as { payload: unknown }).payload, payload);
  assert.equal(typeof entry.files[0].fsid, 'bigint', 'the input is not modified');
});

test('objects without anything to convert are returned unchanged (no copy)', () => {
  const obj = { a: 1, b: ['x', { c: true }] };
  assert.equal(toPlain(obj), obj);
});
