// Node-RED 5 needs Node >= 22.9 while this project also supports Node 20 with Node-RED 4.1.
// Both come from the npm registry: `node@22` ships the real binary. They live in .tools/
// (git-ignored) so that the project's own node_modules stay on the machine's Node.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tools = join(root, '.tools');

const NODE22 = 'node@22';
const NODE_RED_5 = 'node-red@5';

function npmInstall(dir, spec) {
  mkdirSync(dir, { recursive: true });
  if (!existsSync(join(dir, 'package.json'))) writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
  console.log(`installing ${spec} into ${dir.replace(root + '/', '')} ...`);
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', spec], {
    cwd: dir,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error(`npm install ${spec} failed`);
}

/** Path of a Node 22 binary, installed on first use. */
export function node22() {
  const bin = join(tools, 'node22', 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(bin)) npmInstall(join(tools, 'node22'), NODE22);
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (v.status !== 0 || !/^v22\./.test(v.stdout)) throw new Error(`${bin} is not a working Node 22`);
  return bin;
}

/** Directory of a Node-RED 5 installation (the package folder holding red.js). */
export function nodeRed5() {
  const dir = join(tools, 'nr5', 'node_modules', 'node-red');
  if (!existsSync(join(dir, 'red.js'))) npmInstall(join(tools, 'nr5'), NODE_RED_5);
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
