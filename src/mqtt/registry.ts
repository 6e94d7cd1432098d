/**
 * Where a bridge instance publishes, noted on the broker itself.
 *
 * Everything the bridge publishes is placed by its base topic and discovery prefix (the
 * discovery node id is derived from the base). Change either and the old place would keep its
 * retained states and configs for ever: Home Assistant would show a second, dead device. So a
 * bridge that has a stable identity (the Node-RED node's id) keeps one retained note per
 * instance at `tvheadend-bridge/<instance id>`, a topic that depends on neither the base nor the
 * prefix, and on connect compares the note with where it publishes now.
 *
 * What may be cleared at the old place is decided here, without any broker, so that the rules
 * (only shapes the bridge publishes, never anything of the current place or of another
 * instance's) are testable on their own.
 */
import { commandFilterOf, discoveryLevels, ID_CHARSET, STATE, topicProblem, type Topics } from './topics';

/** First level of every instance's note; outside any base topic or discovery prefix. */
export const REGISTRY_ROOT = 'tvheadend-bridge';
/** All instances' notes. */
export const REGISTRY_FILTER = `${REGISTRY_ROOT}/+`;

/** Topic levels directly under a base topic that the bridge publishes. */
const STATE_LEVELS: ReadonlySet<string> = new Set<string>(Object.values(STATE));
/** Keys of channel topics are `slug()`s (see `selectChannels`). */
const CHANNEL_KEY = /^[a-z0-9_]+$/;
/** HA components the bridge announces are lower-case words. */
const COMPONENT = /^[a-z_]+$/;

export interface BridgePlace {
  base: string;
  prefix: string;
  /** Discovery node id; stored rather than derived, so that a change of its derivation is still found. */
  nodeId: string;
  /** Whether discovery was on; informative: configs of an old place are cleared either way. */
  discovery: boolean;
}

/**
 * Checks an instance id. A state level name is refused because, with the base topic
 * `tvheadend-bridge`, `tvheadend-bridge/server` would be both a state topic and a note.
 */
export function instanceIdProblem(id: string): string | undefined {
  if (id === '') return 'is empty';
  if (/[/+#\u0000]/.test(id)) return 'must not contain /, +, # or NUL';
  if (STATE_LEVELS.has(id)) return 'must not be the name of a state topic';
  if (Buffer.byteLength(id) > 256) return 'is too long';
  return undefined;
}

export function registryTopic(instanceId: string): string {
  return `${REGISTRY_ROOT}/${instanceId}`;
}

/** The instance id a note's topic names, or undefined when `topic` is no note. */
export function registryInstanceOf(topic: string): string | undefined {
  if (!topic.startsWith(`${REGISTRY_ROOT}/`)) return undefined;
  const rest = topic.slice(REGISTRY_ROOT.length + 1);
  if (rest === '' || rest.includes('/') || STATE_LEVELS.has(rest)) return undefined;
  return rest;
}

export function placeOf(topics: Topics, discovery: boolean): BridgePlace {
  return { base: topics.base, prefix: topics.prefix, nodeId: topics.nodeId, discovery };
}

export function encodePlace(p: BridgePlace): string {
  return JSON.stringify({ v: 1, base: p.base, prefix: p.prefix, nodeId: p.nodeId, discovery: p.discovery });
}

/**
 * A note as read from the broker, or undefined when it is not one. Anyone can publish there, so
 * every field is checked: a place built from a malformed note must never widen what is cleared.
 */
export function parsePlace(payload: string): BridgePlace | undefined {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const { base, prefix, nodeId, discovery } = o;
  if (typeof base !== 'string' || topicProblem(base)) return undefined;
  if (typeof prefix !== 'string' || topicProblem(prefix)) return undefined;
  if (typeof nodeId !== 'string' || !ID_CHARSET.test(nodeId)) return undefined;
  return { base, prefix, nodeId, discovery: discovery !== false };
}

/** The places the notes (instance id → payload) name, but that of `self` and malformed ones. */
export function notedPlaces(notes: ReadonlyMap<string, string>, self: string | undefined): BridgePlace[] {
  const out: BridgePlace[] = [];
  for (const [id, payload] of notes) {
    const p = id === self ? undefined : parsePlace(payload);
    if (p) out.push(p);
  }
  return out;
}

/** Same topics; whether discovery was on does not move anything. */
export function samePlace(a: BridgePlace, b: BridgePlace): boolean {
  return a.base === b.base && a.prefix === b.prefix && a.nodeId === b.nodeId;
}

/** Filters of the state levels the bridge publishes under `base`. */
function stateFilters(base: string): string[] {
  return [`${base}/+`, `${base}/dvr/+`, `${base}/channel/+`];
}

/** Filter of the discovery configs of the device of `place`. */
function configFilter(place: Pick<BridgePlace, 'prefix' | 'nodeId'>): string {
  return `${place.prefix}/+/${place.nodeId}/+/config`;
}

/**
 * The filters that find every retained topic the bridge publishes at `place`. They name the
 * levels it publishes (not `<base>/#`), so that they never overlap its command subscription: an
 * overlapping one could deliver a command twice.
 */
export function readbackFilters(place: Pick<BridgePlace, 'base' | 'prefix' | 'nodeId'>): string[] {
  return [...stateFilters(place.base), configFilter(place)];
}

export interface LeftoverFilters {
  filters: string[];
  /**
   * False when some level of the old place could not be read: its filter overlaps the current
   * place's command subscription (an old base `<new base>/cmd`), where a subscription could
   * deliver a command twice and unsubscribing an identical one would end the command
   * subscription, or lies under the current commands or replies, which are never cleared. What
   * lies there stays; the note should keep naming the old place.
   */
  complete: boolean;
}

/**
 * The filters that find what the bridge left at `old` (the levels that moved), without those
 * that would overlap the current place's command subscription or lie under its commands.
 */
export function leftoverFilters(old: BridgePlace, current: BridgePlace): LeftoverFilters {
  const wanted: string[] = [];
  if (old.base !== current.base) wanted.push(...stateFilters(old.base));
  if (old.prefix !== current.prefix || old.nodeId !== current.nodeId) wanted.push(configFilter(old));
  const commands = commandFilterOf(current.base);
  // Whatever lies under the current commands and replies is other clients' (see `usedBy`):
  // a filter there finds nothing to clear.
  const foreign = [`${current.base}/cmd/`, `${current.base}/reply/`];
  const filters = wanted.filter((f) => !filtersOverlap(f, commands) && !foreign.some((head) => f.startsWith(head)));
  return { filters, complete: filters.length === wanted.length };
}

/** Whether one topic could match both filters (filters of `+` wildcards only, no `#`). */
export function filtersOverlap(a: string, b: string): boolean {
  const pa = a.split('/');
  const pb = b.split('/');
  return pa.length === pb.length && pa.every((p, i) => p === pb[i] || p === '+' || pb[i] === '+');
}

/** Whether `topic` matches `filter` (levels and `+` only). */
export function filterMatches(filter: string, topic: string): boolean {
  const pf = filter.split('/');
  const pt = topic.split('/');
  return pf.length === pt.length && pf.every((p, i) => p === '+' || p === pt[i]);
}

/**
 * Whether the bridge publishes `topic` at `place`: a state topic (availability included), a DVR
 * entry, a channel or a discovery config, each in exactly the shape the bridge gives it. Stricter
 * than `Topics.isOwned`, which may claim everything under the base because the bridge publishes
 * there now; an old base may since have been taken by something else.
 */
export function publishedAt(place: BridgePlace, topic: string): boolean {
  if (topic.startsWith(`${place.base}/`)) {
    const parts = topic.slice(place.base.length + 1).split('/');
    if (parts.length === 1 && STATE_LEVELS.has(parts[0])) return true;
    if (parts.length === 2 && parts[0] === 'dvr' && /^\d+$/.test(parts[1])) return true;
    if (parts.length === 2 && parts[0] === 'channel' && CHANNEL_KEY.test(parts[1])) return true;
  }
  const d = discoveryLevels(place.prefix, place.nodeId, topic);
  return d !== undefined && COMPONENT.test(d.component) && ID_CHARSET.test(d.objectId) && d.last === 'config';
}

/**
 * Whether the bridge at `place` publishes or listens on `topic`: its state, DVR, channel and
 * config shapes (whether or not it publishes that one now), its command and reply topics, the
 * base itself and Home Assistant's status topic. Whatever else lies under its base the bridge
 * there never publishes, so a nested old place's leftovers there (`<old>/dvr/<id>` under the new
 * base `<old minus its last level>`) may go.
 */
export function usedBy(place: BridgePlace, topic: string): boolean {
  if (topic === place.base || topic === `${place.prefix}/status` || publishedAt(place, topic)) return true;
  if (topic.startsWith(`${place.base}/cmd/`) || topic.startsWith(`${place.base}/reply/`)) return true;
  return discoveryLevels(place.prefix, place.nodeId, topic) !== undefined;
}

/**
 * Whether `topic` lies in another instance's place: everything under its base, as far as this
 * bridge can tell (it does not know that one's channels or entries), and what `usedBy` names.
 */
export function claimedBy(place: BridgePlace, topic: string): boolean {
  return topic.startsWith(`${place.base}/`) || usedBy(place, topic);
}

export interface Leftovers {
  /** Retained topics of the old place to clear. */
  clear: string[];
  /** Topics of the old place's shapes left alone because another instance's place claims them. */
  othersUse: string[];
}

/**
 * Of the retained topics `seen` under the old place's filters, those to clear: published there
 * by the bridge, and used neither by the current place (nested bases share topics) nor by
 * another instance's noted place (a copied node starts out on its original's base). HA's status
 * topic under the old prefix is HA's, never cleared.
 */
export function leftovers(old: BridgePlace, seen: Iterable<string>, current: BridgePlace, others: readonly BridgePlace[]): Leftovers {
  const clear: string[] = [];
  const othersUse: string[] = [];
  for (const topic of seen) {
    if (!publishedAt(old, topic) || topic === `${old.prefix}/status` || usedBy(current, topic)) continue;
    if (others.some((p) => claimedBy(p, topic))) othersUse.push(topic);
    else clear.push(topic);
  }
  return { clear, othersUse };
}
