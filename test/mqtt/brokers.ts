/**
 * Real MQTT brokers for the tests: Aedes in this process, and Debian's mosquitto as a child
 * process when it is installed. Both listen on loopback ports and can be restarted on the same
 * port (a restart loses every retained message, which is what the republish tests need).
 * Mosquitto can also listen with TLS, over WebSocket and with a password file, using a CA and
 * certificates made by `openssl` for the test run.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { freePort, freePorts } from '../helpers/ports';

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

export async function waitForPort(port: number, timeoutMs = 10_000, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`the process exited before anything listened on 127.0.0.1:${port}`);
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
  persistence: RetainedStore;
  close(cb?: () => void): void;
  authenticate?: (client: unknown, username: string | undefined, password: Buffer | undefined, cb: (err: Error | null, ok: boolean) => void) => void;
}
interface AedesModule {
  Aedes: { createBroker(opts?: Record<string, unknown>): Promise<AedesInstance> };
}

export interface AedesOptions {
  /** When set, only these credentials are accepted. */
  credentials?: { username: string; password: string };
  /**
   * When set, a subscription's retained messages are replayed one every this many ms (a broker
   * with a slow store, or a large retained set): the last may come long after the SUBACK.
   */
  retainedPaceMs?: number;
}

interface RetainedStore {
  createRetainedStreamCombi(patterns: string[]): Readable;
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
    const pace = this.opts.retainedPaceMs;
    if (pace !== undefined) {
      const store = broker.persistence;
      const replay = store.createRetainedStreamCombi.bind(store);
      store.createRetainedStreamCombi = (patterns) => {
        const paced = new PassThrough({ objectMode: true });
        void (async () => {
          for await (const packet of replay(patterns)) {
            await new Promise((r) => setTimeout(r, pace));
            paced.write(packet);
          }
          paced.end();
        })().catch((err: unknown) => paced.destroy(err instanceof Error ? err : new Error(String(err))));
        return paced;
      };
    }
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

/** A program from PATH, or from the sbin directories a non-root PATH may lack. */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/bin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The mosquitto binary: `TVH_MOSQUITTO` when set (a path), else from PATH or Debian's /usr/sbin. */
export function findMosquitto(): string | undefined {
  const forced = process.env.TVH_MOSQUITTO;
  if (forced) return existsSync(forced) ? forced : undefined;
  return findProgram('mosquitto');
}

export function findOpenssl(): string | undefined {
  return findProgram('openssl');
}

/** Ships with mosquitto on Debian, but is a separate program that a minimal install may lack. */
export function findMosquittoPasswd(): string | undefined {
  const forced = process.env.TVH_MOSQUITTO;
  if (forced) {
    const beside = join(forced, '..', 'mosquitto_passwd');
    if (existsSync(beside)) return beside;
  }
  return findProgram('mosquitto_passwd');
}

/** Prints a warning nobody scrolling through the test output can miss. */
export function loudWarning(lines: string[]): void {
  const bar = '!'.repeat(78);
  process.stderr.write(`\n${bar}\n${lines.map((l) => `!!! ${l}`).join('\n')}\n${bar}\n\n`);
}

export interface TestPki {
  /** PEM files of the CA that signed the server certificate, and the server's certificate and key. */
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: Buffer;
  /** A CA that signed nothing the broker has: trusting only it must fail. */
  otherCa: Buffer;
  otherCaFile: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 (an IP subject alternative name, which is
 * what Node checks for an IP address), valid for two days. EC keys: generated in milliseconds.
 */
export function makeTestPki(openssl: string, dir: string): TestPki {
  const run = (args: string[]): void => {
    execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  run(['req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=tvheadend test CA', ...caExt]);
  run(['req', '-x509', ...ecKey, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-days', '2', '-subj', '/CN=tvheadend other CA', ...caExt]);
  run(['req', '-new', ...ecKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  const serial = `0x${Date.now().toString(16)}`;
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial, '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext']);
  return {
    caFile: join(dir, 'ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    ca: readFileSync(join(dir, 'ca.crt')),
    otherCa: readFileSync(join(dir, 'other-ca.crt')),
    otherCaFile: join(dir, 'other-ca.crt'),
  };
}

/** Writes a mosquitto password file with one user; the password is hashed by mosquitto_passwd. */
export function makePasswordFile(mosquittoPasswd: string, file: string, username: string, password: string): void {
  writeFileSync(file, '', { mode: 0o600 });
  execFileSync(mosquittoPasswd, ['-b', file, username, password], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Listeners besides the plain one; each gets its own port. */
export interface MosquittoListeners {
  /** An MQTT-over-TLS listener and a WebSocket-over-TLS one with this certificate. */
  tls?: { caFile: string; certFile: string; keyFile: string };
  /** A plain WebSocket listener. */
  websockets?: boolean;
  /** A plain listener that wants a user name and password from this file. */
  passwordFile?: string;
  /** Access control for the plain listener (anonymous clients: the `topic` lines before any `user`). */
  aclFile?: string;
}

export class MosquittoBroker implements TestBroker {
  readonly name = 'mosquitto';
  readonly v5 = true;
  private _port = 0;
  /** Extra listeners' ports, fixed at the first start so that a restart keeps them. */
  private extra: { tls: number; wss: number; ws: number; auth: number } | undefined;
  private proc: ChildProcess | undefined;
  private dir: string | undefined;
  private log = '';
  constructor(
    private readonly bin: string,
    private readonly listeners: MosquittoListeners = {},
  ) {}

  get port(): number {
    return this._port;
  }
  get url(): string {
    return `mqtt://127.0.0.1:${this._port}`;
  }
  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.extra?.tls ?? 0}`;
  }
  get tlsPort(): number {
    return this.extra?.tls ?? 0;
  }
  get wssUrl(): string {
    return `wss://127.0.0.1:${this.extra?.wss ?? 0}`;
  }
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.extra?.ws ?? 0}`;
  }
  /** The listener that wants a user name and password. */
  get authUrl(): string {
    return `mqtt://127.0.0.1:${this.extra?.auth ?? 0}`;
  }
  get authPort(): number {
    return this.extra?.auth ?? 0;
  }
  /** Everything mosquitto logged since it was created (it logs every connection attempt). */
  get output(): string {
    return this.log;
  }

  private config(): string {
    const l = this.listeners;
    const x = this.extra;
    const lines = ['persistence false', 'log_dest stderr'];
    // Mosquitto started as root switches to the `mosquitto` user before it reads certificates
    // and password files, which then sit in a directory only root can read.
    if (process.getuid?.() === 0) lines.push('user root');
    const acl = l.aclFile ? [`acl_file ${l.aclFile}`] : [];
    if (!x) return [...lines, `listener ${this._port} 127.0.0.1`, 'allow_anonymous true', ...acl, ''].join('\n');
    // Per-listener settings: anonymous everywhere except on the listener that tests passwords.
    lines.push('per_listener_settings true', `listener ${this._port} 127.0.0.1`, 'allow_anonymous true', ...acl);
    if (l.tls) {
      const files = [`cafile ${l.tls.caFile}`, `certfile ${l.tls.certFile}`, `keyfile ${l.tls.keyFile}`];
      lines.push(`listener ${x.tls} 127.0.0.1`, 'allow_anonymous true', ...files);
      lines.push(`listener ${x.wss} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true', ...files);
    }
    if (l.websockets) lines.push(`listener ${x.ws} 127.0.0.1`, 'protocol websockets', 'allow_anonymous true');
    if (l.passwordFile) lines.push(`listener ${x.auth} 127.0.0.1`, 'allow_anonymous false', `password_file ${l.passwordFile}`);
    return [...lines, ''].join('\n');
  }

  async start(): Promise<void> {
    const l = this.listeners;
    if (!this._port) {
      // All ports at once, fixed for later restarts: taken one by one they may repeat.
      if (l.tls || l.websockets || l.passwordFile) {
        const [main, tls, wss, ws, auth] = await freePorts(5);
        this._port = main!;
        this.extra = { tls: tls!, wss: wss!, ws: ws!, auth: auth! };
      } else {
        this._port = await freePort();
      }
    }
    this.dir ??= mkdtempSync(join(tmpdir(), 'tvh-mosquitto-'));
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(conf, this.config());
    const proc = spawn(this.bin, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (this.log += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc = proc;
    const ports = [this._port];
    const x = this.extra;
    if (x && l.tls) ports.push(x.tls, x.wss);
    if (x && l.websockets) ports.push(x.ws);
    if (x && l.passwordFile) ports.push(x.auth);
    // A broker that exits (a listener it cannot open) fails at once, with its log, not after the wait.
    const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
    try {
      for (const p of ports) await waitForPort(p, 10_000, alive);
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
