// `npm start`: build, run the Tvheadend simulator on loopback, and run Node-RED 5 (on Node 22)
// with this package and a demo flow connected to the simulator. One Ctrl-C stops both.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, node22, nodeRed5 } from './tools.mjs';

const SIM_PORT = Number(process.env.TVH_SIM_PORT ?? 9982);
const NR_PORT = Number(process.env.NODE_RED_PORT ?? 1880);
const userDir = join(root, '.node-red-data');

const built = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
const node = node22();
const nodeRed = nodeRed5();

// The user directory is rebuilt on every start so the demo always matches the code.
rmSync(join(userDir, 'node_modules'), { recursive: true, force: true });
mkdirSync(join(userDir, 'node_modules'), { recursive: true });
symlinkSync(root, join(userDir, 'node_modules', 'node-red-contrib-tvheadend'), 'dir');
writeFileSync(
  join(userDir, 'package.json'),
  JSON.stringify({ name: 'node-red-project', private: true, dependencies: { 'node-red-contrib-tvheadend': 'file:..' } }, null, 2),
);
writeFileSync(
  join(userDir, 'settings.js'),
  `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: ${NR_PORT},
  flowFile: 'flows.json',
  // Local demo only: the simulator's demo/demo login is stored unencrypted in this git-ignored folder.
  credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { projects: { enabled: false }, tours: false },
  telemetry: { enabled: false },
};
`,
);

const { flows, serverId } = demoFlows();
writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify({ [serverId]: { username: 'demo', password: 'demo' } }, null, 2));

const children = [];
function startChild(label, cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`${label} exited (${signal ?? code}); stopping`);
      stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit(code);
  }, 5000);
  force.unref();
  Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null))).then(() =>
    process.exit(code),
  );
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

startChild('simulator', process.execPath, [join(root, 'dist', 'sim', 'cli.js'), '--host', '127.0.0.1', '--port', String(SIM_PORT)]);
startChild('Node-RED', node, [join(nodeRed, 'red.js'), '--userDir', userDir, '--port', String(NR_PORT)]);
console.log(`\nNode-RED editor: http://127.0.0.1:${NR_PORT}  (simulator on 127.0.0.1:${SIM_PORT}, user demo / demo). Ctrl-C stops both.\n`);

/** Every example flow on its own tab, all pointing at one server node for the simulator. */
function demoFlows() {
  const serverId = 'tvh-demo-server';
  const flows = [
    {
      id: serverId,
      type: 'tvheadend-server',
      name: 'Simulator',
      host: '127.0.0.1',
      port: SIM_PORT,
    },
  ];
  const dir = join(root, 'examples');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const file of files) {
    const nodes = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const tabId = `tab-${file.replace(/\W+/g, '-')}`;
    flows.push({ id: tabId, type: 'tab', label: file.replace(/\.json$/, '') });
    const servers = new Set(nodes.filter((n) => n.type === 'tvheadend-server').map((n) => n.id));
    for (const n of nodes) {
      if (n.type === 'tvheadend-server' || n.type === 'tab') continue;
      const copy = { ...n, id: `${tabId}-${n.id}` };
      if (n.type !== 'tvheadend-mqtt-broker' && !n.z) copy.z = tabId;
      if (n.z) copy.z = tabId;
      if (servers.has(copy.server)) copy.server = serverId;
      if (Array.isArray(n.wires)) copy.wires = n.wires.map((out) => out.map((id) => `${tabId}-${id}`));
      if (Array.isArray(n.links)) copy.links = n.links.map((id) => `${tabId}-${id}`);
      if (Array.isArray(n.scope)) copy.scope = n.scope.map((id) => `${tabId}-${id}`);
      flows.push(copy);
    }
  }
  return { flows, serverId };
}
