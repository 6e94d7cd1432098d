// Free loopback ports for services the tests start. A port is only "free" until someone binds it,
// so ports wanted together are reserved together: each one stays bound until all are known,
// otherwise the kernel may hand the same port out twice in a row.
import { createServer, type Server } from 'node:net';

function reserve(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

/** `count` distinct loopback ports, unbound again when the promise settles. */
export async function freePorts(count: number): Promise<number[]> {
  const held: Array<{ server: Server; port: number }> = [];
  try {
    for (let i = 0; i < count; i++) held.push(await reserve());
    return held.map((h) => h.port);
  } finally {
    await Promise.all(held.map((h) => new Promise<void>((r) => h.server.close(() => r()))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
