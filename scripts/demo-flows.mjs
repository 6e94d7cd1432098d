// The demo's flows: every example on its own tab, all pointing at one server node for the
// simulator, and the MQTT example at the demo broker. Used by `npm start` and by the test that
// runs every example (test/nodes/examples.test.ts), so that what the demo shows is what is tested.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './tools.mjs';

export const DEMO_SERVER_ID = 'tvh-demo-server';

/**
 * Node ids get a per-file prefix, and every property that names another node of the same file
 * follows; each example's own server node is replaced by the demo's.
 */
export function demoFlows({ simPort, mqttPort = 1883, username = 'demo', password = 'demo', examplesDir = join(root, 'examples') }) {
  const flows = [{ id: DEMO_SERVER_ID, type: 'tvheadend-server', name: 'Simulator', host: '127.0.0.1', port: simPort }];
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json')).sort();
  for (const file of files) {
    const prefix = file.replace(/\.json$/, '');
    const nodes = JSON.parse(readFileSync(join(examplesDir, file), 'utf8'));
    const ids = new Map();
    for (const n of nodes) ids.set(n.id, n.type === 'tvheadend-server' ? DEMO_SERVER_ID : `${prefix}-${n.id}`);
    let tabId = nodes.find((n) => n.type === 'tab')?.id;
    if (!tabId) {
      tabId = `${prefix}-tab`;
      flows.push({ id: tabId, type: 'tab', label: prefix });
    } else {
      tabId = ids.get(tabId);
    }
    const remap = (v) => (typeof v === 'string' && ids.has(v) ? ids.get(v) : Array.isArray(v) ? v.map(remap) : v);
    for (const n of nodes) {
      if (n.type === 'tvheadend-server') continue;
      const copy = {};
      for (const [k, v] of Object.entries(n)) copy[k] = remap(v);
      // Flow nodes have a position; config nodes (no x) stay global.
      if (!copy.z && n.type !== 'tab' && 'x' in n) copy.z = tabId;
      if (n.type === 'mqtt-broker') Object.assign(copy, { broker: '127.0.0.1', port: String(mqttPort) });
      if (n.type === 'tvheadend-mqtt') copy.broker = `mqtt://127.0.0.1:${mqttPort}`;
      flows.push(copy);
    }
  }
  return { flows, credentials: { [DEMO_SERVER_ID]: { username, password } } };
}
