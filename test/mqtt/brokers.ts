/**
 * Real MQTT brokers for the tests: Aedes in this process, and Debian's mosquitto as a child
 * process when it is installed. Both listen on loopback ports and can be restarted on the same
 * port (a restart loses every retained message, which is what the republish tests need).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface TestBroker {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Whether the broker speaks MQTT 5 (response topic, correlation data). */
  readonly v5: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  restart(downtimeMs?: number): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface AedesInstance {
  handle: (socket: Socket) => void;
  close(cb?: () => void): void;
  authenticate?: (client: unknown, username: string | undefined, password: Buffer | undefined, cb: (err: Error | null, ok: boolean) => void) => void;
}
interface AedesModule {
  Aedes: { createBroker(opts?: Record<string, unknown>): Promise<AedesInstance> };
}

export interface AedesOptions {
  /** When set, only these credentials are accepted. */
  credentials?: { username: string; password: string };
}

export class AedesBroker implements TestBroker {
  readonly name = 'aedes';
  readonly v5 = false;
  private _port = 0;
  private broker: AedesInstance | undefined;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  constructor(private readonly opts: AedesOptions = {}) {}

  get port(): number {
    return this._port;
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this._port}`;
  }

  async start(): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Aedes } = require('aedes') as AedesModule;
    const broker = await Aedes.createBroker();
    const creds = this.opts.credentials;
    if (creds) {
      broker.authenticate = (_client, username, password, cb) => {
        const ok = username === creds.username && password?.toString() === creds.password;
        cb(ok ? null : Object.assign(new Error('bad credentials'), { returnCode: 4 }), ok);
      };
    }
    const server = createServer((sock) => {
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
      broker.handle(sock);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this._port, '127.0.0.1', () => resolve());
    });
    this._port = (server.address() as AddressInfo).port;
    this.broker = broker;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = undefined;
    this.broker = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((r) => server.close(() => r()));
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
  }

  async restart(downtimeMs = 200): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downtimeMs));
    await this.start();
  }
}

/** The mosquitto binary: `TVH_MOSQUITTO` when set (a path), else from PATH or Debian's /usr/sbin. */
export function findMosquitto(): string | undefined {
  const forced = process.env.TVH_MOSQUITTO;
  if (forced) return existsSync(forced) ? forced : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, 'mosquitto');
    if (existsSync(p)) return p;
  }
  return undefined;
}

export class MosquittoBroker implements TestBroker {
  readonly name = 'mosquitto';
  readonly v5 = true;
  private _port = 0;
  private proc: ChildProcess | undefined;
  private dir: string | undefined;
  private log = '';
  constructor(private readonly bin: string) {}

  get port(): number {
    return this._port;
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this._port}`;
  }

  async start(): Promise<void> {
    if (!this._port) this._port = await freePort();
    this.dir ??= mkdtempSync(join(tmpdir(), 'tvh-mosquitto-'));
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, [`listener ${this._port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', ''].join('\n'));
    const proc = spawn(this.bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    try {
      await waitForPort(this._port);
    } catch (err) {
      throw new Error(`mosquitto did not start: ${(err as Error).message}\n${this.log}`);
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }

  async restart(downtimeMs = 200): Promise<void> {
    await this.stop();
    await new Promise((r) => setTimeout(r, downtimeMs));
    await this.start();
  }

  cleanup(): void {
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }
}

/**
 * The brokers every MQTT suite runs against. A missing mosquitto is skipped with a loud warning,
 * except on CI (`CI=true`), where it fails the run: CI installs it, so missing means broken.
 */
export function brokerMatrix(): Array<{ name: string; make: (() => TestBroker) | undefined; skip: string | false }> {
  const bin = findMosquitto();
  let skip: string | false = false;
  if (!bin) {
    if (process.env.CI === 'true') {
      return [
        { name: 'aedes', make: () => new AedesBroker(), skip: false },
        {
          name: 'mosquitto',
          make: () => {
            throw new Error('mosquitto is not installed, and CI=true requires it (apt-get install mosquitto)');
          },
          skip: false,
        },
      ];
    }
    skip = 'mosquitto is not installed';
    const bar = '!'.repeat(78);
    process.stderr.write(
      `\n${bar}\n!!! WARNING: mosquitto is not installed: the MQTT suites run against Aedes only.\n` +
        `!!! Install it (apt-get install mosquitto) to test against a second broker; CI fails without it.\n${bar}\n\n`,
    );
  }
  return [
    { name: 'aedes', make: () => new AedesBroker(), skip: false },
    { name: 'mosquitto', make: bin ? () => new MosquittoBroker(bin) : undefined, skip },
  ];
}
