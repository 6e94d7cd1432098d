/**
 * `tvheadend-events`: the session's change stream as messages, plus server-wide activity and
 * the higher-level events automations want (recordings, programme changes, reminders).
 *
 * Everything here is a consumer of the protocol library: the cache's change events, the shared
 * `ServerStatusPoller` (see `status-poll.ts`) and one `AutomationEvents` per node. Filters run
 * before a message is built (see `filters.ts`), so that the EPG's first sync costs nothing
 * unless the node asks for EPG events.
 */
import { AutomationEvents, statusEntryKey } from '../../htsp';
import type {
  CacheKind,
  ChangeEvent,
  HtspSession,
  ReminderRule,
  SessionState,
  SessionStatus,
  StatusChangeEvent,
  StatusEntry,
  StatusKind,
  StatusUnavailable,
} from '../../htsp';
import { badInput, describe, linkServer, NodeError, onInput, redact, requireLink, sendPlain } from '../shared';
import type { Node, NodeAPI } from '../shared';
import {
  ChannelFilter,
  EVENTS_TYPE,
  changesChannelRefs,
  OBJECT_KINDS,
  SERVER_KINDS,
  SettingsError,
  parseEventsSettings,
  textMatches,
  titleMatches,
  type EventsNodeDef,
  type EventsSettings,
} from './filters';
import {
  changeMessage,
  nowPlayingMessage,
  recordingMessage,
  reminderMessage,
  sessionMessage,
  sessionPayload,
  snapshotMessage,
  type ChangeMessage,
} from './messages';
import { joinStatusPoll, type StatusPollHandle } from './status-poll';

/** Messages sent per turn of the event loop while streaming a snapshot. */
const SNAPSHOT_CHUNK = 500;
/**
 * Nodes are created one after the other when a flow starts; a message sent from a constructor
 * can reach a node that does not exist yet. The inject node waits as long for "inject once".
 */
const START_DELAY_MS = 100;

/** Node context key of the reminders already fired (see AutomationEvents.firedReminders). */
const FIRED_REMINDERS_KEY = 'firedReminders';

/** Reminders fired per `<server>/<node>`, kept while the runtime lives (across redeploys). */
const firedReminders = new Map<string, Array<[string, number]>>();

function unavailableText(info: StatusUnavailable): string {
  return info.reason === 'unsupported' ? 'no server status' : 'no admin rights';
}

export = function register(RED: NodeAPI): void {
  function TvheadendEvents(this: Node, def: EventsNodeDef): void {
    RED.nodes.createNode(this, def);
    const node = this;

    let settings: EventsSettings;
    try {
      settings = parseEventsSettings(def as unknown as Record<string, unknown>);
    } catch (err) {
      const e = err instanceof SettingsError ? err : new SettingsError(String(err), 'invalid settings');
      node.status({ fill: 'red', shape: 'ring', text: e.short });
      node.error(e.message);
      onInput(node, () => {
        throw badInput(e.message);
      });
      return;
    }

    const link = linkServer(RED, node, def.server);
    if (!link) {
      onInput(node, () => {
        requireLink(link);
      });
      return;
    }
    const session: HtspSession = link.session;
    const secretFree = (text: string): string => redact(text, link.secrets());
    let closed = false;

    const emit = (msg: ChangeMessage): void => {
      if (closed) return;
      // The payload objects belong to the cache and the poller; the flow gets its own copy.
      sendPlain(node, RED.util.cloneMessage(msg));
    };

    const channels = new ChannelFilter(settings.channels, session);
    const objectKinds = OBJECT_KINDS.filter((k) => settings.kinds.has(k));
    const wantedObjects = new Set<CacheKind>(objectKinds);
    const statusKinds = SERVER_KINDS.filter((k) => settings.kinds.has(k));
    const wantSession = settings.kinds.has('session');
    const auto = settings.automations;
    let automations: AutomationEvents | undefined;
    let reminderQueued = false;

    // ------------------------------------------------------------ cache changes

    const onChange = (c: ChangeEvent): void => {
      if (c.kind === 'channel') {
        channels.noteChannelChange(c);
        if (reminderChannelsMayChange(c)) queueReminderRefresh();
      }
      // Cheapest tests first: most of a sync's changes are EPG events nobody asked for.
      if (!wantedObjects.has(c.kind) || c.initial) return;
      if (!settings.actions.has(c.action)) return;
      if (!channels.matchesObject(c) || !titleMatches(settings.title, c)) return;
      emit(changeMessage(c));
    };
    session.on('change', onChange);

    // ------------------------------------------------------------ own session state

    let lastState: SessionState = session.state;
    let lastSession: Record<string, unknown> | undefined = wantSession ? sessionPayload(session.status, secretFree) : undefined;
    const onState = (status: SessionStatus): void => {
      // Sync progress repeats the state; only transitions are news.
      if (status.state === lastState) return;
      lastState = status.state;
      if (!wantSession) return;
      const payload = sessionPayload(status, secretFree);
      const previous = lastSession;
      lastSession = payload;
      emit(sessionMessage(payload, previous, false));
    };
    session.on('state', onState);

    // ------------------------------------------------------------ server-wide activity

    let poll: StatusPollHandle | undefined;
    let unavailableShown = false;
    /** A snapshot is waiting for the next completed poll to add the server lists. */
    let statusSnapshotPending = false;

    const statusSnapshot = (): ChangeMessage[] => {
      const snap = poll?.current();
      if (!snap || snap.stale || !snap.available) return [];
      const out: ChangeMessage[] = [];
      const lists: Array<[StatusKind, readonly StatusEntry[]]> = [
        ['serverSubscription', snap.subscriptions],
        ['input', snap.inputs],
        ['connection', snap.connections],
      ];
      for (const [kind, list] of lists) {
        if (!statusKinds.includes(kind)) continue;
        for (const e of list) {
          if (kind === 'serverSubscription' && !channels.matches(undefined, typeof e.channel === 'string' ? e.channel : undefined)) continue;
          out.push(snapshotMessage(kind, statusEntryKey(kind, e) ?? '', e));
        }
      }
      return out;
    };

    if (statusKinds.length > 0) {
      poll = joinStatusPoll(session, {
        intervalMs: settings.pollIntervalMs,
        kinds: new Set(statusKinds),
        change(c: StatusChangeEvent) {
          // A first poll reports what was already there; snapshots cover that (see polled()).
          if (c.initial || !statusKinds.includes(c.kind)) return;
          if (!settings.actions.has(c.action) || !channels.matchesStatus(c)) return;
          emit(changeMessage(c));
        },
        unavailable(info: StatusUnavailable) {
          if (unavailableShown) return;
          unavailableShown = true;
          node.status({ fill: 'yellow', shape: 'ring', text: unavailableText(info) });
          node.warn(`server-wide activity is not available: ${info.message}`);
        },
        polled() {
          if (!statusSnapshotPending) return;
          statusSnapshotPending = false;
          for (const m of statusSnapshot()) emit(m);
        },
      });
    }

    // ------------------------------------------------------------ automations

    const reminderRule = (): ReminderRule => {
      const rule: ReminderRule = { name: node.name || node.id, leadMinutes: settings.reminderMinutes };
      if (settings.title) rule.title = settings.title;
      if (channels.active) {
        const ids = channels.channelIds();
        // An empty list means "any channel" to the rule; a filter naming unknown channels means none.
        rule.channelIds = ids.length > 0 ? ids : [-1];
      }
      return rule;
    };

    function reminderChannelsMayChange(c: Extract<ChangeEvent, { kind: 'channel' }>): boolean {
      if (!automations || !auto.has('reminder') || !channels.active || c.initial) return false;
      return changesChannelRefs(c);
    }

    function queueReminderRefresh(): void {
      if (reminderQueued) return;
      reminderQueued = true;
      setImmediate(() => {
        reminderQueued = false;
        if (!closed && automations) automations.setReminders([reminderRule()]);
      });
    }

    // Fired reminders outlive this instance: a redeploy, which makes a new one (and with the
    // default memory store empties its context), must not remind again of a programme already
    // announced. The runtime keeps them per server and node; a persistent context store keeps
    // them across a restart of Node-RED too.
    const memoryKey = `${def.server ?? ''}/${node.id}`;
    function loadFiredReminders(): ReadonlyArray<readonly [string, number]> {
      const remembered = firedReminders.get(memoryKey);
      if (remembered) return remembered;
      try {
        // Event ids are per server: a note from another server (the node re-pointed) is no use.
        const v = node.context().get(FIRED_REMINDERS_KEY) as { server?: unknown; fired?: unknown } | undefined;
        return v && v.server === (def.server ?? '') && Array.isArray(v.fired) ? (v.fired as Array<[string, number]>) : [];
      } catch {
        return []; // a store that only answers asynchronously
      }
    }
    function saveFiredReminders(list: Array<[string, number]>): void {
      firedReminders.set(memoryKey, list);
      try {
        node.context().set(FIRED_REMINDERS_KEY, { server: def.server ?? '', fired: list });
      } catch {
        // An asynchronous-only store: the runtime's copy above still covers redeploys.
      }
    }

    let automationsTimer: NodeJS.Timeout | undefined;
    /** Held until the deploy is done; `sent` runs once the message has really gone out. */
    const heldAutomationMessages: Array<{ m: ChangeMessage; sent?: () => void }> = [];
    const emitAutomation = (m: ChangeMessage, sent?: () => void): void => {
      if (automationsTimer) {
        heldAutomationMessages.push({ m, ...(sent ? { sent } : {}) });
      } else {
        emit(m);
        sent?.();
      }
    };
    if (auto.size > 0) {
      const a = new AutomationEvents(session, {
        // EPG and DVR times are the server's; the simulator (or a skewed server) has its own clock.
        now: () => session.serverNow() * 1000,
        nowPlaying: auto.has('nowPlaying'),
        reminders: auto.has('reminder') ? [reminderRule()] : [],
        firedReminders: loadFiredReminders(),
      });
      const recordingPasses = (channelId: number | undefined, channelName: string | undefined, title: string | undefined): boolean =>
        channels.matches(channelId, channelName) && textMatches(settings.title, title);
      if (auto.has('recordingStarted')) {
        a.on('recordingStarted', (ev) => {
          if (recordingPasses(ev.channelId, ev.channelName, ev.title)) emitAutomation(recordingMessage('started', ev));
        });
      }
      if (auto.has('recordingFinished')) {
        a.on('recordingFinished', (ev) => {
          if (recordingPasses(ev.channelId, ev.channelName, ev.title)) emitAutomation(recordingMessage('finished', ev));
        });
      }
      if (auto.has('recordingFailed')) {
        a.on('recordingFailed', (ev) => {
          if (recordingPasses(ev.channelId, ev.channelName, ev.title)) emitAutomation(recordingMessage('failed', ev));
        });
      }
      if (auto.has('nowPlaying')) {
        a.on('nowPlaying', (ev) => {
          if (channels.matches(ev.channelId, ev.channelName) && textMatches(settings.title, ev.now?.title)) emitAutomation(nowPlayingMessage(ev));
        });
      }
      if (auto.has('reminder')) {
        // The rule already holds the channel and title filters.
        // Remembered as fired once sent: a reminder held at a deploy and dropped by a quick
        // redeploy must come from the next instance.
        a.on('reminder', (ev) => emitAutomation(reminderMessage(ev), () => saveFiredReminders(a.firedReminders())));
      }
      automations = a;
      a.start();
      // Like the snapshot: what is due at once (a reminder) waits until the deploy has made the
      // nodes it is wired to; listening starts now, so that no change in between is missed.
      automationsTimer = setTimeout(() => {
        automationsTimer = undefined;
        for (const { m, sent } of heldAutomationMessages.splice(0)) {
          emit(m);
          sent?.();
        }
      }, START_DELAY_MS);
    }

    // ------------------------------------------------------------ snapshots

    let snapshotGeneration = 0;
    let startedOnce = false;

    function* snapshotMessages(): Generator<ChangeMessage> {
      if (wantSession) yield sessionMessage(sessionPayload(session.status, secretFree), undefined, true);
      const cache = session.cache;
      const eventChannels = channels.active ? channels.channelIds() : undefined;
      for (const kind of objectKinds) {
        for (const c of cache.currentAsAdds(kind, eventChannels)) {
          if (!channels.matchesObject(c) || !titleMatches(settings.title, c)) continue;
          yield snapshotMessage(c.kind, c.id, c.object);
        }
      }
      if (statusKinds.length > 0) {
        const lists = statusSnapshot();
        if (lists.length > 0 || poll?.current()?.stale === false) yield* lists;
        else statusSnapshotPending = poll?.current()?.available !== false;
      }
    }

    /** Streams the snapshot in slices, so that a large EPG does not block the runtime. */
    const runSnapshot = (): void => {
      const gen = ++snapshotGeneration;
      const it = snapshotMessages();
      const step = (): void => {
        if (closed || gen !== snapshotGeneration) return;
        for (let i = 0; i < SNAPSHOT_CHUNK; i++) {
          const r = it.next();
          if (r.done) return;
          emit(r.value);
        }
        setImmediate(step);
      };
      step();
    };

    const onReady = (): void => {
      channels.invalidate();
      if (automations && auto.has('reminder') && channels.active) queueReminderRefresh();
      if (settings.initial === 'connect' || (settings.initial === 'start' && !startedOnce)) {
        startedOnce = true;
        runSnapshot();
      }
    };
    session.on('ready', onReady);

    let startTimer: NodeJS.Timeout | undefined;
    if (settings.initial !== 'none' && session.state === 'ready') {
      startedOnce = true;
      startTimer = setTimeout(() => {
        startTimer = undefined;
        runSnapshot();
      }, START_DELAY_MS);
    }

    // ------------------------------------------------------------ input and close

    onInput(
      node,
      (msg) => {
        requireLink(link);
        const command = typeof msg.payload === 'string' ? msg.payload.trim().toLowerCase() : undefined;
        if (command !== 'snapshot') {
          throw badInput(`the only command is msg.payload "snapshot" (re-send the current state), got ${describe(msg.payload)}`);
        }
        if (!session.cache.hasSynced) {
          throw new NodeError('disconnected', `no state to send yet: the server node is ${session.state}, the snapshot needs a first sync`);
        }
        runSnapshot();
      },
      { link },
    );

    node.on('close', (removed: boolean, done: () => void) => {
      if (removed) firedReminders.delete(memoryKey);
      closed = true;
      snapshotGeneration++;
      if (startTimer) clearTimeout(startTimer);
      if (automationsTimer) clearTimeout(automationsTimer);
      session.off('change', onChange);
      session.off('state', onState);
      session.off('ready', onReady);
      automations?.stop();
      poll?.leave();
      done();
    });
  }

  RED.nodes.registerType(EVENTS_TYPE, TvheadendEvents);
};
