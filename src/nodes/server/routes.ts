/**
 * Admin HTTP routes the editor uses for pickers, the status panel and the "Test connection"
 * button. Registered once per admin app (see `registered`), parameterised by the config node id.
 */
import type { Request, Response } from 'express';
import { HtspConnection, HtspError, toPlain } from '../../htsp';
import type { DvrConfigInfo, HtsmsgMap, HtsmsgValue, StreamProfileInfo } from '../../htsp';
import { redact } from '../shared/errors';
import { sessionStateText } from '../shared/status';
import { settleWithin } from '../shared/timing';
import { isServerNode, SERVER_TYPE } from '../shared/types';
import type { NodeAPI, TvheadendServerNode } from '../shared/types';
import { SERVER_DEFAULTS } from './config';

/**
 * Admin apps that already have the routes. Keyed by app rather than a plain boolean so that a
 * runtime which builds a fresh admin app (the test helper does on every load) gets them again,
 * while a second `registerType` call on the same app never adds them twice.
 */
const registered = new WeakSet<object>();

/** The editor sends this in place of a password it never received. */
const PASSWORD_PLACEHOLDER = '__PWRD__';
const TEST_TIMEOUT_MS = 8000;
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

interface JsonError {
  error: string;
  message: string;
}

/** Every answer goes out here: protocol values JSON cannot carry (bigint, UUID) are made plain. */
function answer(res: Response, body: object, status = 200): void {
  res.status(status).json(toPlain(body));
}

function fail(res: Response, status: number, error: string, message: string): void {
  const body: JsonError = { error, message };
  answer(res, body, status);
}

type Lookup = { ok: true; node: TvheadendServerNode } | { ok: false };

/** Finds a running config node or answers for the caller. */
function lookup(RED: NodeAPI, req: Request, res: Response): Lookup {
  const id = String(req.params.configId ?? '');
  if (!ID_PATTERN.test(id)) {
    fail(res, 400, 'bad-id', `"${id.slice(0, 64)}" is not a node id`);
    return { ok: false };
  }
  const node = RED.nodes.getNode(id);
  if (isServerNode(node)) return { ok: true, node };
  if (node) {
    fail(res, 404, 'not-a-server', `node ${id} is a ${node.type}, not a ${SERVER_TYPE}`);
    return { ok: false };
  }
  // The editor asks with the id of a config node it has not deployed yet: tell the user what to do.
  fail(res, 503, 'not-deployed', `the ${SERVER_TYPE} node ${id} is not running: deploy the server node first`);
  return { ok: false };
}

function requireReady(node: TvheadendServerNode, res: Response): boolean {
  if (node.session.state === 'ready') return true;
  const text = sessionStateText(node.session.status);
  fail(res, 503, 'not-connected', `not connected to Tvheadend (${text}); the server node connects when a deployed node uses it`);
  return false;
}

/** `secrets` are taken out of the text: a server error can quote the request, user name included. */
function answerError(res: Response, err: unknown, secrets: readonly (string | undefined)[]): void {
  if (err instanceof HtspError) {
    if (err.code === 'noaccess') return fail(res, 403, 'noaccess', 'the Tvheadend user has no access to this');
    if (err.code === 'timeout') return fail(res, 504, 'timeout', 'Tvheadend did not answer in time');
    return fail(res, 502, err.code, redact(err.message, secrets));
  }
  fail(res, 500, 'internal', redact(err instanceof Error ? err.message : String(err), secrets));
}

function str(v: HtsmsgValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

function isMap(v: HtsmsgValue | undefined): v is HtsmsgMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !('bytes' in v && v.bytes instanceof Buffer);
}

/** A picker's entries from a profile or DVR config list; the reply is not trusted to be complete. */
function pickList(list: readonly (StreamProfileInfo | DvrConfigInfo)[] | undefined): { uuid: string; name: string; comment: string }[] {
  if (!Array.isArray(list)) return [];
  return list.filter((m) => isMap(m as HtsmsgValue)).map((m) => ({ uuid: str(m.uuid), name: str(m.name), comment: str(m.comment) }));
}

/** Outcome of a test connection in words the editor shows as they are. */
export interface TestResult {
  ok: boolean;
  result: 'connected' | 'refused' | 'timeout' | 'not-found' | 'auth-failed' | 'error';
  message: string;
}

/** The first system error code (`ECONNREFUSED`, …) along the `cause` chain. */
function systemCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function describeTestFailure(err: unknown, where: string): TestResult {
  const sys = systemCode(err);
  if (sys === 'ECONNREFUSED') return { ok: false, result: 'refused', message: `connection refused by ${where}: is Tvheadend running, and is HTSP on this port?` };
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN' || sys === 'EAI_NONAME') {
    return { ok: false, result: 'not-found', message: `host not found: ${where}` };
  }
  if (sys === 'ETIMEDOUT' || sys === 'EHOSTUNREACH' || sys === 'ENETUNREACH') {
    return { ok: false, result: 'timeout', message: `no answer from ${where} (timeout)` };
  }
  if (err instanceof HtspError) {
    if (err.code === 'auth-failed' || err.code === 'noaccess') {
      return { ok: false, result: 'auth-failed', message: `wrong user or password for ${where}` };
    }
    if (err.code === 'timeout') return { ok: false, result: 'timeout', message: `no answer from ${where} (timeout)` };
  }
  const text = err instanceof Error ? err.message : String(err);
  return { ok: false, result: 'error', message: `could not connect to ${where}: ${text}` };
}

interface TestRequest {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

/** Validates the body, filling in stored credentials where the editor has none to send. */
function testRequest(RED: NodeAPI, body: unknown): TestRequest | string {
  if (!body || typeof body !== 'object') return 'the body must be a JSON object {host, port, username, password, id}';
  const b = body as Record<string, unknown>;
  const host = typeof b.host === 'string' && b.host.trim() ? b.host.trim() : SERVER_DEFAULTS.host;
  const port = b.port === undefined || b.port === '' ? SERVER_DEFAULTS.port : Number(b.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return 'port must be a number from 1 to 65535';
  let username = typeof b.username === 'string' ? b.username.trim() : undefined;
  let password = typeof b.password === 'string' && b.password !== PASSWORD_PLACEHOLDER ? b.password : undefined;
  if (password === undefined && typeof b.id === 'string') {
    const node = RED.nodes.getNode(b.id);
    // Stored secrets go only to the host they were saved for: otherwise an editor user could
    // point the test at a host of their own and collect a digest of the password.
    if (isServerNode(node) && node.config.host === host && node.config.port === port) {
      password = node.credentials?.password;
      if (username === undefined) username = node.credentials?.username;
    }
  }
  return { host, port, ...(username ? { username } : {}), ...(username && password !== undefined ? { password } : {}) };
}

export async function testConnection(req: TestRequest, clientName: string): Promise<TestResult> {
  const where = `${req.host}:${req.port}`;
  let conn: HtspConnection | undefined;
  try {
    conn = await HtspConnection.connect({
      host: req.host,
      port: req.port,
      ...(req.username ? { username: req.username, password: req.password ?? '' } : {}),
      clientName,
      connectTimeoutMs: TEST_TIMEOUT_MS,
      pingIntervalMs: 0,
    });
    const info = conn.serverInfo;
    return {
      ok: true,
      result: 'connected',
      message: `connected to Tvheadend ${info.serverVersion} (${info.serverName}), HTSP v${info.htspVersion}`,
    };
  } catch (err) {
    return describeTestFailure(err, where);
  } finally {
    if (conn) {
      const open = conn;
      open.close();
      // Answer only once the socket is gone, so that nothing outlives the request.
      await settleWithin(() => open.whenClosed(), 1000);
    }
  }
}

export function registerAdminRoutes(RED: NodeAPI): void {
  const app = RED.httpAdmin;
  if (registered.has(app)) return;
  registered.add(app);
  const read = RED.auth.needsPermission(`${SERVER_TYPE}.read`);
  const write = RED.auth.needsPermission(`${SERVER_TYPE}.write`);

  app.get('/tvheadend/:configId/status', read, (req: Request, res: Response) => {
    const found = lookup(RED, req, res);
    if (!found.ok) return;
    const { session } = found.node;
    const status = session.status;
    const info = session.serverInfo;
    answer(res, {
      state: status.state,
      since: status.since,
      attempt: status.attempt,
      ...(status.nextRetryAt !== undefined ? { nextRetryAt: status.nextRetryAt } : {}),
      ...(status.error ? { error: { code: status.error.code, message: redact(status.error.message, found.node.secrets()) } } : {}),
      ...(status.sync ? { sync: status.sync } : {}),
      text: sessionStateText(status, { serverName: info?.serverName, htspVersion: info?.htspVersion }),
      ...(info
        ? {
            server: {
              name: info.serverName,
              version: info.serverVersion,
              htspVersion: info.htspVersion,
              serverHtspVersion: info.serverHtspVersion,
            },
          }
        : {}),
    });
  });

  app.get('/tvheadend/:configId/channels', read, (req: Request, res: Response) => {
    const found = lookup(RED, req, res);
    if (!found.ok || !requireReady(found.node, res)) return;
    const channels = found.node.session.cache.channels();
    const list = channels
      .map((c) => ({
        id: c.channelId,
        uuid: c.channelIdStr,
        number: c.channelNumberMinor ? `${c.channelNumber}.${c.channelNumberMinor}` : String(c.channelNumber ?? ''),
        name: c.channelName,
      }))
      .sort((a, b) => Number(a.number || Infinity) - Number(b.number || Infinity) || a.name.localeCompare(b.name));
    answer(res, list);
  });

  app.get('/tvheadend/:configId/profiles', read, (req: Request, res: Response) => {
    const found = lookup(RED, req, res);
    if (!found.ok || !requireReady(found.node, res)) return;
    found.node.session.call('getProfiles').then(
      (reply) => answer(res, pickList(reply.profiles)),
      (err: unknown) => answerError(res, err, found.node.secrets()),
    );
  });

  app.get('/tvheadend/:configId/dvrconfigs', read, (req: Request, res: Response) => {
    const found = lookup(RED, req, res);
    if (!found.ok || !requireReady(found.node, res)) return;
    found.node.session.call('getDvrConfigs').then(
      (reply) => answer(res, pickList(reply.dvrconfigs)),
      (err: unknown) => answerError(res, err, found.node.secrets()),
    );
  });

  app.post('/tvheadend/test-connection', write, (req: Request, res: Response) => {
    const parsed = testRequest(RED, req.body);
    if (typeof parsed === 'string') return fail(res, 400, 'bad-input', parsed);
    const body = req.body as Record<string, unknown>;
    const clientName = typeof body.clientName === 'string' && body.clientName.trim() ? body.clientName.trim() : SERVER_DEFAULTS.clientName;
    testConnection(parsed, clientName).then(
      (result) => answer(res, result),
      (err: unknown) => answerError(res, err, [parsed.username, parsed.password]),
    );
  });
}
