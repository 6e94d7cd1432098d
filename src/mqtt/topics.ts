/**
 * Topic names of the bridge. Everything it publishes lives under one base topic, so that a
 * single `<base>/#` subscription shows (and a cleanup can find) all of it.
 */

/** Ids Home Assistant accepts in discovery topics and `unique_id`s. */
export const ID_CHARSET = /^[a-zA-Z0-9_-]+$/;

/**
 * A lower-case id from any text: letters and digits kept (accents folded), everything else
 * collapsed to `_`. Returns `fallback` when nothing usable is left.
 */
export function slug(text: string, fallback = 'x'): string {
  const folded = text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  const s = folded
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  return s || fallback;
}

/**
 * Checks a base topic or discovery prefix: no wildcards, no NUL, no empty levels at the ends
 * (`a/b/` would make `a/b//status`), not starting with `$` (reserved for the broker).
 */
export function topicProblem(topic: string): string | undefined {
  if (topic === '') return 'is empty';
  if (/[+#\u0000]/.test(topic)) return 'must not contain +, # or NUL';
  if (topic.startsWith('$')) return 'must not start with $';
  if (topic.startsWith('/') || topic.endsWith('/')) return 'must not start or end with /';
  if (topic.includes('//')) return 'must not contain empty levels (//)';
  if (Buffer.byteLength(topic) > 1024) return 'is too long';
  return undefined;
}

/** `tvheadend/<server name>`, the default base topic. */
export function defaultBaseTopic(serverName: string): string {
  return `tvheadend/${slug(serverName, 'server')}`;
}

/** Topic levels below the base, as published. */
export const STATE = {
  status: 'status',
  server: 'server',
  disk: 'disk',
  subscriptions: 'subscriptions',
  recording: 'recording',
  upcoming: 'upcoming',
  lastCompleted: 'last_completed',
  lastFailed: 'last_failed',
  viewers: 'viewers',
  tuners: 'tuners',
} as const;

export type StateTopicName = (typeof STATE)[keyof typeof STATE];

/** Subscription filter for the commands of the bridge at `base`. */
export function commandFilterOf(base: string): string {
  return `${base}/cmd/+`;
}

/** The three levels after the prefix of a discovery topic, `<component>/<node id>/<object id>/<last>`. */
export interface DiscoveryLevels {
  component: string;
  objectId: string;
  last: string;
}

/**
 * The levels of `topic` when it is `<prefix>/<component>/<nodeId>/<object id>/<last>`: the shape
 * of every discovery topic of one device, whatever its component, object id or last level.
 */
export function discoveryLevels(prefix: string, nodeId: string, topic: string): DiscoveryLevels | undefined {
  const parts = topic.split('/');
  const pre = prefix.split('/');
  const n = pre.length;
  if (parts.length !== n + 4 || parts[n + 1] !== nodeId || !pre.every((p, i) => parts[i] === p)) return undefined;
  return { component: parts[n], objectId: parts[n + 2], last: parts[n + 3] };
}

export class Topics {
  readonly base: string;
  readonly prefix: string;
  /** Discovery node id: the base topic as an id, so two bridges never share configs. */
  readonly nodeId: string;

  constructor(base: string, discoveryPrefix: string) {
    this.base = base;
    this.prefix = discoveryPrefix;
    this.nodeId = slug(base.replace(/\//g, '_'), 'tvheadend');
  }

  state(name: StateTopicName): string {
    return `${this.base}/${name}`;
  }
  get availability(): string {
    return this.state(STATE.status);
  }
  dvr(id: number): string {
    return `${this.base}/dvr/${id}`;
  }
  channel(key: string): string {
    return `${this.base}/channel/${key}`;
  }
  /** Subscription filter for commands. */
  get commandFilter(): string {
    return commandFilterOf(this.base);
  }
  reply(method: string): string {
    return `${this.base}/reply/${method}`;
  }
  /** The method of a command topic, or undefined when `topic` is not one. */
  commandOf(topic: string): string | undefined {
    const head = `${this.base}/cmd/`;
    if (!topic.startsWith(head)) return undefined;
    const rest = topic.slice(head.length);
    return rest && !rest.includes('/') ? rest : undefined;
  }
  /** Home Assistant's birth/last-will topic. */
  get haStatus(): string {
    return `${this.prefix}/status`;
  }
  discovery(component: string, objectId: string): string {
    return `${this.prefix}/${component}/${this.nodeId}/${objectId}/config`;
  }
  /**
   * Whether a retained topic seen on the broker is one this bridge manages (and may therefore
   * delete when it no longer publishes it). Commands and replies belong to other clients.
   */
  isOwned(topic: string): boolean {
    if (topic.startsWith(`${this.base}/`)) {
      const rest = topic.slice(this.base.length + 1);
      if (rest === STATE.status) return false;
      return !(rest.startsWith('cmd/') || rest.startsWith('reply/'));
    }
    return discoveryLevels(this.prefix, this.nodeId, topic)?.last === 'config';
  }
}
