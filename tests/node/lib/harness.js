// Starts and stops the processes the client tests talk to: rs_mock_upstream and the rightsize gateway.
// Both pick their own port (--port 0 / listen "127.0.0.1:0"); we read it from their "listening on
// HOST:PORT" line. Every process started here is killed when the test file ends, even on failure.

import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const children = new Set();

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

// Path of a binary from `envVar`, else from the default build dir; throws a clear error if neither exists.
function binary(envVar, defaultRelPath) {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist`);
    return fromEnv;
  }
  const fallback = join(repoRoot, defaultRelPath);
  if (existsSync(fallback)) return fallback;
  throw new Error(`set ${envVar} to the built binary (no ${fallback} either)`);
}

export const mockBinary = () => binary('RS_MOCK_UPSTREAM_BIN', 'build/tests/fakes/rs_mock_upstream');
export const gatewayBinary = () => binary('RIGHTSIZE_BIN', 'build/app/rightsize');

// Spawns `cmd args` and resolves with {proc, port, output()} once a line on stdout or stderr matches
// "listening on 127.0.0.1:PORT". Rejects (with everything the process printed) if it exits first or
// takes longer than `timeoutMs`.
function startListening(cmd, args, { timeoutMs = 15000, env = process.env } = {}) {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(proc);
  let log = '';
  const output = () => log;
  return new Promise((resolvePromise, reject) => {
    let pending = '';
    let done = false;
    const finish = (err, port) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        proc.kill('SIGKILL');
        reject(err);
      } else {
        resolvePromise({ proc, port, output });
      }
    };
    const onData = (chunk) => {
      const text = chunk.toString();
      log += text;
      // ASan+UBSan runs (scripts/test.sh): keep what every server printed, for the sanitizer check.
      if (process.env.RS_SANITIZER_OUTPUT_DIR) appendFileSync(join(process.env.RS_SANITIZER_OUTPUT_DIR, `output.${proc.pid}`), text);
      if (done) return;
      pending += text;
      const m = pending.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) finish(null, Number(m[1]));
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('error', (err) => finish(new Error(`cannot start ${cmd}: ${err.message}`)));
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      finish(new Error(`${cmd} exited (code ${code}, signal ${signal}) before listening; output:\n${log}`));
    });
    const timer = setTimeout(
      () => finish(new Error(`${cmd} did not print "listening on" within ${timeoutMs} ms; output:\n${log}`)),
      timeoutMs,
    );
  });
}

// Sends SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone.
export function stopProcess(proc, graceMs = 5000) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      children.delete(proc);
      resolvePromise();
    });
    proc.kill('SIGTERM');
  });
}

// A running rs_mock_upstream with helpers for its /_mock endpoints.
export async function startMock() {
  const { proc, port, output } = await startListening(mockBinary(), ['--port', '0']);
  const url = `http://127.0.0.1:${port}`;
  const getJson = async (path, init) => {
    const res = await fetch(url + path, init);
    if (!res.ok) throw new Error(`mock ${path}: HTTP ${res.status}`);
    return res.json();
  };
  return {
    proc,
    port,
    url,
    baseURL: `${url}/v1`,
    output,
    last: () => getJson('/_mock/last'),
    stats: () => getJson('/_mock/stats'),
    reset: () => getJson('/_mock/reset', { method: 'POST' }),
    stop: () => stopProcess(proc),
  };
}

// A running gateway (`rightsize serve --config <tmp yaml>`); `configYaml` is the whole file, kept at
// `configPath` while the gateway runs (rewrite it and send SIGHUP to reload). `env`: the process's.
export async function startGateway(configYaml, { env = process.env } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'rightsize-node-'));
  const configPath = join(dir, 'config.yaml');
  writeFileSync(configPath, configYaml);
  try {
    const { proc, port, output } = await startListening(gatewayBinary(), ['serve', '--config', configPath], { env });
    return {
      proc,
      port,
      configPath,
      baseURL: `http://127.0.0.1:${port}/v1`,
      output,
      stop: async () => {
        await stopProcess(proc);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

// Polls `probe` (async, returns truthy when satisfied) every 20 ms until it holds or `timeoutMs` passes;
// resolves with the last value either way.
export async function waitFor(probe, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

// The reply rs_mock_upstream gives by default: "mock reply to: " + the first 40 bytes of the last user
// message (cut back to a UTF-8 boundary).
export function mockReplyTo(userText) {
  const bytes = Buffer.from(userText, 'utf8');
  let cut = Math.min(bytes.length, 40);
  while (cut > 0 && cut < bytes.length && (bytes[cut] & 0xc0) === 0x80) cut--;
  return 'mock reply to: ' + bytes.subarray(0, cut).toString('utf8');
}
