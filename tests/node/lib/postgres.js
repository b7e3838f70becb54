// A throwaway PostgreSQL server for integration tests.
//
//   import { startPostgres } from '../lib/postgres.js';
//   const pg = await startPostgres();      // initdb into a fresh temp dir, postgres on a free loopback port
//   ... use pg.url ...                      // "postgresql://rightsize@127.0.0.1:PORT/postgres" (trust auth, superuser)
//   await pg.stop();                        // fast shutdown, then the temp dir is removed
//
// startPostgres({ timeoutMs = 30000, bin = PG_BIN or /usr/lib/postgresql/15/bin }) resolves with
// { url, host, port, dir, psql(sql) }. psql(sql) runs SQL through the server's psql and resolves with its
// stdout (tuples only, unaligned) -- handy for counting rows. Every server started here is killed and its
// dir removed when the test process exits, even on failure. Each call starts its own server, so tests may
// run in parallel.
//
// initdb and postgres refuse to run as root: when the tests run as root they run as the `postgres` system
// user (runuser -u postgres --) and the temp dir is chowned to it. fsync=off: the tests kill the gateway,
// not PostgreSQL, so durability of the server itself is not under test.

import { execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const running = new Set(); // {pid(), dir}

process.on('exit', () => {
  for (const s of running) {
    const pid = s.pid();
    if (pid) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    try { rmSync(s.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

function pgBin(name, bin) {
  const p = join(bin, name);
  if (!existsSync(p)) throw new Error(`PostgreSQL binary ${p} not found (set PG_BIN to its directory)`);
  return p;
}

// A port nobody listens on right now (the server may still lose a race for it: startPostgres retries).
function freePort() {
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

function systemUser() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return { prefix: [], chown: () => {} };
  let uid, gid;
  try {
    const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
    [, , uid, gid] = line.split(':').map((v, i) => (i === 2 || i === 3 ? Number(v) : v));
  } catch {
    throw new Error('running as root and there is no `postgres` system user to run initdb/postgres as');
  }
  return { prefix: ['runuser', '-u', 'postgres', '--'], chown: (p) => chownSync(p, uid, gid) };
}

function run(prefix, cmd, args) {
  const argv = [...prefix, cmd, ...args];
  return execFileP(argv[0], argv.slice(1), { maxBuffer: 16 * 1024 * 1024 });
}

async function startOnce({ timeoutMs, bin }) {
  const user = systemUser();
  const dir = mkdtempSync(join(tmpdir(), 'rs-pg-'));
  user.chown(dir);
  const data = join(dir, 'data');
  const entry = { dir, pid: () => null };
  running.add(entry);
  const cleanup = () => {
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await run(user.prefix, pgBin('initdb', bin), ['-D', data, '-U', 'rightsize', '--auth=trust', '-E', 'UTF8',
      '--no-locale', '--no-sync']);
  } catch (err) {
    cleanup();
    throw new Error(`initdb failed: ${err.stderr || err.message}`);
  }
  const port = await freePort();
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1',
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=40',
    '-c', 'shared_buffers=16MB', '-c', 'logging_collector=off'];
  const argv = [...user.prefix, pgBin('postgres', bin), ...args];
  const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  // The postmaster's own pid (not runuser's): signals go straight to it.
  entry.pid = () => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]) || null;
    } catch {
      return null;
    }
  };
  const ready = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const onData = (chunk) => {
      log += chunk.toString();
      if (/database system is ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  if (!ready) {
    const pid = entry.pid();
    if (pid) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    proc.kill('SIGKILL');
    cleanup();
    const err = new Error(`postgres did not start on port ${port}:\n${log}`);
    err.portInUse = /could not bind|Address already in use/.test(log);
    throw err;
  }
  const url = `postgresql://rightsize@127.0.0.1:${port}/postgres`;
  const exited = new Promise((resolve) => {
    if (proc.exitCode !== null) resolve();
    else proc.on('exit', resolve);
  });
  let stopped = false;
  return {
    url,
    host: '127.0.0.1',
    port,
    dir,
    output: () => log,
    async psql(sql) {
      const { stdout } = await execFileP(pgBin('psql', bin), ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url,
        '-c', sql]);
      return stdout;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const pid = entry.pid();
      // SIGINT = fast shutdown: disconnects clients, no waiting for them.
      if (pid) {
        try { process.kill(pid, 'SIGINT'); } catch { /* gone */ }
      }
      const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10000));
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        if (pid) {
          try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
        }
        proc.kill('SIGKILL');
      }
      cleanup();
    },
  };
}

export async function startPostgres({ timeoutMs = 30000, bin = process.env.PG_BIN || '/usr/lib/postgresql/15/bin' } = {}) {
  for (let attempt = 1; ; ++attempt) {
    try {
      return await startOnce({ timeoutMs, bin });
    } catch (err) {
      if (!err.portInUse || attempt >= 3) throw err;
    }
  }
}
