import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MetadataCache, isMetadataMessage, valueEquals, type ChangeEvent } from '../src/htsp/cache';
import type { HtsmsgMap, HtsmsgValue } from '../src/htsp/codec';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FrameDecoder } from '../src/htsp/framing';

const NOW = 1_800_000_000;

function channel(id: number, extra: HtsmsgMap = {}): HtsmsgMap {
  return {
    method: 'channelAdd',
    channelId: id,
    channelNumber: id,
    channelName: `Channel ${id}`,
    eventId: 0,
    nextEventId: 0,
    services: [{ name: `svc${id}`, type: 'HDTV', content: 1 }],
    tags: [],
    ...extra,
  };
}

function event(id: number, channelId: number, start: number, stop: number, extra: HtsmsgMap = {}): HtsmsgMap {
  return { method: 'eventAdd', eventId: id, channelId, start, stop, title: `Event ${id}`, ...extra };
}

function dvr(id: number, extra: HtsmsgMap = {}): HtsmsgMap {
  return {
    method: 'dvrEntryAdd',
    id,
    enabled: 1,
    channel: 1,
    start: NOW,
    stop: NOW + 3600,
    startExtra: 0,
    stopExtra: 0,
    retention: 0,
    removal: 0,
    priority: 2,
    contentType: 1,
    state: 'scheduled',
    title: `Rec ${id}`,
    ...extra,
  };
}

function collect(cache: MetadataCache): ChangeEvent[] {
  const out: ChangeEvent[] = [];
  cache.on('change', (c) => out.push(c));
  return out;
}

function summary(changes: ChangeEvent[]): string[] {
  return changes.map((c) => `${c.action} ${c.kind} ${c.id}${c.action === 'update' ? ' ' + [...c.changed].sort().join(',') : ''}`).sort();
}

describe('merging', () => {
  test('a now/next channelUpdate merges and reports exactly the changed fields', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const changes = collect(cache);
    cache.apply(channel(1));
    const before = cache.findChannel(1);
    const c = cache.apply({ method: 'channelUpdate', channelId: 1, eventId: 10, nextEventId: 0 });
    assert.ok(c);
    assert.equal(c.action, 'update');
    assert.deepEqual(c.changed, ['eventId']);
    assert.equal(c.previous, before);
    const now = cache.findChannel(1);
    assert.equal(now?.channelName, 'Channel 1', 'fields absent from the update are kept');
    assert.equal(now?.eventId, 10);
    assert.equal(before?.eventId, 0, 'the previous object is not mutated');
    assert.equal(changes.length, 2);
  });

  test('an update that changes nothing emits nothing; deep values compare by content', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const changes = collect(cache);
    cache.apply(channel(1, { tags: [1, 2] }));
    assert.equal(cache.apply({ method: 'channelUpdate', channelId: 1, tags: [1, 2], services: [{ name: 'svc1', type: 'HDTV', content: 1 }] }), undefined);
    const c = cache.apply({ method: 'channelUpdate', channelId: 1, tags: [2, 1] });
    assert.deepEqual(c?.changed, ['tags']);
    const d = cache.apply({ method: 'channelUpdate', channelId: 1, services: [{ name: 'svc1', type: 'HDTV', content: 2 }] });
    assert.deepEqual(d?.changed, ['services']);
    assert.equal(changes.length, 3);
  });

  test('a stats-only dvrEntryUpdate keeps the rest of the entry', () => {
    const cache = new MetadataCache({ now: () => NOW });
    cache.apply(dvr(5, { state: 'recording' }));
    const c = cache.apply({ method: 'dvrEntryUpdate', id: 5, idStr: 'x', state: 'recording', dataSize: 1000, streamErrors: 0 });
    assert.deepEqual([...(c?.changed ?? [])].sort(), ['dataSize', 'idStr', 'streamErrors']);
    const e = cache.dvrEntriesById.get(5);
    assert.equal(e?.title, 'Rec 5');
    assert.equal(e?.dataSize, 1000);
    assert.equal(cache.apply({ method: 'dvrEntryUpdate', id: 5, state: 'recording', dataSize: 1000 }), undefined);
  });

  test('tagUpdate for an unknown tag is an add; eventAdd for a known event is an update', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const t = cache.apply({ method: 'tagUpdate', tagId: 7, tagName: 'News', tagIndex: 0, tagTitledIcon: 0, members: [1] });
    assert.equal(t?.action, 'add');
    cache.apply(event(1, 1, NOW, NOW + 100));
    const u = cache.apply(event(1, 1, NOW, NOW + 100, { title: 'Renamed' }));
    assert.equal(u?.action, 'update');
    assert.deepEqual(u?.changed, ['title']);
  });

  test('deletes: unknown ids emit nothing, known ones carry the last object', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const changes = collect(cache);
    assert.equal(cache.apply({ method: 'channelDelete', channelId: 99 }), undefined);
    cache.apply(channel(1));
    const d = cache.apply({ method: 'channelDelete', channelId: 1 });
    assert.equal(d?.action, 'delete');
    assert.equal((d?.object as { channelName?: string }).channelName, 'Channel 1');
    assert.equal(cache.channelsById.size, 0);
    assert.equal(changes.length, 2);
  });

  test('valueEquals: Buffers, maps, lists, bigint vs number', () => {
    assert.ok(valueEquals(Buffer.from('ab'), Buffer.from('ab')));
    assert.ok(!valueEquals(Buffer.from('ab'), Buffer.from('ac')));
    assert.ok(valueEquals({ a: [1, { b: 'x' }] }, { a: [1, { b: 'x' }] }));
    assert.ok(!valueEquals({ a: 1 }, { a: 1, b: 2 }));
    assert.ok(!valueEquals([1], { 0: 1 }));
    assert.ok(valueEquals(5n, 5));
  });
});

describe('resync', () => {
  function firstSync(cache: MetadataCache): void {
    cache.beginResync({ epg: true });
    cache.apply({ method: 'tagAdd', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0 });
    cache.apply({ method: 'tagAdd', tagId: 2, tagName: 'B', tagIndex: 1, tagTitledIcon: 0 });
    cache.apply(channel(1, { tags: [1] }));
    cache.apply(channel(2, { tags: [2] }));
    cache.apply(channel(3));
    cache.apply({ method: 'tagUpdate', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0, members: [1] });
    cache.apply({ method: 'tagUpdate', tagId: 2, tagName: 'B', tagIndex: 1, tagTitledIcon: 0, members: [2] });
    cache.apply({ method: 'autorecEntryAdd', id: 'aaa', enabled: 1, title: 'News' });
    cache.apply(dvr(10));
    cache.apply(dvr(11, { error: 'File missing', state: 'completed' }));
    cache.apply(event(100, 1, NOW, NOW + 1800));
    cache.apply(event(101, 1, NOW + 1800, NOW + 3600));
    cache.apply(event(200, 2, NOW, NOW + 3600));
    cache.apply({ method: 'initialSyncCompleted' });
  }

  test('the first sync emits one add per object, tags once with their members', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const changes = collect(cache);
    firstSync(cache);
    assert.deepEqual(summary(changes), [
      'add autorecEntry aaa',
      'add channel 1',
      'add channel 2',
      'add channel 3',
      'add dvrEntry 10',
      'add dvrEntry 11',
      'add event 100',
      'add event 101',
      'add event 200',
      'add tag 1',
      'add tag 2',
    ]);
    assert.ok(changes.every((c) => c.initial === true && !c.resync));
    assert.deepEqual(cache.tagsById.get(1)?.members, [1]);
  });

  test('an identical resync emits nothing at all', () => {
    const cache = new MetadataCache({ now: () => NOW });
    firstSync(cache);
    const changes = collect(cache);
    firstSync(cache);
    assert.deepEqual(changes, []);
    assert.equal(cache.counts.events, 3);
  });

  test('a resync reports exactly what changed while away', () => {
    const cache = new MetadataCache({ now: () => NOW });
    firstSync(cache);
    const changes = collect(cache);
    cache.beginResync({ epg: true });
    cache.apply({ method: 'tagAdd', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0 });
    // tag 2 is gone; tag 3 is new
    cache.apply({ method: 'tagAdd', tagId: 3, tagName: 'C', tagIndex: 2, tagTitledIcon: 0 });
    cache.apply(channel(1, { tags: [1], channelName: 'Renamed' }));
    cache.apply(channel(3));
    cache.apply(channel(4));
    cache.apply({ method: 'tagUpdate', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0, members: [1, 4] });
    cache.apply({ method: 'tagUpdate', tagId: 3, tagName: 'C', tagIndex: 2, tagTitledIcon: 0, members: [3] });
    cache.apply({ method: 'autorecEntryAdd', id: 'aaa', enabled: 1, title: 'News' });
    cache.apply(dvr(10));
    // the error cleared: absent from a full record means gone
    cache.apply(dvr(11, { state: 'completed' }));
    cache.apply(event(100, 1, NOW, NOW + 1800));
    cache.apply(event(101, 1, NOW + 1800, NOW + 3700));
    cache.apply({ method: 'initialSyncCompleted' });
    assert.deepEqual(summary(changes), [
      'add channel 4',
      'add tag 3',
      'delete channel 2',
      'delete event 200',
      'delete tag 2',
      'update channel 1 channelName',
      'update dvrEntry 11 error',
      'update event 101 stop',
      'update tag 1 members',
    ]);
    assert.ok(changes.every((c) => c.resync === true && !c.initial));
    assert.equal(cache.dvrEntriesById.get(11)?.error, undefined);
  });

  test('without EPG in the new sync, events are kept', () => {
    const cache = new MetadataCache({ now: () => NOW });
    firstSync(cache);
    const changes = collect(cache);
    cache.beginResync({ epg: false });
    cache.apply({ method: 'tagAdd', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0 });
    cache.apply({ method: 'tagAdd', tagId: 2, tagName: 'B', tagIndex: 1, tagTitledIcon: 0 });
    cache.apply(channel(1, { tags: [1] }));
    cache.apply(channel(2, { tags: [2] }));
    cache.apply(channel(3));
    cache.apply({ method: 'tagUpdate', tagId: 1, tagName: 'A', tagIndex: 0, tagTitledIcon: 0, members: [1] });
    cache.apply({ method: 'tagUpdate', tagId: 2, tagName: 'B', tagIndex: 1, tagTitledIcon: 0, members: [2] });
    cache.apply({ method: 'autorecEntryAdd', id: 'aaa', enabled: 1, title: 'News' });
    cache.apply(dvr(10));
    cache.apply(dvr(11, { error: 'File missing', state: 'completed' }));
    cache.apply({ method: 'initialSyncCompleted' });
    assert.deepEqual(changes, []);
    assert.equal(cache.counts.events, 3);
  });

  test('an interrupted sync followed by a full one still ends exact', () => {
    const cache = new MetadataCache({ now: () => NOW });
    firstSync(cache);
    const changes = collect(cache);
    cache.beginResync({ epg: true });
    cache.apply({ method: 'tagAdd', tagId: 1, tagName: 'A2', tagIndex: 0, tagTitledIcon: 0 });
    cache.apply(channel(1, { tags: [1] }));
    // connection lost here; a new sync starts from scratch
    firstSync(cache);
    assert.deepEqual(changes, [], 'the half sync changed nothing, the tag rename was never applied');
  });
});

describe('tags renumbered by a server restart (G13)', () => {
  const tag = (method: string, tagId: number, str: string, name: string, members?: number[]): HtsmsgMap => ({
    method,
    tagId,
    tagIdStr: str,
    tagName: name,
    tagIndex: 0,
    tagTitledIcon: 0,
    ...(members ? { members } : {}),
  });

  function sync(cache: MetadataCache, tags: Array<[number, string, string, number[]]>, channels: Array<[number, number[]]>): void {
    cache.beginResync({ epg: true });
    for (const [id, str, name] of tags) cache.apply(tag('tagAdd', id, str, name));
    for (const [id, tagIds] of channels) cache.apply(channel(id, { tags: tagIds }));
    for (const [id, str, name, members] of tags) cache.apply(tag('tagUpdate', id, str, name, members));
    cache.apply({ method: 'initialSyncCompleted' });
  }

  test('same tags under swapped ids: id updates only, channels silent, lookups by the new ids', () => {
    const cache = new MetadataCache({ now: () => NOW });
    sync(cache, [[1, 'uuid-a', 'A', [1]], [2, 'uuid-b', 'B', [2]]], [[1, [1]], [2, [2]]]);
    const changes = collect(cache);
    sync(cache, [[2, 'uuid-a', 'A', [1]], [1, 'uuid-b', 'B', [2]]], [[1, [2]], [2, [1]]]);
    assert.deepEqual(summary(changes), ['update tag 1 tagId', 'update tag 2 tagId']);
    const a = changes.find((c) => c.kind === 'tag' && c.object.tagIdStr === 'uuid-a');
    assert.equal(a?.previous && 'tagId' in a.previous ? a.previous.tagId : undefined, 1);
    assert.equal(cache.tagsById.get(2)?.tagName, 'A');
    assert.equal(cache.tagsById.get(1)?.tagName, 'B');
    assert.deepEqual(cache.channelsById.get(1)?.tags, [2], 'the channel holds the current numbers');
    assert.deepEqual(cache.tagsById.get(2)?.members, [1]);
  });

  test('real changes among renumbered tags are still reported', () => {
    const cache = new MetadataCache({ now: () => NOW });
    sync(cache, [[1, 'uuid-a', 'A', [1]], [2, 'uuid-b', 'B', [2]]], [[1, [1]], [2, [2]]]);
    const changes = collect(cache);
    // b is gone, its old number now belongs to the new tag c; a is renamed and renumbered.
    sync(cache, [[3, 'uuid-a', 'A2', [1]], [2, 'uuid-c', 'C', [2]]], [[1, [3]], [2, [2]]]);
    assert.deepEqual(summary(changes), [
      'add tag 2',
      'delete tag 2',
      'update channel 2 tags',
      'update tag 3 tagId,tagName',
    ]);
    const gone = changes.find((c) => c.action === 'delete');
    assert.equal(gone?.kind === 'tag' ? gone.object.tagIdStr : undefined, 'uuid-b');
    assert.equal(cache.tagsById.get(2)?.tagIdStr, 'uuid-c');
    assert.equal(cache.tagsById.size, 2);
  });

  test('without tagIdStr (before v41) the id is the identity', () => {
    const cache = new MetadataCache({ now: () => NOW });
    const plain = (method: string, tagId: number, tagName: string): HtsmsgMap => ({ method, tagId, tagName, tagIndex: 0, tagTitledIcon: 0 });
    cache.beginResync();
    cache.apply(plain('tagAdd', 1, 'A'));
    cache.apply({ method: 'initialSyncCompleted' });
    const changes = collect(cache);
    cache.beginResync();
    cache.apply(plain('tagAdd', 1, 'B'));
    cache.apply({ method: 'initialSyncCompleted' });
    assert.deepEqual(summary(changes), ['update tag 1 tagName']);
  });
});

describe('EPG helpers', () => {
  function epgCache(): MetadataCache {
    const cache = new MetadataCache({ now: () => NOW });
    cache.apply(channel(1, { channelName: 'Das Erste', channelNumber: 1 }));
    cache.apply(channel(2, { channelName: 'ZDF', channelNumber: 2, channelNumberMinor: 1 }));
    cache.apply(event(1, 1, NOW - 3600, NOW, { title: 'Morning News', contentType: 0x21 }));
    cache.apply(event(3, 1, NOW + 1800, NOW + 3600, { title: 'Film', contentType: 0x10, description: 'A detective story' }));
    cache.apply(event(2, 1, NOW, NOW + 1800, { title: 'Weather', contentType: 0x20 }));
    cache.apply(event(4, 2, NOW - 600, NOW + 600, { title: 'news at ten', contentType: 0x21, credits: { 'Ann Smith': 'presenter' } }));
    return cache;
  }

  test('full-record updates replace: a field that went away is gone, not kept from before', () => {
    const cache = epgCache();
    cache.apply({ method: 'eventUpdate', eventId: 2, channelId: 1, start: NOW - 600, stop: NOW + 1200, dvrId: 9 });
    const change = cache.apply({ method: 'eventUpdate', eventId: 2, channelId: 1, start: NOW - 600, stop: NOW + 1200 });
    assert.deepEqual(change?.changed, ['dvrId']);
    assert.equal((cache.get('event', 2) as { dvrId?: number }).dvrId, undefined);
    cache.apply({ method: 'dvrEntryAdd', id: 5, channel: 1, start: NOW, stop: NOW + 60, state: 'recording', error: 'No input' });
    const stats = cache.apply({ method: 'dvrEntryUpdate', id: 5, state: 'recording', dataSize: 100 });
    assert.deepEqual(stats?.changed, ['dataSize'], 'a stats-only update merges');
    assert.equal((cache.get('dvrEntry', 5) as { error?: string }).error, 'No input');
    const full = cache.apply({ method: 'dvrEntryUpdate', id: 5, channel: 1, start: NOW, stop: NOW + 60, state: 'recording' });
    assert.deepEqual(full?.changed, ['error', 'dataSize'], 'a full update clears what it no longer carries');
    const nownext = cache.apply({ method: 'channelUpdate', channelId: 1, eventId: 3, nextEventId: 0 });
    assert.ok(nownext, 'a now/next update is a change');
    assert.ok(!nownext.changed.includes('channelName'), 'now/next updates merge');
  });

  test('nowNext and eventsInWindow use start order regardless of arrival order', () => {
    const cache = epgCache();
    assert.deepEqual(cache.eventsOf(1).map((e) => e.eventId), [1, 2, 3]);
    const nn = cache.nowNext(1);
    assert.equal(nn.now?.eventId, 2);
    assert.equal(nn.next?.eventId, 3);
    assert.equal(cache.nowNext(1, NOW - 7200).now, undefined);
    assert.equal(cache.nowNext(1, NOW - 7200).next?.eventId, 1);
    assert.deepEqual(cache.eventsInWindow(1, NOW - 10, NOW + 1900).map((e) => e.eventId), [1, 2, 3]);
    assert.deepEqual(cache.eventsInWindow(1, NOW, NOW + 1800).map((e) => e.eventId), [2]);
  });

  test('an update that moves an event keeps the index in order', () => {
    const cache = epgCache();
    // eventUpdate is a full record, like eventAdd (reference §5.5)
    cache.apply({ method: 'eventUpdate', eventId: 1, channelId: 1, start: NOW + 3600, stop: NOW + 4000 });
    assert.deepEqual(cache.eventsOf(1).map((e) => e.eventId), [2, 3, 1]);
    cache.apply({ method: 'eventUpdate', eventId: 1, channelId: 2, start: NOW + 3600, stop: NOW + 4000 });
    assert.deepEqual(cache.eventsOf(1).map((e) => e.eventId), [2, 3]);
    assert.deepEqual(cache.eventsOf(2).map((e) => e.eventId), [4, 1]);
    cache.apply({ method: 'eventDelete', eventId: 4 });
    assert.deepEqual(cache.eventsOf(2).map((e) => e.eventId), [1]);
  });

  test('searchEpg by title, regexp, full text, genre, channel and window', () => {
    const cache = epgCache();
    const ids = (r: { eventId: number }[]): number[] => r.map((e) => e.eventId);
    assert.deepEqual(ids(cache.searchEpg({ title: 'NEWS' })), [1, 4]);
    assert.deepEqual(ids(cache.searchEpg({ title: /^news/i })), [4]);
    assert.deepEqual(ids(cache.searchEpg({ fullText: 'detective' })), [3]);
    assert.deepEqual(ids(cache.searchEpg({ fullText: 'ann smith' })), [4]);
    assert.deepEqual(ids(cache.searchEpg({ contentType: 2 })), [1, 4, 2]);
    assert.deepEqual(ids(cache.searchEpg({ contentType: 0x21 })), [1, 4]);
    assert.deepEqual(ids(cache.searchEpg({ channelId: 1, from: NOW })), [2, 3]);
    assert.deepEqual(ids(cache.searchEpg({ to: NOW, limit: 1 })), [1]);
  });

  test('findChannel by id, name, number and major.minor', () => {
    const cache = epgCache();
    assert.equal(cache.findChannel(2)?.channelName, 'ZDF');
    assert.equal(cache.findChannel('das erste')?.channelId, 1);
    assert.equal(cache.findChannel('1')?.channelId, 1);
    assert.equal(cache.findChannel('2.1')?.channelId, 2);
    cache.apply(channel(1000, { channelName: 'Arte', channelNumber: 5 }));
    assert.equal(cache.findChannel('5')?.channelId, 1000, 'a numeric string is a channel number first');
    assert.equal(cache.findChannel('1000')?.channelId, 1000, 'then a channel id');
    assert.equal(cache.findChannel(5)?.channelId, 1000, 'a number that is no id is a channel number');
    assert.equal(cache.findChannel('5.1'), undefined);
    assert.equal(cache.findChannel('nope'), undefined);
  });

  test('events that ended long ago are pruned and not taken in', () => {
    const cache = new MetadataCache({ now: () => NOW, keepEndedEventsSec: 3600 });
    assert.equal(cache.apply(event(1, 1, NOW - 10_000, NOW - 7200)), undefined);
    cache.apply(event(2, 1, NOW - 5000, NOW - 3000));
    cache.apply(event(3, 1, NOW, NOW + 100));
    assert.equal(cache.pruneEvents(NOW - 2000), 1);
    assert.deepEqual(cache.eventsOf(1).map((e) => e.eventId), [3]);
  });
});

// Only counts here: how fast this runs is measured in bench/, not asserted by unit tests.
describe('large sync', () => {
  test('100,000 events: one add each, and an identical resync is silent', () => {
    const channels = 200;
    const perChannel = 500;
    const msgs: HtsmsgMap[] = [];
    for (let c = 1; c <= channels; c++) msgs.push(channel(c));
    let id = 1;
    for (let c = 1; c <= channels; c++) {
      for (let i = 0; i < perChannel; i++) {
        msgs.push(
          event(id++, c, NOW + i * 1800, NOW + (i + 1) * 1800, {
            summary: 'Some summary text of moderate length for the event',
            contentType: 0x10,
            category: ['Film', 'Drama'],
            credits: { 'A Person': 'actor' },
          }),
        );
      }
    }
    const cache = new MetadataCache({ now: () => NOW });
    let n = 0;
    cache.on('change', () => n++);
    cache.beginResync({ epg: true });
    for (const m of msgs) cache.apply(m);
    cache.apply({ method: 'initialSyncCompleted' });
    assert.equal(n, channels + channels * perChannel);
    cache.beginResync({ epg: true });
    for (const m of msgs) cache.apply(m);
    cache.apply({ method: 'initialSyncCompleted' });
    assert.equal(n, channels + channels * perChannel, 'identical resync emits nothing');
    assert.equal(cache.nowNext(7, NOW + 100).now?.eventId, 6 * perChannel + 1);
  });
});

test('the real capture: its stats-only dvrEntryUpdate merges into the full record', () => {
  const rx = readFileSync(path.join(__dirname, '..', '..', 'shared', 'captures', 'session-ch2-h264-rx.bin'));
  const msgs = new FrameDecoder().push(rx).filter((m) => typeof m.method === 'string');
  const first = msgs.find((m) => m.method === 'eventAdd');
  const cache = new MetadataCache({ now: () => (typeof first?.start === 'number' ? first.start : NOW), keepEndedEventsSec: 0 });
  cache.beginResync({ epg: true });
  const updates: ChangeEvent[] = [];
  for (const m of msgs) {
    const c = cache.apply(m);
    if (m.method === 'dvrEntryUpdate' && c) updates.push(c);
  }
  const update = msgs.find((m) => m.method === 'dvrEntryUpdate');
  assert.ok(update, 'the capture has its dvrEntryUpdate');
  assert.equal(update.start, undefined, 'and it is stats-only');
  const id = update.id as number;
  const add = msgs.find((m) => m.method === 'dvrEntryAdd' && m.id === id)!;
  assert.deepEqual(updates.map((c) => c.changed), [['dataSize']]);
  const entry = cache.get('dvrEntry', id) as unknown as Record<string, unknown>;
  for (const k of Object.keys(add)) {
    if (k === 'method' || k === 'dataSize') continue;
    assert.ok(valueEquals(entry[k] as HtsmsgValue, add[k]), `${k} kept from the full record`);
  }
  assert.equal(entry.dataSize, update.dataSize);
});

test('method names that are Object.prototype keys are not metadata; a null field in a full record counts as removed', () => {
  assert.equal(isMetadataMessage('constructor'), false);
  assert.equal(isMetadataMessage('toString'), false);
  const cache = new MetadataCache();
  assert.equal(cache.apply({ method: 'constructor', undefined: 1 }), undefined);
  cache.apply({ method: 'dvrEntryAdd', id: 3, channel: 1, start: 10, stop: 20, state: 'completed', error: 'File missing' });
  const change = cache.apply({ method: 'dvrEntryUpdate', id: 3, channel: 1, start: 10, stop: 20, state: 'completed', error: null } as unknown as HtsmsgMap);
  assert.deepEqual(change?.changed, ['error']);
  assert.equal((cache.get('dvrEntry', 3) as { error?: string }).error, undefined);
});

describe('snapshots', () => {
  test('currentAsAdds: every object of a kind as an add; events of chosen channels only', () => {
    const cache = new MetadataCache({ now: () => NOW });
    cache.apply(channel(1));
    cache.apply(channel(2));
    cache.apply(event(10, 1, NOW, NOW + 600));
    cache.apply(event(11, 1, NOW + 600, NOW + 1200));
    cache.apply(event(20, 2, NOW, NOW + 600));
    cache.apply(dvr(5));
    const channels = [...cache.currentAsAdds('channel')];
    assert.deepEqual(channels.map((c) => [c.kind, c.action, c.id, c.changed.length]), [['channel', 'add', 1, 0], ['channel', 'add', 2, 0]]);
    assert.equal(channels[0].object, cache.findChannel(1), 'the cached object itself, not a copy');
    assert.deepEqual([...cache.currentAsAdds('event')].map((c) => c.id).sort(), [10, 11, 20]);
    assert.deepEqual([...cache.currentAsAdds('event', [1])].map((c) => c.id), [10, 11], 'in start order');
    assert.deepEqual([...cache.currentAsAdds('event', [])], []);
    assert.deepEqual([...cache.currentAsAdds('dvrEntry')].map((c) => c.id), [5]);
    assert.deepEqual([...cache.currentAsAdds('timerecEntry')], []);
  });
});
