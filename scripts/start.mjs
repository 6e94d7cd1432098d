// `npm start`: build, run the Tvheadend simulator on loopback, and run Node-RED 5 (on Node 22)
// with this package and a demo flow connected to the simulator. One Ctrl-C stops both.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, node22, nodeRed5 } from './tools.mjs';
import { demoFlows } from './demo-flows.mjs';

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

const MQTT_PORT = Number(process.env.MQTT_PORT ?? 1883);
const { flows, credentials } = demoFlows({ simPort: SIM_PORT, mqttPort: MQTT_PORT });
writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
writeFileSync(join(userDir, 'flows_cred.json'), JSON.stringify(credentials, null, 2));

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
let broker;
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
  const force = setTimeout(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    process.exit(code);
  }, 5000);
  force.unref();
  Promise.all([
    ...children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)),
    broker?.close(),
  ]).then(() => process.exit(code));
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

broker = await startBroker(MQTT_PORT);
startChild('simulator', process.execPath, [join(root, 'dist', 'sim', 'cli.js'), '--host', '127.0.0.1', '--port', String(SIM_PORT)]);
startChild('Node-RED', node, [join(nodeRed, 'red.js'), '--userDir', userDir, '--port', String(NR_PORT)]);
console.log(`\nNode-RED editor: http://127.0.0.1:${NR_PORT}  (simulator on 127.0.0.1:${SIM_PORT}, user demo / demo). Ctrl-C stops both.\n`);

/** A local MQTT broker so that the MQTT example works out of the box (Aedes, in this process). */
async function startBroker(port) {
  const { Aedes } = await import('aedes');
  const { createServer } = await import('node:net');
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise((resolve) => {
    server.once('error', (err) => {
      console.warn(`MQTT demo broker not started on 127.0.0.1:${port}: ${err.message}`);
      resolve();
    });
    server.listen(port, '127.0.0.1', () => {
      console.log(`MQTT broker (Aedes) for the demo on mqtt://127.0.0.1:${port}`);
      resolve();
    });
  });
  return { close: () => new Promise((r) => server.close(() => broker.close(r))) };
}
