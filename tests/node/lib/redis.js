// A throwaway Redis server for integration tests.
//
//   import { startRedis } from '../lib/redis.js';
//   const redis = await startRedis();   // redis-server on a free loopback port, no persistence
//   ... use redis.url ...               // "redis://127.0.0.1:PORT"
//   await redis.cli('DBSIZE');          // runs redis-cli against it, resolves with its stdout
//   await redis.stop();                 // SIGTERM (SIGKILL after 5 s); resolves when it is gone
//
// startRedis({ timeoutMs = 10000, bin = REDIS_SERVER or /usr/bin/redis-server }) resolves with
// { url, port, proc, cli(...args), output(), stop() }. Every server started here is killed when the test
// process exits, even on failure. Each call starts its own server, so tests may run in parallel.

import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const running = new Set();

process.on('exit', () => {
  for (const s of running) {
    try { s.proc.kill('SIGKILL'); } catch { /* already gone */ }
    try { rmSync(s.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

// A port nobody listens on right now (redis-server may still lose a race for it: startRedis retries).
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startOnce({ timeoutMs, bin }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rs-redis-'));
  const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { proc, dir };
  running.add(entry);
  let log = '';
  const ready = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const onData = (chunk) => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('error', (err) => {
      log += `cannot start ${bin}: ${err.message}`;
      resolve(false);
    });
    proc.on('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  const exited = new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) resolve();
    else proc.on('exit', resolve);
  });
  const cleanup = () => {
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };
  if (!ready) {
    proc.kill('SIGKILL');
    cleanup();
    const err = new Error(`redis-server did not start on port ${port}:\n${log}`);
    err.portInUse = /Address already in use/.test(log);
    throw err;
  }
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    proc,
    output: () => log,
    async cli(...args) {
      const { stdout } = await execFileP('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
      return stdout;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}

export async function startRedis({ timeoutMs = 10000, bin = process.env.REDIS_SERVER || '/usr/bin/redis-server' } = {}) {
  if (!existsSync(bin)) throw new Error(`redis-server not found at ${bin} (set REDIS_SERVER)`);
  for (let attempt = 1; ; ++attempt) {
    try {
      return await startOnce({ timeoutMs, bin });
    } catch (err) {
      if (!err.portInUse || attempt >= 3) throw err;
    }
  }
}
