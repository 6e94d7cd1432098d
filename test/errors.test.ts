import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HtspError, callerErrorCode, CALLER_ERROR_CODES, type HtspErrorCode } from '../src/htsp/errors';
import { HtsmsgError } from '../src/htsp/codec';
import { toNodeError } from '../src/nodes/shared/errors';

const expected: Record<HtspErrorCode, string> = {
  noaccess: 'noaccess',
  'auth-failed': 'noaccess',
  server: 'server',
  timeout: 'timeout',
  disconnected: 'disconnected',
  protocol: 'disconnected',
  'bad-input': 'bad-input',
};

test('every library error code maps to one of the five codes a caller acts on', () => {
  for (const [code, want] of Object.entries(expected) as Array<[HtspErrorCode, string]>) {
    const got = callerErrorCode(new HtspError(code, 'x'));
    assert.equal(got, want, code);
    assert.ok(CALLER_ERROR_CODES.includes(got));
  }
  assert.equal(callerErrorCode(new HtsmsgError('unknown-type', 'field type 99')), 'bad-input');
  assert.equal(callerErrorCode(new Error('boom')), 'server');
  assert.equal(callerErrorCode('a string'), 'server');
});

test('flow nodes use the same mapping, with the message kept and secrets removed', () => {
  for (const code of Object.keys(expected) as HtspErrorCode[]) {
    const err = new HtspError(code, 'refused for s3cret', { method: 'getDiskSpace' });
    const n = toNodeError(err, ['s3cret']);
    assert.equal(n.code, callerErrorCode(err));
    assert.equal(n.method, 'getDiskSpace');
    assert.ok(!n.message.includes('s3cret'));
  }
});

test('an HtspError with a code from outside the union reads as server', () => {
  const foreign = Object.assign(new HtspError('server', 'x'), { code: 'weird' as never });
  assert.equal(callerErrorCode(foreign), 'server');
});
