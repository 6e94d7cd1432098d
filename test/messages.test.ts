import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import type { HtsmsgMap, HtsmsgValue } from '../src/htsp/codec';
import { FrameDecoder } from '../src/htsp/framing';
import {
  FILE_METHODS,
  frameTypeLetter,
  HANDSHAKE_METHODS,
  HTSP_ASYNC_METHODS,
  HTSP_METHODS,
  KNOWN_FIELDS,
  KNOWN_SUBFIELDS,
  METHOD_RIGHTS,
  SESSION_OWNED_METHODS,
  type AddDvrEntryRequest,
  type HtspAsyncMethod,
  type HtspRequest,
  type SubscribeRequest,
} from '../src/htsp/messages';
import { methodFor } from '../src/nodes/call/request';
import { normaliseAllowList } from '../src/mqtt/commands';

const CAPTURES = path.join(__dirname, '..', '..', 'shared', 'captures');

function decodeCapture(name: string): HtsmsgMap[] {
  return new FrameDecoder().push(readFileSync(path.join(CAPTURES, name)));
}

function isMap(v: HtsmsgValue | undefined): v is HtsmsgMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && v.constructor === Object;
}

function mapsIn(v: HtsmsgValue | undefined): HtsmsgMap[] {
  return Array.isArray(v) ? v.filter(isMap) : [];
}

/** Collects "where: field" strings for every field of `map` not in `known`. */
function unknownFields(where: string, map: HtsmsgMap, known: readonly string[], out: Set<string>): void {
  for (const name of Object.keys(map)) {
    if (!known.includes(name)) out.add(`${where}: ${name}`);
  }
}

const asyncNames: ReadonlySet<string> = new Set(HTSP_ASYNC_METHODS);
function isAsyncMethod(name: string): name is HtspAsyncMethod {
  return asyncNames.has(name);
}

test('method tables: 39 unique RPC methods, 30 unique async messages', () => {
  assert.equal(HTSP_METHODS.length, 39);
  assert.equal(new Set(HTSP_METHODS).size, 39);
  // The brief asked for 31, but the reference's list (§5) and the brief's own
  // enumeration both name 30 async messages; there is no 31st.
  assert.equal(HTSP_ASYNC_METHODS.length, 30);
  assert.equal(new Set(HTSP_ASYNC_METHODS).size, 30);
  assert.deepEqual(Object.keys(METHOD_RIGHTS).sort(), [...HTSP_METHODS].sort());
  assert.deepEqual(Object.keys(KNOWN_FIELDS).sort(), [...HTSP_ASYNC_METHODS].sort());
  assert.equal(HTSP_METHODS[0], 'hello');
  assert.equal(HTSP_METHODS[38], 'fileSeek');
  assert.equal(METHOD_RIGHTS.api, 'none');
  assert.equal(METHOD_RIGHTS.getProfiles, 'streaming');
  assert.equal(METHOD_RIGHTS.getDvrConfigs, 'dvr');
  assert.equal(METHOD_RIGHTS.fileOpen, 'dvr');
  for (const fields of Object.values(KNOWN_FIELDS)) {
    assert.ok(fields.includes('method'));
    assert.equal(new Set(fields).size, fields.length, `duplicate name in ${fields.join(',')}`);
  }
});

test('every field of every async message in the real capture is declared', () => {
  const messages = decodeCapture('session-ch2-h264-rx.bin');
  assert.equal(messages.length, 441);

  const unknown = new Set<string>();
  const seen = new Map<string, number>();
  for (const msg of messages) {
    const method = msg.method;
    if (typeof method !== 'string') {
      assert.ok(typeof msg.seq === 'number', 'a frame without method must be a reply');
      continue;
    }
    assert.ok(isAsyncMethod(method), `unknown async method ${method}`);
    assert.equal(msg.seq, undefined, 'async messages never carry seq');
    seen.set(method, (seen.get(method) ?? 0) + 1);
    unknownFields(method, msg, KNOWN_FIELDS[method], unknown);

    // Nested maps have their own declared field lists.
    if (method === 'channelAdd' || method === 'channelUpdate') {
      for (const s of mapsIn(msg.services)) unknownFields(`${method}.services[]`, s, KNOWN_SUBFIELDS.channelService, unknown);
    }
    if (method === 'dvrEntryAdd' || method === 'dvrEntryUpdate') {
      for (const f of mapsIn(msg.files)) {
        unknownFields(`${method}.files[]`, f, KNOWN_SUBFIELDS.dvrFile, unknown);
        for (const i of mapsIn(f.info)) unknownFields(`${method}.files[].info[]`, i, KNOWN_SUBFIELDS.dvrFileStreamInfo, unknown);
      }
    }
    if (method === 'subscriptionStart') {
      for (const s of mapsIn(msg.streams)) unknownFields('subscriptionStart.streams[]', s, KNOWN_SUBFIELDS.stream, unknown);
      assert.ok(isMap(msg.sourceinfo));
      unknownFields('subscriptionStart.sourceinfo', msg.sourceinfo, KNOWN_SUBFIELDS.sourceInfo, unknown);
    }
  }
  assert.deepEqual([...unknown], []);

  // The capture's README lists what it holds; make sure the walk saw it.
  assert.equal(seen.get('eventAdd'), 92);
  assert.equal(seen.get('muxpkt'), 319);
  for (const m of ['tagAdd', 'channelAdd', 'tagUpdate', 'autorecEntryAdd', 'timerecEntryAdd', 'dvrEntryAdd', 'dvrEntryUpdate',
    'initialSyncCompleted', 'subscriptionGrace', 'subscriptionStatus', 'queueStatus', 'subscriptionStart', 'subscriptionStop']) {
    assert.ok(seen.has(m), `capture should contain ${m}`);
  }
});

test('fields the types declare as required are present in the capture', () => {
  const messages = decodeCapture('session-ch2-h264-rx.bin');
  const required: Partial<Record<HtspAsyncMethod, readonly string[]>> = {
    channelAdd: ['channelId', 'channelNumber', 'channelName', 'eventId', 'nextEventId', 'services', 'tags'],
    tagAdd: ['tagId', 'tagIndex', 'tagName', 'tagTitledIcon'],
    tagUpdate: ['tagId', 'tagIndex', 'tagName', 'tagTitledIcon'],
    dvrEntryAdd: ['id', 'enabled', 'start', 'stop', 'startExtra', 'stopExtra', 'retention', 'removal', 'priority', 'contentType', 'state'],
    dvrEntryUpdate: ['id'],
    autorecEntryAdd: ['id', 'enabled', 'minDuration', 'maxDuration', 'retention', 'removal', 'daysOfWeek', 'start', 'startWindow',
      'approxTime', 'priority', 'startExtra', 'stopExtra', 'dupDetect', 'maxCount'],
    timerecEntryAdd: ['id', 'enabled', 'daysOfWeek', 'retention', 'removal', 'priority', 'start', 'stop'],
    eventAdd: ['eventId', 'start', 'stop'],
    subscriptionStart: ['subscriptionId', 'streams', 'sourceinfo'],
    subscriptionStop: ['subscriptionId', 'status'],
    subscriptionStatus: ['subscriptionId'],
    subscriptionGrace: ['subscriptionId', 'graceTimeout'],
    queueStatus: ['subscriptionId', 'packets', 'bytes', 'delay', 'Bdrops', 'Pdrops', 'Idrops'],
    muxpkt: ['subscriptionId', 'stream', 'com', 'duration', 'payload'],
  };
  for (const msg of messages) {
    if (typeof msg.method !== 'string' || !isAsyncMethod(msg.method)) continue;
    for (const name of required[msg.method] ?? []) {
      assert.ok(name in msg, `${msg.method} lacks ${name}`);
    }
  }
});

test('request types are assignable to HtsmsgMap (compile-time)', () => {
  const manual: AddDvrEntryRequest = { channelId: 1, start: 10, stop: 20, title: 'x', priority: 6 };
  const byEvent: AddDvrEntryRequest = { eventId: 41 };
  const sub: SubscribeRequest = { subscriptionId: 1, channelId: 2, '90khz': 1, timeshiftPeriod: 0 };
  const hello: HtspRequest<'hello'> = { htspversion: 44, clientname: 'node-red' };
  const auth: HtspRequest<'authenticate'> = { username: 'demo', digest: Buffer.alloc(20) };
  const maps: HtsmsgMap[] = [manual, byEvent, sub, hello, auth];
  assert.equal(maps.length, 5);
});

test('SESSION_OWNED_METHODS: handshake, metadata, subscriptions and files; refused by MQTT, by the call node but for files', () => {
  assert.deepEqual(
    [...SESSION_OWNED_METHODS].sort(),
    [
      'authenticate',
      'enableAsyncMetadata',
      'fileClose',
      'fileOpen',
      'fileRead',
      'fileSeek',
      'fileStat',
      'hello',
      'subscribe',
      'subscriptionChangeWeight',
      'subscriptionFilterStream',
      'subscriptionLive',
      'subscriptionSeek',
      'subscriptionSkip',
      'subscriptionSpeed',
      'unsubscribe',
    ],
  );
  for (const m of SESSION_OWNED_METHODS) assert.ok((HTSP_METHODS as readonly string[]).includes(m), m);
  // MQTT refuses the whole list; the call node lets the file methods through (a flow may read a
  // recording on the shared connection: file handles do not disturb the session).
  const allowed = normaliseAllowList([...HTSP_METHODS]);
  for (const m of HTSP_METHODS) {
    const owned = SESSION_OWNED_METHODS.has(m);
    assert.equal(allowed.has(m), !owned, `MQTT allow-list and ${m}`);
    if (owned && !m.startsWith('file')) assert.throws(() => methodFor(m, {}), /session/, `call node and ${m}`);
    else assert.equal(methodFor(m, {}), m);
  }
});

test('autorec/timerec updates require channelId: leaving it out would reset the rule to any channel (G18)', () => {
  // Checked by the type-check (`tsc --noEmit`), which fails if these ever compile.
  // @ts-expect-error channelId is required
  const autorecWithout: HtspRequest<'updateAutorecEntry'> = { id: 'a', enabled: 0 };
  // @ts-expect-error channelId is required
  const timerecWithout: HtspRequest<'updateTimerecEntry'> = { id: 't', enabled: 0 };
  const anyChannel: HtspRequest<'updateAutorecEntry'> = { id: 'a', channelId: -1 };
  const oneChannel: HtspRequest<'updateTimerecEntry'> = { id: 't', channelId: 3 };
  assert.equal(anyChannel.channelId, -1);
  assert.equal(oneChannel.channelId, 3);
  assert.ok(autorecWithout && timerecWithout);
});

test('frame types read as their letters; 0 and none as nothing', () => {
  assert.equal(frameTypeLetter(73), 'I');
  assert.equal(frameTypeLetter(80), 'P');
  assert.equal(frameTypeLetter(66), 'B');
  assert.equal(frameTypeLetter(0), undefined);
  assert.equal(frameTypeLetter(undefined), undefined);
});

test('handshake and file methods are session-owned method names', () => {
  for (const m of [...HANDSHAKE_METHODS, ...FILE_METHODS]) {
    assert.ok((HTSP_METHODS as readonly string[]).includes(m), m);
    assert.ok(SESSION_OWNED_METHODS.has(m), m);
  }
});
