import { test } from 'node:test';
import assert from 'node:assert/strict';
import { channelNumberText, friendlyEvent, genreName, parseGenre, plainCopy, subGenreName } from '../src/htsp/epg-format';
import type { Channel, EpgEvent } from '../src/htsp';

test('genre names come from the high nibble of an event and from the whole value of a DVR entry', () => {
  assert.equal(genreName(0x10), 'Movie/Drama');
  assert.equal(genreName(0x43), 'Sports');
  assert.equal(genreName(0x55), "Children's/Youth");
  assert.equal(genreName(4, true), 'Sports');
  assert.equal(genreName(0x00), undefined, '0 is "undefined content"');
  assert.equal(genreName(0xc0), undefined, 'reserved');
  assert.equal(genreName(undefined), undefined);
  assert.equal(genreName(300), undefined);
  assert.equal(subGenreName(0x43), 'Football/Soccer');
  assert.equal(subGenreName(0x40), undefined, 'sub-category 0 is the general one');
});

test('parseGenre takes numbers, hex text, DVB names, their parts and common words', () => {
  assert.equal(parseGenre(4), 4);
  assert.equal(parseGenre(0x43), 0x43);
  assert.equal(parseGenre('0x43'), 0x43);
  assert.equal(parseGenre('7'), 7);
  assert.equal(parseGenre('Movie/Drama'), 1);
  assert.equal(parseGenre('drama'), 1);
  assert.equal(parseGenre('movies'), 1);
  assert.equal(parseGenre('NEWS'), 2);
  assert.equal(parseGenre('current affairs'), 2);
  assert.equal(parseGenre('game show'), 3);
  assert.equal(parseGenre('Sport'), 4);
  assert.equal(parseGenre("children's"), 5);
  assert.equal(parseGenre('kids'), 5);
  assert.equal(parseGenre('Music/Ballet/Dance'), 6);
  assert.equal(parseGenre('arts'), 7);
  assert.equal(parseGenre('Culture'), 7);
  assert.equal(parseGenre('leisure hobbies'), 10);
  for (const bad of ['telenovela', '', '256', -1, 1.5, null, {}, '0x1ff']) assert.equal(parseGenre(bad), undefined, String(bad));
});

test('channel numbers read as a TV shows them', () => {
  assert.equal(channelNumberText({ channelNumber: 3 }), '3');
  assert.equal(channelNumberText({ channelNumber: 3, channelNumberMinor: 1 }), '3.1');
  assert.equal(channelNumberText({ channelNumber: 0 }), undefined);
});

const channel: Channel = { channelId: 9, channelNumber: 5, channelName: 'Five', eventId: 0, nextEventId: 0, services: [], tags: [] };

test('friendlyEvent adds channel, ISO times, duration, genres, and progress only for a running event', () => {
  const ev: EpgEvent = { eventId: 1, channelId: 9, start: 1_700_000_000, stop: 1_700_003_600, title: 'T', contentType: 0x43, credits: { Ada: 'actor' } };
  const f = friendlyEvent(ev, channel, 1_700_000_900);
  assert.equal(f.channelName, 'Five');
  assert.equal(f.channelNumber, '5');
  assert.equal(f.startIso, '2023-11-14T22:13:20.000Z');
  assert.equal(f.stopIso, '2023-11-14T23:13:20.000Z');
  assert.equal(f.duration, 3600);
  assert.equal(f.genre, 'Sports');
  assert.equal(f.subGenre, 'Football/Soccer');
  assert.equal(f.progress, 25);
  assert.equal(f.remaining, 2700);
  assert.equal(friendlyEvent(ev, channel, ev.stop).progress, undefined, 'ended');
  assert.equal(friendlyEvent(ev, channel).progress, undefined, 'no clock given');
  assert.equal(friendlyEvent(ev).channelName, undefined);
  // A flow changing the output must not change the cached event.
  (f.credits as Record<string, string>).Bob = 'guest';
  assert.deepEqual(ev.credits, { Ada: 'actor' });
});

test('plainCopy copies deeply and turns huge 64-bit values into text', () => {
  const src = { a: [1, { b: 2 }], big: 2n ** 60n, small: 5n, buf: Buffer.from('x') };
  const copy = plainCopy(src);
  assert.notEqual(copy.a, src.a);
  assert.deepEqual(copy.a, src.a);
  assert.equal(copy.big, (2n ** 60n).toString());
  assert.equal(copy.small, 5);
  assert.ok(Buffer.isBuffer(copy.buf) && copy.buf !== src.buf);
});
