/**
 * A tiny HTSP server for unit tests of the client: it speaks the handshake (hello, digest
 * authentication, rights per method) and leaves everything else to per-test handlers.
 */
import * as net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { encodeFrame, type HtsmsgMap } from '../../src/htsp/codec';
import { FrameDecoder } from '../../src/htsp/framing';
import { METHOD_RIGHTS, type HtspMethodName } from '../../src/htsp/messages';

export interface Rights {
  streaming: boolean;
  dvr: boolean;
  admin?: boolean;
}

export type Handler = (req: HtsmsgMap, conn: ScriptedConnection) => HtsmsgMap | undefined | Promise<HtsmsgMap | undefined>;

export interface ScriptedServerOptions {
  /** username → { password, rights } */
  users?: Record<string, { password: string; rights: Rights }>;
  /** Rights by IP (no user). Default: none. */
  anonymous?: Rights;
  htspVersion?: number;
  handlers?: Record<string, Handler>;
}

export class ScriptedConnection {
  readonly challenge = randomBytes(32);
  readonly requests: HtsmsgMap[] = [];
  rights: Rights;
  private readonly decoder = new FrameDecoder();

  constructor(
    readonly socket: net.Socket,
    private readonly server: ScriptedServer,
  ) {
    this.rights = { ...server.anonymous };
    socket.on('data', (chunk: Buffer) => {
      let msgs: HtsmsgMap[];
      try {
        msgs = this.decoder.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const m of msgs) void this.onRequest(m);
    });
    socket.on('error', () => undefined);
  }

  send(msg: HtsmsgMap): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(msg));
  }

  sendRaw(buf: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  reply(req: HtsmsgMap, fields: HtsmsgMap): void {
    this.send({ ...fields, ...(req.seq !== undefined ? { seq: req.seq } : {}) });
  }

  close(): void {
    this.socket.destroy();
  }

  private async onRequest(req: HtsmsgMap): Promise<void> {
    this.requests.push(req);
    this.server.requests.push(req);
    const method = typeof req.method === 'string' ? req.method : '';
    if (typeof req.username === 'string' && Buffer.isBuffer(req.digest)) {
      const user = this.server.users[req.username];
      if (user) {
        const expected = createHash('sha1').update(Buffer.from(user.password, 'utf8')).update(this.challenge).digest();
        if (expected.equals(req.digest)) this.rights = { ...user.rights };
      }
    }
    const custom = this.server.handlers[method];
    if (method === 'hello' && !custom) {
      this.reply(req, {
        htspversion: this.server.htspVersion,
        servername: 'Scripted',
        serverversion: '0.1-test',
        challenge: this.challenge,
        servercapability: ['timeshift'],
        api_version: 19,
        language: 'eng',
        webroot: '/tvh',
      });
      return;
    }
    if (method === 'authenticate' && !custom) {
      if (!this.rights.streaming) {
        this.reply(req, { noaccess: 1 });
        return;
      }
      this.reply(req, {
        admin: this.rights.admin ? 1 : 0,
        streaming: 1,
        dvr: this.rights.dvr ? 1 : 0,
        faileddvr: 1,
        anonymous: 0,
        limitall: 0,
        limitdvr: 0,
        limitstreaming: 0,
        uilevel: 2,
        uilanguage: '',
      });
      return;
    }
    const right = METHOD_RIGHTS[method as HtspMethodName] as 'none' | 'streaming' | 'dvr' | undefined;
    if ((right === 'streaming' && !this.rights.streaming) || (right === 'dvr' && !this.rights.dvr)) {
      this.reply(req, { noaccess: 1 });
      return;
    }
    if (custom) {
      const out = await custom(req, this);
      if (out) this.reply(req, out);
      return;
    }
    if (method === 'getSysTime') {
      this.reply(req, { time: Math.floor(Date.now() / 1000), timezone: 0, gmtoffset: 0 });
      return;
    }
    if (right === undefined) {
      this.reply(req, { error: 'Method not found' });
      return;
    }
    this.reply(req, {});
  }
}

export class ScriptedServer {
  readonly users: Record<string, { password: string; rights: Rights }>;
  readonly anonymous: Rights;
  readonly htspVersion: number;
  readonly handlers: Record<string, Handler>;
  readonly connections: ScriptedConnection[] = [];
  readonly requests: HtsmsgMap[] = [];
  private readonly server = net.createServer((socket) => {
    const conn = new ScriptedConnection(socket, this);
    this.connections.push(conn);
    this.onConnection?.(conn);
  });
  onConnection: ((conn: ScriptedConnection) => void) | undefined;
  port = 0;

  constructor(opts: ScriptedServerOptions = {}) {
    this.users = opts.users ?? { demo: { password: 'demo', rights: { streaming: true, dvr: true, admin: true } } };
    this.anonymous = opts.anonymous ?? { streaming: false, dvr: false };
    this.htspVersion = opts.htspVersion ?? 44;
    this.handlers = { ...opts.handlers };
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** The most recent connection. */
  get last(): ScriptedConnection | undefined {
    return this.connections[this.connections.length - 1];
  }

  requestsFor(method: string): HtsmsgMap[] {
    return this.requests.filter((r) => r.method === method);
  }

  async stop(): Promise<void> {
    for (const c of this.connections) c.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
