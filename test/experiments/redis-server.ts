import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on 127.0.0.1 (the kernel picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/** A throwaway Debian redis-server on a free loopback port, nothing saved; `stop` shuts it down. */
export async function startRedis(): Promise<{ port: number; url: string; stop(): void }> {
  const port = await freePort();
  execFileSync('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'yes',
  ]);
  for (let i = 0; i < 100; i++) {
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.stdout.trim() === 'PONG') {
      return {
        port,
        url: `redis://127.0.0.1:${port}`,
        stop: () => {
          spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'nosave']);
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`redis-server did not answer on port ${port}`);
}
