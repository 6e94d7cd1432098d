/**
 * Home Assistant MQTT discovery: one device per Tvheadend server, one config per entity.
 *
 * An entity is announced exactly when its state topic is published, so entities that have no
 * data (no admin right for the viewer count, a channel that left the selection) disappear from
 * HA by the same diff that removes their state.
 */
import type { Json } from './json';
import { ID_CHARSET, STATE, type Topics } from './topics';
import type { SelectedChannel } from './state';

export interface Origin {
  name: string;
  sw: string;
  url: string;
}

export interface DiscoveryInputs {
  topics: Topics;
  origin: Origin;
  server: { name: string; version: string } | undefined;
  /** Label of the device when the server has not told its name yet. */
  deviceName: string;
  /** State topics that are published now; only looked up, so the bridge hands in its own map. */
  published: Pick<ReadonlySet<string>, 'has'>;
  /** Channels with a now-playing sensor. */
  nowPlaying: readonly SelectedChannel[];
  /** Commands the broker may run (decides which buttons exist). */
  allowed: ReadonlySet<string>;
}

export type DiscoveryConfig = { [key: string]: Json };

interface EntitySpec {
  component: 'sensor' | 'binary_sensor' | 'button';
  objectId: string;
  name: string;
  /** Topic level below the base, or undefined for buttons. */
  state?: string;
  config: DiscoveryConfig;
}

const GIB = 1073741824;

const ENTITY_SPECS: readonly EntitySpec[] = [
  {
    component: 'binary_sensor',
    objectId: 'recording',
    name: 'Recording',
    state: STATE.recording,
    config: {
      value_template: "{{ 'ON' if value_json.count > 0 else 'OFF' }}",
      device_class: 'running',
      icon: 'mdi:record-rec',
      json_attributes_topic: `~/${STATE.recording}`,
    },
  },
  {
    component: 'sensor',
    objectId: 'current_recording',
    name: 'Current recording',
    state: STATE.recording,
    config: { value_template: '{{ value_json.title }}', icon: 'mdi:filmstrip' },
  },
  {
    component: 'sensor',
    objectId: 'upcoming_recordings',
    name: 'Upcoming recordings',
    state: STATE.upcoming,
    config: {
      value_template: '{{ value_json.count }}',
      state_class: 'measurement',
      icon: 'mdi:calendar-clock',
      json_attributes_topic: `~/${STATE.upcoming}`,
      json_attributes_template: '{{ {"next": value_json.next} | tojson }}',
    },
  },
  {
    component: 'sensor',
    objectId: 'last_recording',
    name: 'Last recording',
    state: STATE.lastCompleted,
    config: { value_template: '{{ value_json.title }}', icon: 'mdi:check-circle-outline', json_attributes_topic: `~/${STATE.lastCompleted}` },
  },
  {
    component: 'sensor',
    objectId: 'last_failed_recording',
    name: 'Last failed recording',
    state: STATE.lastFailed,
    config: { value_template: '{{ value_json.title }}', icon: 'mdi:alert-circle-outline', json_attributes_topic: `~/${STATE.lastFailed}` },
  },
  {
    component: 'sensor',
    objectId: 'disk_free',
    name: 'Free disk space',
    state: STATE.disk,
    config: {
      value_template: `{{ (value_json.free / ${GIB}) | round(1) }}`,
      unit_of_measurement: 'GiB',
      device_class: 'data_size',
      state_class: 'measurement',
      json_attributes_topic: `~/${STATE.disk}`,
    },
  },
  {
    component: 'sensor',
    objectId: 'disk_used',
    name: 'Disk used',
    state: STATE.disk,
    config: { value_template: '{{ value_json.usedPercent }}', unit_of_measurement: '%', state_class: 'measurement', icon: 'mdi:harddisk' },
  },
  {
    component: 'sensor',
    objectId: 'active_subscriptions',
    name: 'Active subscriptions',
    state: STATE.subscriptions,
    config: {
      value_template: '{{ value_json.count }}',
      state_class: 'measurement',
      icon: 'mdi:television-play',
      json_attributes_topic: `~/${STATE.subscriptions}`,
    },
  },
  {
    component: 'sensor',
    objectId: 'signal_quality',
    name: 'Signal quality',
    state: STATE.subscriptions,
    config: { value_template: '{{ value_json.signal }}', unit_of_measurement: '%', state_class: 'measurement', icon: 'mdi:signal' },
  },
  {
    component: 'sensor',
    objectId: 'viewers',
    name: 'Viewers',
    state: STATE.viewers,
    config: {
      value_template: '{{ value_json.count }}',
      state_class: 'measurement',
      icon: 'mdi:account-multiple',
      json_attributes_topic: `~/${STATE.viewers}`,
    },
  },
  {
    component: 'sensor',
    objectId: 'tuners_in_use',
    name: 'Tuners in use',
    state: STATE.tuners,
    config: {
      value_template: '{{ value_json.inUse }}',
      state_class: 'measurement',
      icon: 'mdi:antenna',
      json_attributes_topic: `~/${STATE.tuners}`,
    },
  },
];

/** Discovery topic → config payload for everything that should exist now. */
export function discoveryConfigs(inp: DiscoveryInputs): Map<string, DiscoveryConfig> {
  const { topics } = inp;
  const out = new Map<string, DiscoveryConfig>();
  const device: DiscoveryConfig = {
    identifiers: [`tvheadend_${topics.nodeId}`],
    name: inp.server ? `Tvheadend ${inp.server.name}` : inp.deviceName,
    manufacturer: 'Tvheadend',
    model: 'Tvheadend server (HTSP)',
  };
  if (inp.server) device.sw_version = inp.server.version;
  const common = (objectId: string, name: string): DiscoveryConfig => ({
    '~': topics.base,
    name,
    has_entity_name: true,
    unique_id: `${topics.nodeId}_${objectId}`,
    availability: [{ topic: `~/${STATE.status}` }],
    device,
    origin: { name: inp.origin.name, sw: inp.origin.sw, url: inp.origin.url },
  });

  for (const spec of ENTITY_SPECS) {
    if (spec.state === undefined || !inp.published.has(`${topics.base}/${spec.state}`)) continue;
    out.set(topics.discovery(spec.component, spec.objectId), {
      ...common(spec.objectId, spec.name),
      state_topic: `~/${spec.state}`,
      ...spec.config,
    });
  }

  for (const ch of inp.nowPlaying) {
    const topic = topics.channel(ch.key);
    if (!inp.published.has(topic)) continue;
    const objectId = `now_${ch.key}`;
    out.set(topics.discovery('sensor', objectId), {
      ...common(objectId, `Now on ${ch.name}`),
      state_topic: `~/channel/${ch.key}`,
      value_template: '{{ value_json.now.title if value_json.now else None }}',
      json_attributes_topic: `~/channel/${ch.key}`,
      icon: 'mdi:television-classic',
    });
  }

  if (inp.allowed.has('stopRecording') && inp.published.has(topics.state(STATE.recording))) {
    out.set(topics.discovery('button', 'stop_recording'), {
      ...common('stop_recording', 'Stop recording'),
      command_topic: '~/cmd/stopRecording',
      payload_press: '{}',
      icon: 'mdi:stop-circle-outline',
    });
  }
  return out;
}

// ------------------------------------------------------------------ validation

/** Keys HA requires per component, beyond the common ones. */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  button: ['command_topic'],
};

/**
 * Problems HA would have with a config (empty list = fine). Used by the tests and as a guard
 * before publishing, so a mistake shows in the log rather than as a silently ignored entity.
 */
export function discoveryProblems(topic: string, payload: string): string[] {
  const problems: string[] = [];
  const m = /^(.+)\/([^/]+)\/([^/]+)\/([^/]+)\/config$/.exec(topic);
  if (!m) return [`${topic}: not <prefix>/<component>/<node_id>/<object_id>/config`];
  const [, , component, nodeId, objectId] = m;
  if (!(component in REQUIRED)) problems.push(`unknown component ${component}`);
  if (!ID_CHARSET.test(nodeId)) problems.push(`node id ${nodeId} has characters outside [a-zA-Z0-9_-]`);
  if (!ID_CHARSET.test(objectId)) problems.push(`object id ${objectId} has characters outside [a-zA-Z0-9_-]`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(payload);
  } catch {
    return [...problems, 'payload is not JSON'];
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) return [...problems, 'payload is not an object'];
  const c = cfg as Record<string, unknown>;
  const text = (k: string): boolean => typeof c[k] === 'string' && (c[k] as string) !== '';
  if (!text('unique_id')) problems.push('unique_id missing');
  else if (!ID_CHARSET.test(c.unique_id as string)) problems.push('unique_id has characters outside [a-zA-Z0-9_-]');
  const device = c.device as Record<string, unknown> | undefined;
  if (!device || typeof device !== 'object') problems.push('device missing');
  else if (!Array.isArray(device.identifiers) || device.identifiers.length === 0) problems.push('device.identifiers missing');
  if (!text('name') && !(device && c.has_entity_name === true)) problems.push('name (or device + has_entity_name) missing');
  const origin = c.origin as Record<string, unknown> | undefined;
  if (!origin || typeof origin.name !== 'string' || origin.name === '') problems.push('origin.name missing');
  const avail = c.availability;
  const hasAvail = text('availability_topic') || (Array.isArray(avail) && avail.length > 0 && avail.every((a) => a && typeof (a as Record<string, unknown>).topic === 'string'));
  if (!hasAvail) problems.push('availability missing');
  for (const k of REQUIRED[component] ?? []) if (!text(k)) problems.push(`${k} missing`);
  // `~` is expanded by HA only at the start or end of a topic value.
  for (const [k, v] of Object.entries(c)) {
    if (k.endsWith('_topic') && typeof v === 'string' && v.includes('~') && !v.startsWith('~') && !v.endsWith('~')) {
      problems.push(`${k}: ~ in the middle`);
    }
    if (k.endsWith('_topic') && typeof v === 'string' && v.startsWith('~') && typeof c['~'] !== 'string') problems.push(`${k} uses ~ without a ~ base`);
  }
  return problems;
}
