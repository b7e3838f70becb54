// Scale-out: two gateway replicas behind nginx, sharing limits through Redis and the ledger through
// PostgreSQL (real servers started here on free loopback ports).
// 1. A key whose budget allows exactly 300 requests (requests_per_day: 300), hit by 1,000 requests at
//    50 concurrency through nginx (round robin over both replicas): exactly 300 succeed, 700 get 429,
//    both replicas answered, and the shared ledger holds exactly 300 rows with status 200 for the key.
// 2. The same with a USD budget (3.9 USD = exactly 300 requests when estimate = real cost).
// 3. Killing one replica (SIGKILL) mid-load: nginx (proxy_next_upstream) sends everything to the other,
//    and every request is answered.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), redis-server, nginx and
// PostgreSQL 15 (see tests/node/lib/postgres.js).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, stopProcess, waitFor } from '../lib/harness.js';
import { startPostgres } from '../lib/postgres.js';
import { freePort, startRedis } from '../lib/redis.js';

const NGINX = process.env.NGINX_BIN || '/usr/sbin/nginx';

// nginx in the foreground with a generated config in `dir`; resolves once it answers on `port`.
async function startNginx(dir, upstreamPorts) {
  const port = await freePort();
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const conf = `
${isRoot ? 'user root;' : ''}
worker_processes 1;
error_log ${join(dir, 'error.log')} warn;
pid ${join(dir, 'nginx.pid')};
events { worker_connections 2048; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'client_body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream gateways {
${upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=30s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # A replica that refuses or drops the connection: try the other one, POSTs included.
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 2;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
    }
  }
}
`;
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const proc = spawn(NGINX, ['-p', dir, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (c) => (log += c));
  proc.stderr.on('data', (c) => (log += c));
  const up = await waitFor(async () => {
    if (proc.exitCode !== null) return true;
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      return true;
    } catch {
      return false;
    }
  }, 10000);
  if (!up || proc.exitCode !== null) {
    proc.kill('SIGKILL');
    const errLog = existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '';
    throw new Error(`nginx did not start:\n${log}\n${errLog}`);
  }
  return { port, proc, stop: () => stopProcess(proc), errorLog: () => readFileSync(join(dir, 'error.log'), 'utf8') };
}

// Runs `total` requests with `concurrency` workers; `onDone(n)` after each. Resolves with the statuses.
async function load(url, key, total, concurrency, onDone = () => {}, maxTokens = 8) {
  const statuses = [];
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      let status;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'x-request-id': `so-${key.slice(4, 16)}-${i}` },
          body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: `request ${i}` }], max_tokens: maxTokens }),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        status = `error: ${err.cause?.code ?? err.message}`;
      }
      statuses.push(status);
      onDone(statuses.length);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return statuses;
}

const tally = (xs) => xs.reduce((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

describe('scale-out: two replicas behind nginx, shared redis and postgres', { timeout: 180000 }, () => {
  let dir, mock, redis, pg, gws = [], nginx, configPath, budgetKey, usdKey, openKey;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-scale-'));
    [mock, redis, pg] = await Promise.all([startMock(), startRedis(), startPostgres()]);
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1000, output_usd_per_mtok: 2000}
ledger: {kind: postgres, dsn: "${pg.url}"}
limits: {kind: redis, url: "${redis.url}"}
`;
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml);
    const create = (...flags) => {
      const r = spawnSync(gatewayBinary(), ['keys', 'create', '--config', configPath, ...flags], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    // Created before the replicas start, so both load them at startup: no request is spent probing.
    budgetKey = create('--name', 'budget-300', '--requests-per-day', '300');
    // 300 requests x 0.013 USD (below): a USD budget that allows exactly 300 requests.
    usdKey = create('--name', 'usd-300', '--usd-per-day', '3.9');
    openKey = create('--name', 'unlimited');
    gws = await Promise.all([startGateway(yaml), startGateway(yaml)]);
    nginx = await startNginx(join(dir, 'nginx'), gws.map((g) => g.port));
  });
  after(async () => {
    await nginx?.stop();
    for (const g of gws) await g.stop();
    await Promise.all([mock?.stop(), redis?.stop(), pg?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a budget of exactly 300 requests holds across replicas: 300 x 200, 700 x 429, 300 ledger rows', async () => {
    const statuses = await load(`http://127.0.0.1:${nginx.port}/v1/chat/completions`, budgetKey, 1000, 50);
    assert.deepEqual(tally(statuses), { 200: 300, 429: 700 });
    // Both replicas answered (each counts the 429s it gave).
    for (const g of gws) {
      const m = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
      const refused = Number(m.match(/^rightsize_limits_refused_total (\d+)$/m)?.[1]);
      assert.ok(refused > 0 && refused < 700, `replica on ${g.port} refused ${refused}`);
    }
    // The shared ledger: the writers flush within their interval; wait for every row.
    const keyId = budgetKey.slice(4, 16);
    const count = (status) =>
      pg.psql(`SELECT count(*) FROM requests WHERE key_id = '${keyId}' AND status = ${status}`).then((s) => Number(s.trim()));
    await waitFor(async () => (await count(200)) + (await count(429)) === 1000, 15000);
    assert.equal(await count(200), 300);
    assert.equal(await count(429), 700);
  });

  test('a USD budget holds exactly across replicas when the estimate equals the real cost', async () => {
    // "request N" is 3 prompt tokens for the mock and for the gateway's estimate (4 characters a token);
    // the reply "mock reply to: request N" is 5 completion tokens, and max_tokens 5 makes the estimate
    // 5 too. At 1000 / 2000 USD per Mtok a request costs 0.003 + 0.010 = 0.013 USD, estimated and real,
    // so a 3.9 USD budget admits exactly 300 (reservations are atomic in redis across both replicas).
    const statuses = await load(`http://127.0.0.1:${nginx.port}/v1/chat/completions`, usdKey, 1000, 50, () => {}, 5);
    assert.deepEqual(tally(statuses), { 200: 300, 429: 700 });
    const keyId = usdKey.slice(4, 16);
    const q = (sql) => pg.psql(sql).then((s) => s.trim());
    await waitFor(async () => Number(await q(`SELECT count(*) FROM requests WHERE key_id = '${keyId}'`)) === 1000, 15000);
    assert.equal(await q(`SELECT count(*) || ' ' || sum(cost_nanos) FROM requests WHERE key_id = '${keyId}' AND status = 200`),
      '300 3900000000');
  });

  test('killing one replica mid-load: the other keeps serving', async () => {
    let killed = false;
    const statuses = await load(`http://127.0.0.1:${nginx.port}/v1/chat/completions`, openKey, 1000, 50, (n) => {
      if (n === 200 && !killed) {
        killed = true;
        gws[0].proc.kill('SIGKILL');
      }
    });
    assert.ok(killed);
    assert.deepEqual(tally(statuses), { 200: 1000 });
    // nginx saw the dead replica and moved on.
    assert.match(nginx.errorLog(), /connect\(\) failed|upstream prematurely closed|Connection reset|refused/);
    // The survivor still answers directly.
    const res = await fetch(`http://127.0.0.1:${gws[1].port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${openKey}` },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'still there?' }] }),
    });
    assert.equal(res.status, 200);
  });
});
