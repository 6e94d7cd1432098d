// Runs Node-RED as a real process (the one named by NODE_RED_PATH, on this Node) with a fresh
// user directory, for the install and browser suites.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './ports';

export { freePort };

export const repoRoot = join(__dirname, '..', '..');

export function nodeRedDir(): string {
  const main = process.env.NODE_RED_PATH ?? require.resolve('node-red');
  return dirname(dirname(main));
}

export interface NodeRedOptions {
  /** 'tarball': `npm pack` + `npm install` (what a user gets); 'link': a symlink to this checkout's build. */
  install: 'tarball' | 'link';
  flows?: object[];
  /** Stored unencrypted (credentialSecret false): test data only. */
  credentials?: Record<string, Record<string, string>>;
}

export interface RunningNodeRed {
  url: string;
  port: number;
  userDir: string;
  log(): string;
  stop(): Promise<void>;
}

export async function startNodeRed(opts: NodeRedOptions): Promise<RunningNodeRed> {
  const work = mkdtempSync(join(tmpdir(), 'tvh-nodered-'));
  const userDir = join(work, 'userdir');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  writeFileSync(join(userDir, 'package.json'), '{"name":"node-red-project","private":true}');
  if (opts.install === 'tarball') {
    const out = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    const tarball = out.trim().split('\n').pop() as string;
    // The dependencies come from npm's cache when `npm ci` has just filled it; the registry only
    // when not, and then with retries, so that a registry hiccup is not a failed test.
    const args = ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline', '--fetch-retries=4', join(work, tarball)];
    execFileSync('npm', args, { cwd: userDir, timeout: 300_000 });
  } else {
    if (!existsSync(join(repoRoot, 'dist', 'nodes'))) throw new Error('dist/ is missing: run the build first');
    symlinkSync(repoRoot, join(userDir, 'node_modules', 'node-red-contrib-tvheadend'), 'dir');
  }
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(opts.flows ?? []));
  if (opts.credentials) writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify(opts.credentials));
  // The port is free when chosen but only bound seconds later, once Node-RED is up: something
  // else may take it in between, and then another port is tried.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(userDir, port, () => rmSync(work, { recursive: true, force: true }));
    } catch (err) {
      if (attempt < 3 && err instanceof PortTaken) continue;
      rmSync(work, { recursive: true, force: true });
      throw err;
    }
  }
}

class PortTaken extends Error {}

async function launch(userDir: string, port: number, cleanup: () => void): Promise<RunningNodeRed> {
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = { uiHost: '127.0.0.1', uiPort: ${port}, flowFile: 'flows.json', credentialSecret: false,
      editorTheme: { tours: false, projects: { enabled: false } }, telemetry: { enabled: false }, logging: { console: { level: 'info' } } };`,
  );
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [join(nodeRedDir(), 'red.js'), '--userDir', userDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const end = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + 60_000;
  while (!/Server now running at/.test(log) || !/Started flows|Flows file.*not found|Starting flows/.test(log)) {
    if (child.exitCode !== null) {
      await end();
      if (/EADDRINUSE|port in use|unable to listen/i.test(log)) throw new PortTaken(`port ${port} was taken:\n${log}`);
      throw new Error(`Node-RED exited early:\n${log}`);
    }
    if (Date.now() > deadline) {
      await end();
      throw new Error(`Node-RED did not start in 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async (): Promise<void> => {
    await end();
    cleanup();
  };
  return { url: `http://127.0.0.1:${port}`, port, userDir, log: () => log, stop };
}

/**
 * A suite that needs a system program: its path, or undefined after a loud warning on a
 * developer's machine. With CI=true a missing program throws, so CI never skips silently.
 */
export function systemProgram(name: string, candidates: string[]): string | undefined {
  for (const p of candidates) if (existsSync(p)) return p;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  const message = `${name} is not installed: its test suite cannot run (apt-get install ${name})`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI must install it (.ci/run)`);
  console.warn(`\n!!!!!!!!!!\n!!! SKIPPED: ${message}\n!!!!!!!!!!\n`);
  return undefined;
}
