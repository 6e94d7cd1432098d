/**
 * Commands from the broker: `<base>/cmd/<method>` with a JSON object body runs one RPC (or a
 * friendly command) if the allow-list permits it, and the answer goes to `<base>/reply/<method>`
 * and, for MQTT 5 requests, to the response topic with the request's correlation data.
 *
 * Anyone who can publish to the broker can send these, so the allow-list is the security
 * boundary: by default only read-only methods and the recording add/stop/cancel methods run.
 */
import { callerErrorCode, type CallerErrorCode } from '../htsp/errors';
import { redact } from '../htsp/redact';
import type { HtsmsgMap, HtsmsgValue } from '../htsp/codec';
import { READ_ONLY_METHODS, SESSION_OWNED_METHODS as NEVER } from '../htsp/messages';
import { recordNow, stopRunning, type RunningSelection } from '../htsp/dvr';
import { isPlainObject, toJson, type Json } from './json';
import type { BridgeSession } from './types';

/** The library's read-only methods, re-exported for the editor's allow-list and the tests. */
export { READ_ONLY_METHODS };

/** Commands of the bridge itself, built on the RPC methods. */
export const FRIENDLY_COMMANDS = ['recordNow', 'stopRecording'] as const;

export const DEFAULT_ALLOWED: readonly string[] = [
  ...READ_ONLY_METHODS,
  'addDvrEntry',
  'stopDvrEntry',
  'cancelDvrEntry',
  ...FRIENDLY_COMMANDS,
];

const METHOD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const MAX_COMMAND_BYTES = 64 * 1024;

/** The allow-list as configured, minus names that can never be allowed. */
export function normaliseAllowList(list: readonly string[] | undefined): Set<string> {
  const out = new Set<string>();
  for (const m of list ?? DEFAULT_ALLOWED) {
    const name = m.trim();
    if (METHOD_NAME.test(name) && !NEVER.has(name)) out.add(name);
  }
  return out;
}

export type CommandErrorCode = 'refused' | 'busy' | CallerErrorCode;

export type CommandReply =
  | { ok: true; method: string; requestId?: Json; result: Json }
  | { ok: false; method: string; requestId?: Json; error: { code: CommandErrorCode; message: string } };

class CommandError extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface CommandRunnerOptions {
  session: BridgeSession;
  allowed: ReadonlySet<string>;
  /** Secrets to scrub from error texts that go back to the broker. */
  secrets: () => readonly string[];
  /** At most this many commands at once; more are refused with `busy` (default 8). */
  maxInFlight?: number;
  timeoutMs?: number;
}

/** JSON → HTSMSG request fields: numbers, strings, booleans (as 0/1), lists and maps. */
function toFields(v: unknown, depth = 0): HtsmsgValue | undefined {
  if (depth > 16) throw new CommandError('bad-input', 'the body is nested too deeply');
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new CommandError('bad-input', 'numbers must be finite');
    return v;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (Array.isArray(v)) return v.map((x) => toFields(x, depth + 1)).filter((x): x is HtsmsgValue => x !== undefined);
  if (isPlainObject(v)) {
    const m: HtsmsgMap = {};
    for (const [k, x] of Object.entries(v)) {
      const f = toFields(x, depth + 1);
      if (f !== undefined) m[k] = f;
    }
    return m;
  }
  throw new CommandError('bad-input', `unsupported value of type ${typeof v}`);
}

export class CommandRunner {
  private readonly opts: CommandRunnerOptions;
  private inFlight = 0;
  private readonly max: number;

  constructor(opts: CommandRunnerOptions) {
    this.opts = opts;
    this.max = opts.maxInFlight ?? 8;
  }

  get allowed(): ReadonlySet<string> {
    return this.opts.allowed;
  }

  /** Runs one command; never rejects: failures become `{ok: false}` replies. */
  async run(method: string, body: Buffer): Promise<CommandReply> {
    let requestId: Json | undefined;
    const reply = (r: { result: Json } | { error: { code: CommandErrorCode; message: string } }): CommandReply => {
      const base = { method, ...(requestId !== undefined ? { requestId } : {}) };
      return 'result' in r ? { ok: true, ...base, result: r.result } : { ok: false, ...base, error: r.error };
    };
    try {
      if (!METHOD_NAME.test(method)) throw new CommandError('bad-input', 'not a method name');
      if (!this.opts.allowed.has(method) || NEVER.has(method)) {
        throw new CommandError('refused', `${method} is not in this bridge's allow-list`);
      }
      const fields = this.parse(body);
      if ('requestId' in fields) {
        requestId = toJson(fields.requestId);
        delete fields.requestId;
      }
      if (this.inFlight >= this.max) throw new CommandError('busy', `too many commands at once (${this.max}); try again`);
      this.inFlight++;
      try {
        return reply({ result: await this.execute(method, fields) });
      } finally {
        this.inFlight--;
      }
    } catch (err) {
      return reply({ error: this.describe(err) });
    }
  }

  private parse(body: Buffer): Record<string, unknown> {
    if (body.length > MAX_COMMAND_BYTES) throw new CommandError('bad-input', `the body is larger than ${MAX_COMMAND_BYTES} bytes`);
    const text = body.toString('utf8').trim();
    if (text === '') return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CommandError('bad-input', 'the body is not JSON');
    }
    if (!isPlainObject(parsed)) throw new CommandError('bad-input', 'the body must be a JSON object');
    return parsed;
  }

  private call(method: string, fields: Record<string, unknown>): Promise<HtsmsgMap> {
    return this.opts.session.callRaw(method, toFields(fields) as HtsmsgMap, this.timeout());
  }

  private async execute(method: string, fields: Record<string, unknown>): Promise<Json> {
    switch (method) {
      case 'recordNow':
        return this.recordNow(fields);
      case 'stopRecording':
        return this.stopRecording(fields);
      default:
        return toJson(stripEnvelope(await this.call(method, fields)));
    }
  }

  /** Per-request timeout of the bridge, for the library's requests too. */
  private timeout(): { timeoutMs?: number } {
    return this.opts.timeoutMs !== undefined ? { timeoutMs: this.opts.timeoutMs } : {};
  }

  /** Records the programme running now on a channel (id, name or number). */
  private async recordNow(fields: Record<string, unknown>): Promise<Json> {
    const ref = fields.channel;
    if (typeof ref !== 'string' && typeof ref !== 'number') {
      throw new CommandError('bad-input', 'recordNow needs "channel": a channel id, name or number');
    }
    // The reply carries the id only: no need to wait for the server's push of the entry.
    const r = await recordNow(this.opts.session, ref, {
      ...(typeof fields.configName === 'string' ? { configName: fields.configName } : {}),
      ...(typeof fields.comment === 'string' ? { comment: fields.comment } : {}),
      ...this.timeout(),
      waitMs: 0,
    });
    const { event } = r;
    return { id: r.id, eventId: event.eventId, title: event.title ?? null, channel: r.channel.channelName, start: event.start, stop: event.stop };
  }

  /**
   * Stops running recordings: the one with `id`, those on `channel`, or, with neither, all of
   * them (what a "stop recording" button means).
   */
  private async stopRecording(fields: Record<string, unknown>): Promise<Json> {
    let which: RunningSelection = {};
    if (fields.id !== undefined) {
      which = { id: Number(fields.id) };
    } else if (fields.channel !== undefined) {
      const ref = fields.channel;
      if (typeof ref !== 'string' && typeof ref !== 'number') throw new CommandError('bad-input', `no channel matches ${JSON.stringify(ref)}`);
      which = { channel: ref };
    }
    const r = await stopRunning(this.opts.session, which, { ...this.timeout(), waitMs: 0 });
    const stopped: Json[] = r.stopped.map((s) => ({ id: s.id, title: s.entry.title ?? null }));
    const failed: Json[] = r.failed.map((f) => ({ id: f.id, title: f.entry.title ?? null, ...this.describe(f.error) }));
    return failed.length > 0 ? { stopped, failed } : { stopped };
  }

  private describe(err: unknown): { code: CommandErrorCode; message: string } {
    const secrets = this.opts.secrets();
    if (err instanceof CommandError) return { code: err.code, message: redact(err.message, secrets) };
    return { code: callerErrorCode(err), message: redact(err instanceof Error ? err.message : String(err), secrets) };
  }
}

/** The reply without its transport fields. */
function stripEnvelope(reply: HtsmsgMap): HtsmsgMap {
  const { seq: _seq, ...rest } = reply;
  void _seq;
  return rest;
}
