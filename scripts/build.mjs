// Compile src/ to dist/ and put each node's editor files and icons next to its .js,
// which is where Node-RED looks for them.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
rmSync(join(root, 'dist'), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
} catch {
  console.error('build failed: TypeScript errors above');
  process.exit(1);
}
const editorRoot = join(root, 'nodes');
if (existsSync(editorRoot)) {
  for (const name of readdirSync(editorRoot)) {
    const target = join(root, 'dist', 'nodes', name);
    if (!existsSync(target)) throw new Error(`nodes/${name} has no runtime in src/nodes/${name}`);
    cpSync(join(editorRoot, name), target, { recursive: true });
    if (existsSync(join(root, 'icons'))) cpSync(join(root, 'icons'), join(target, 'icons'), { recursive: true });
  }
}
const cli = join(root, 'dist', 'sim', 'cli.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
