// Node-RED 5 needs Node >= 22.9 while this project also supports Node 20 with Node-RED 4.1.
// Both come from the npm registry: `node@22` ships the real binary. They live in .tools/
// (git-ignored) so that the project's own node_modules stay on the machine's Node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, '.tools');

// Exact versions: a new release must not change what the tests run on without a commit here.
const NODE22 = { name: 'node', version: '22.23.3' };
const NODE_RED_5 = { name: 'node-red', version: '5.0.7' };

function installedVersion(dir, pkg) {
  try {
    return JSON.parse(readFileSync(join(dir, 'node_modules', pkg.name, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** Installs `pkg` into `dir` unless that exact version is there; a registry hiccup is retried. */
function ensureInstalled(dir, pkg) {
  if (installedVersion(dir, pkg) === pkg.version) return;
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
  const spec = `${pkg.name}@${pkg.version}`;
  for (let attempt = 1; ; attempt++) {
    console.log(`installing ${spec} into ${dir.replace(root + '/', '')} ...`);
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--fetch-retries=4', spec], {
      cwd: dir,
      stdio: 'inherit',
      timeout: 10 * 60_000,
    });
    if (r.status === 0 && installedVersion(dir, pkg) === pkg.version) return;
    if (attempt === 3) throw new Error(`npm install ${spec} failed ${attempt} times`);
    spawnSync('sleep', [String(5 * attempt)]);
  }
}

/** Path of a Node 22 binary, installed on first use. */
export function node22() {
  const bin = join(tools, 'node22', 'node_modules', 'node', 'bin', 'node');
  ensureInstalled(join(tools, 'node22'), NODE22);
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || !/^v22\./.test(v.stdout)) throw new Error(`${bin} is not a working Node 22`);
  return bin;
}

/** Directory of a Node-RED 5 installation (the package folder holding red.js). */
export function nodeRed5() {
  const dir = join(tools, 'nr5', 'node_modules', 'node-red');
  ensureInstalled(join(tools, 'nr5'), NODE_RED_5);
  if (!existsSync(join(dir, 'red.js'))) throw new Error(`${dir} has no red.js`);
  return dir;
}

/** Directory of the Node-RED 4.1 in devDependencies. */
export function nodeRed4() {
  return join(root, 'node_modules', 'node-red');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(node22());
  console.log(nodeRed5());
}
