import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  decodeBody,
  encodeBody,
  encodeFrame,
  duplicatesOf,
  HtsmsgError,
  HtsUuid,
  type HtsmsgMap,
  type HtsmsgValue,
} from '../src/htsp/codec';
import { FrameDecoder, FrameQueue } from '../src/htsp/framing';

const captures = join(__dirname, '..', '..', 'shared', 'captures');
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('fixed vectors from the protocol reference (§2.4, §2.8)', () => {
  test('S64 minimal little-endian lengths', () => {
    const cases: Array<[number, string]> = [
      [0, ''],
      [1, '01'],
      [100, '64'],
      [255, 'ff'],
      [256, '0001'],
      [1337, '3905'],
      [2147483647, 'ffffff7f'],
      [4294967295, 'ffffffff'],
      [1700000000, '00f15365'],
      [-1, 'ffffffffffffffff'],
      [-2, 'feffffffffffffff'],
    ];
    for (const [value, data] of cases) {
      const body = encodeBody({ v: value });
      const expected = Buffer.concat([hex('02 01'), Buffer.from([0, 0, 0, data.length / 2]), Buffer.from('v'), hex(data)]);
      assert.deepEqual(body, expected, `encoding ${value}`);
      assert.equal(decodeBody(body).v, value, `decoding ${value}`);
    }
  });

  test('Example A: hello request, byte for byte', () => {
    const frame = encodeFrame({ method: 'hello', htspversion: 44, clientname: 'node-red', clientversion: '1.0.0', seq: 1 });
    assert.deepEqual(
      frame,
      hex(
        '00 00 00 5d 03 06 00 00 00 05 6d 65 74 68 6f 64 68 65 6c 6c 6f 02 0b 00 00 00 01 68 74 73 70 76 65 72 73 69 6f 6e 2c 03 0a 00 00 00 08 63 6c 69 65 6e 74 6e 61 6d 65 6e 6f 64 65 2d 72 65 64 03 0d 00 00 00 05 63 6c 69 65 6e 74 76 65 72 73 69 6f 6e 31 2e 30 2e 30 02 03 00 00 00 01 73 65 71 01',
      ),
    );
  });

  test('Example B: authenticate digest and frame', () => {
    const challenge = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const digest = createHash('sha1').update(Buffer.from('secret')).update(challenge).digest();
    assert.deepEqual(digest, hex('47 0e 79 71 36 d0 d5 6d f2 87 83 dd e9 63 02 ea 3a 8e 18 ac'));
    const frame = encodeFrame({ method: 'authenticate', username: 'tv', digest, seq: 2 });
    assert.equal(frame.length, 86);
    assert.equal(frame.readUInt32BE(0), 82);
  });

  test('Example C: a list with a zero member', () => {
    const frame = encodeFrame({ method: 'subscriptionFilterStream', subscriptionId: 7, disable: [2, 0], seq: 3 });
    assert.equal(frame.length, 97);
    const list = hex('05 07 00 00 00 0d') ;
    const at = frame.indexOf(list);
    assert.ok(at > 0);
    assert.deepEqual(frame.subarray(at + 6 + 7, at + 6 + 7 + 13), hex('02 00 00 00 00 01 02 02 00 00 00 00 00'));
    assert.deepEqual(decodeBody(frame.subarray(4)).disable, [2, 0]);
  });

  test('Example D: negative number takes 8 bytes, 300 takes 2', () => {
    const frame = encodeFrame({ method: 'updateAutorecEntry', id: 'x', channelId: -1, seq: 300 });
    assert.equal(frame.length, 77);
    assert.ok(frame.includes(hex('02 09 00 00 00 08') ));
    assert.ok(frame.subarray(frame.length - 2).equals(hex('2c 01')));
  });

  test('Example E: decoding a hello reply with a list of strings', () => {
    const body = Buffer.concat([
      hex('02 0b 00 00 00 01'), Buffer.from('htspversion'), hex('2c'),
      hex('03 0a 00 00 00 09'), Buffer.from('servername'), Buffer.from('Tvheadend'),
      hex('05 10 00 00 00 0f'), Buffer.from('servercapability'), hex('03 00 00 00 00 09'), Buffer.from('timeshift'),
      hex('02 03 00 00 00 01'), Buffer.from('seq'), hex('01'),
    ]);
    assert.deepEqual(decodeBody(body), { htspversion: 44, servername: 'Tvheadend', servercapability: ['timeshift'], seq: 1 });
  });

  test('BOOL and UUID decode; BOOL is only written on request', () => {
    const uuid = new HtsUuid(Buffer.alloc(16, 0xab));
    const body = encodeBody({ t: true, f: false, u: uuid }, { booleansAsBool: true });
    assert.equal(body[0], 7);
    const decoded = decodeBody(body);
    assert.equal(decoded.t, true);
    assert.equal(decoded.f, false);
    assert.ok(decoded.u instanceof HtsUuid);
    assert.equal(String(decoded.u), 'ab'.repeat(16));
    const plain = encodeBody({ t: true });
    assert.equal(plain[0], 2, 'a boolean goes out as S64 by default');
    assert.equal(decodeBody(plain).t, 1);
  });

  test('values beyond 2^53 come back as bigint, 8-byte negatives as numbers', () => {
    const big = 6025583699295824166n;
    const decoded = decodeBody(encodeBody({ fsid: big, neg: -5, min: -(2n ** 63n) }));
    assert.equal(decoded.fsid, big);
    assert.equal(decoded.neg, -5);
    assert.equal(decoded.min, -(2n ** 63n));
  });
});

describe('malformed input gives typed errors', () => {
  const cases: Array<[string, Buffer, string]> = [
    ['field runs past its container', hex('03 01 00 00 00 09 61 6162'), 'truncated'],
    ['stray bytes after the last field', Buffer.concat([encodeBody({ a: 1 }), hex('01 02 03')]), 'trailing-bytes'],
    ['unknown type code', hex('09 01 00 00 00 00 61'), 'unknown-type'],
    ['DBL has no wire form', hex('06 01 00 00 00 08 61 0000000000000000'), 'dbl-not-supported'],
    ['S64 longer than 8 bytes', hex('02 01 00 00 00 09 61 010203040506070809'), 's64-too-long'],
    ['UUID of the wrong size', hex('08 01 00 00 00 04 61 01020304'), 'bad-uuid'],
    ['nested truncation', hex('01 01 00 00 00 07 6d 03 01 00 00 00 05 61'), 'truncated'],
  ];
  for (const [what, body, code] of cases) {
    test(what, () => {
      assert.throws(
        () => decodeBody(body),
        (err: unknown) => err instanceof HtsmsgError && err.code === code && typeof err.offset === 'number',
      );
    });
  }

  test('a malformed list reports the first problem in field order', () => {
    // Element 0 has an unknown type, element 1 runs past the list: decoding meets element 0 first.
    const list = hex('09 00 00 00 00 00   03 00 00 00 00 09 61');
    const body = Buffer.concat([hex('05 01 00 00 00'), Buffer.from([list.length]), hex('6c'), list]);
    assert.throws(() => decodeBody(body), (e: unknown) => e instanceof HtsmsgError && e.code === 'unknown-type' && e.offset === 7);
  });

  test('encoder refuses what HTSP cannot carry', () => {
    assert.throws(() => encodeBody({ x: 1.5 }), (e: unknown) => e instanceof HtsmsgError && e.code === 'not-integer');
    assert.throws(() => encodeBody({ x: 2 ** 60 }), (e: unknown) => e instanceof HtsmsgError && e.code === 'not-integer');
    assert.throws(() => encodeBody({ ['n'.repeat(256)]: 1 }), (e: unknown) => e instanceof HtsmsgError && e.code === 'name-too-long');
    const fn = (() => 1) as unknown as HtsmsgValue;
    assert.throws(() => encodeBody({ f: fn }), (e: unknown) => e instanceof HtsmsgError && e.code === 'unencodable');
  });

  test('only plain objects become a MAP: Date, Map, Set and class instances are refused by field name', () => {
    const refused = (v: unknown, re: RegExp) =>
      assert.throws(
        () => encodeBody({ outer: { inner: v as HtsmsgValue } }),
        (e: unknown) => e instanceof HtsmsgError && e.code === 'unencodable' && /"inner"/.test(e.message) && re.test(e.message),
      );
    refused(new Date(0), /Date.*epoch seconds/);
    refused(new Map([['a', 1]]), /Map/);
    refused(new Set([1]), /Set/);
    class Thing {
      a = 1;
    }
    refused(new Thing(), /Thing/);
    assert.throws(() => encodeBody({ list: [new Date(0)] as unknown as HtsmsgValue }), (e: unknown) => e instanceof HtsmsgError && /"list"/.test(e.message));
    // What is accepted still round-trips.
    const bare = Object.create(null) as HtsmsgMap;
    bare.a = 1;
    const back = decodeBody(encodeBody({ m: { x: 1 }, n: bare, b: Buffer.from([1]), u: new Uint8Array([2]) as unknown as HtsmsgValue, l: [1, 2] }));
    assert.deepEqual(back.m, { x: 1 });
    assert.deepEqual({ ...(back.n as HtsmsgMap) }, { a: 1 });
    assert.deepEqual(back.l, [1, 2]);
  });
});

describe('frame decoder', () => {
  test('refuses an oversized length before the body arrives, and stays failed', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.throws(() => d.push(hex('00 01 00 00')), (e: unknown) => e instanceof HtsmsgError && e.code === 'frame-too-large');
    assert.throws(() => d.push(encodeFrame({ a: 1 })), (e: unknown) => e instanceof HtsmsgError);
  });

  test('refuses an oversized length split over chunks', () => {
    const d = new FrameDecoder({ maxFrameBytes: 1024 });
    assert.deepEqual(d.push(hex('7f')), []);
    assert.deepEqual(d.push(hex('ff')), []);
    assert.throws(() => d.push(hex('ff ff')), (e: unknown) => e instanceof HtsmsgError && e.code === 'frame-too-large');
  });

  test('binary payloads are views of the received chunk, not copies', () => {
    const payload = Buffer.alloc(5000, 7);
    const frame = encodeFrame({ method: 'muxpkt', payload });
    const msg = new FrameDecoder().push(frame)[0];
    const view = msg.payload as Buffer;
    assert.equal(view.buffer, frame.buffer);
    assert.deepEqual(view, payload);
  });
});

describe('the real capture (shared/captures)', () => {
  const rx = readFileSync(join(captures, 'session-ch2-h264-rx.bin'));
  const tx = readFileSync(join(captures, 'session-ch2-h264-tx.bin'));

  test('every server frame decodes, and re-encodes to the same bytes', () => {
    const bodies = new FrameDecoder().pushRaw(rx);
    assert.equal(bodies.length, 441);
    let bytes = 0;
    for (const body of bodies) {
      const msg = decodeBody(body);
      // Duplicate names (root `meta`) are re-added so that the bytes can match.
      const again = encodeWithDuplicates(msg);
      assert.deepEqual(again, body);
      bytes += 4 + body.length;
    }
    assert.equal(bytes, rx.length);
  });

  test('the message mix matches the README', () => {
    const msgs = new FrameDecoder().push(rx);
    const count = (m: string): number => msgs.filter((x) => x.method === m).length;
    assert.equal(msgs.filter((x) => x.method === undefined).length, 7);
    assert.equal(count('eventAdd'), 92);
    assert.equal(count('muxpkt'), 319);
    const payloadBytes = msgs.filter((x) => x.method === 'muxpkt').reduce((n, x) => n + (x.payload as Buffer).length, 0);
    assert.equal(payloadBytes, 251410);
    const start = msgs.find((x) => x.method === 'subscriptionStart') as HtsmsgMap;
    assert.equal(duplicatesOf(start, 'meta').length, 2, 'root-level meta repeats once per stream with extradata');
    const neg = msgs.find((x) => x.method === 'autorecEntryAdd') as HtsmsgMap;
    assert.equal(neg.start, -1);
    assert.equal(neg.approxTime, -1);
  });

  test('every client frame decodes and the digest matches SHA-1(password || challenge)', () => {
    const requests = new FrameDecoder().push(tx);
    assert.deepEqual(
      requests.map((r) => r.method),
      ['hello', 'authenticate', 'getDiskSpace', 'getSysTime', 'enableAsyncMetadata', 'subscribe', 'unsubscribe'],
    );
    const hello = new FrameDecoder().push(rx)[0];
    const digest = createHash('sha1').update('demo').update(hello.challenge as Buffer).digest();
    assert.deepEqual(requests[1].digest, digest);
    for (const body of new FrameDecoder().pushRaw(tx)) assert.deepEqual(encodeBody(decodeBody(body)), body);
  });

  test('any split of the byte stream yields the same messages', () => {
    const whole = new FrameDecoder().push(rx);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: rx.length - 1 }), { maxLength: 40 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const d = new FrameDecoder();
        const got: HtsmsgMap[] = [];
        let prev = 0;
        for (const p of [...points, rx.length]) {
          got.push(...d.push(rx.subarray(prev, p)));
          prev = p;
        }
        assert.equal(got.length, whole.length);
        assert.deepEqual(got, whole);
        assert.equal(d.pendingBytes, 0);
      }),
      { numRuns: 60 },
    );
  });

  test('FrameQueue: any split gives the same bodies in order; frames inside one read are views of it', () => {
    const expected = new FrameDecoder().pushRaw(rx);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: rx.length - 1 }), { maxLength: 40 }), fc.integer({ min: 0, max: 5 }), (cuts, takeEvery) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const q = new FrameQueue();
        const got: Buffer[] = [];
        let prev = 0;
        let pushes = 0;
        for (const p of [...points, rx.length]) {
          const chunk = rx.subarray(prev, p);
          const before = q.length;
          const n = q.push(chunk);
          assert.equal(q.length, before + n);
          prev = p;
          // Taking frames between pushes, or only at the end, must not matter.
          if (takeEvery > 0 && ++pushes % takeEvery === 0) for (let b = q.shift(); b; b = q.shift()) got.push(b);
        }
        for (let b = q.shift(); b; b = q.shift()) got.push(b);
        assert.equal(q.length, 0);
        assert.equal(q.shift(), undefined);
        assert.equal(got.length, expected.length);
        for (let i = 0; i < got.length; i++) assert.ok(got[i].equals(expected[i]), `frame ${i}`);
      }),
      { numRuns: 60 },
    );
    const q = new FrameQueue();
    q.push(rx);
    assert.equal(q.shift()!.buffer, rx.buffer);
  });

  test('FrameQueue: an oversized length throws at push; clear() drops what waits', () => {
    const q = new FrameQueue({ maxFrameBytes: 1024 });
    assert.equal(q.push(Buffer.concat([encodeFrame({ a: 1 }), encodeFrame({ a: 2 }), hex('00 00')])), 2);
    assert.throws(() => q.push(hex('10 00')), (e: unknown) => e instanceof HtsmsgError && e.code === 'frame-too-large');
    q.clear();
    assert.equal(q.length, 0);
    assert.equal(q.shift(), undefined);
    q.push(encodeFrame({ a: 3 }));
    assert.deepEqual(decodeBody(q.shift()!), { a: 3 });
  });

  test('one byte at a time works too', () => {
    const d = new FrameDecoder();
    let n = 0;
    for (let i = 0; i < 20000; i++) n += d.push(rx.subarray(i, i + 1)).length;
    const expected = new FrameDecoder().pushRaw(rx).filter((_, i, all) => {
      let end = 0;
      for (let j = 0; j <= i; j++) end += 4 + all[j].length;
      return end <= 20000;
    }).length;
    assert.equal(n, expected);
  });
});

describe('property-based round trips', () => {
  const name = fc.string({ maxLength: 20 }).filter((s) => Buffer.byteLength(s) <= 255);
  const s64 = fc.oneof(
    fc.integer(),
    fc.maxSafeInteger(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => {
      const n = Number(b);
      return Number.isSafeInteger(n) ? n : b;
    }),
  );
  const leaf: fc.Arbitrary<HtsmsgValue> = fc.oneof(
    s64,
    fc.string(),
    fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
    fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => new HtsUuid(u)),
  );
  const { value } = fc.letrec<{ value: HtsmsgValue; map: HtsmsgMap }>((tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('value'), { maxLength: 5 }), tie('map')),
    map: fc.dictionary(name, tie('value'), { maxKeys: 6 }),
  }));
  const root = fc.dictionary(name, value, { maxKeys: 8 });

  test('decode(encode(m)) equals m', () => {
    fc.assert(
      fc.property(root, (m) => {
        const back = decodeBody(encodeBody(m));
        assert.deepEqual(normalise(back), normalise(m));
      }),
      { numRuns: 400 },
    );
  });

  test('frames concatenated and split anywhere decode to the same messages', () => {
    fc.assert(
      fc.property(fc.array(root, { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (msgs, cuts) => {
        const stream = Buffer.concat(msgs.map((m) => encodeFrame(m)));
        const d = new FrameDecoder();
        const got: HtsmsgMap[] = [];
        let prev = 0;
        for (const c of [...new Set(cuts.map((x) => x % (stream.length + 1)))].sort((a, b) => a - b)) {
          got.push(...d.push(stream.subarray(prev, c)));
          prev = c;
        }
        got.push(...d.push(stream.subarray(prev)));
        assert.deepEqual(got.map(normalise), msgs.map(normalise));
      }),
      { numRuns: 200 },
    );
  });

  test('random bytes never crash the decoder: a message or an HtsmsgError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeBody(Buffer.from(bytes));
        } catch (err) {
          assert.ok(err instanceof HtsmsgError, String(err));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

/** Compare maps as Tvheadend would read them: the first of duplicate names wins. */
function normalise(v: HtsmsgValue): unknown {
  if (Buffer.isBuffer(v)) return { bin: v.toString('hex') };
  if (v instanceof HtsUuid) return { uuid: v.toString() };
  if (Array.isArray(v)) return v.map(normalise);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    // defineProperty: a field named "__proto__" must stay a field here too
    for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: normalise(v[k]), enumerable: true });
    return out;
  }
  return v;
}

function encodeWithDuplicates(msg: HtsmsgMap): Buffer {
  const extra = duplicatesOf(msg, 'meta').slice(1);
  const base = encodeBody(msg);
  if (extra.length === 0) return base;
  // The capture has its second `meta` right after the first; rebuild in that order.
  const parts: Buffer[] = [];
  for (const key of Object.keys(msg)) {
    parts.push(encodeBody({ [key]: msg[key] }));
    if (key === 'meta') for (const e of extra) parts.push(encodeBody({ meta: e }));
  }
  return Buffer.concat(parts);
}
