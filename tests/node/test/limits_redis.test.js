// Keys and limits in Redis (limits.kind: redis) with a real redis-server started here: keys created
// by the CLI are seen by two gateways sharing the Redis, a per-minute rate is shared exactly across
// them, revocation reaches both, and when Redis goes away on_error decides: open admits (uncounted),
// closed answers 503; both log and count it in /metrics.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and redis-server.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';
import { startRedis } from '../lib/redis.js';

const config = (mockPort, redisUrl, onError) => `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
ledger: {kind: off}
limits: {kind: redis, url: "${redisUrl}", on_error: ${onError}, timeout_ms: 200}
`;

const chat = (gw, key) =>
  fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() }));

function metric(text, name) {
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

describe('limits in redis', () => {
  let dir, mock, redis, gwOpen, gwClosed, configPath;

  const cli = (...args) => {
    const r = spawnSync(gatewayBinary(), ['keys', ...args, '--config', configPath], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-limits-redis-'));
    mock = await startMock();
    redis = await startRedis();
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, config(mock.port, redis.url, 'open'));
    gwOpen = await startGateway(config(mock.port, redis.url, 'open'));
    gwClosed = await startGateway(config(mock.port, redis.url, 'closed'));
  });
  after(async () => {
    await gwOpen?.stop();
    await gwClosed?.stop();
    await redis?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let key, keyId;
  test('a key created with the CLI is stored hashed in redis and closes both gateways', async () => {
    assert.equal((await chat(gwOpen, null)).status, 200);  // no keys yet: open
    // Stay inside one minute window for the rate test below.
    const secs = new Date().getUTCSeconds();
    if (secs > 45) await new Promise((r) => setTimeout(r, (61 - secs) * 1000));
    const r = cli('create', '--name', 'shared', '--rpm', '10');
    assert.equal(r.code, 0, r.err);
    key = r.out.trim();
    keyId = key.slice(4, 16);
    assert.equal((await redis.cli('SISMEMBER', 'rs:keys', keyId)).trim(), '1');
    const stored = await redis.cli('HGETALL', `rs:key:${keyId}`);
    assert.ok(!stored.includes(key.slice(17)), 'the secret is stored in redis');
    assert.match(stored, /requests_per_minute\n10/);
    for (const gw of [gwOpen, gwClosed]) {
      assert.ok(await waitFor(async () => (await chat(gw, null)).status === 401, 5000), 'no 401 within 5 s');
    }
  });

  test('a per-minute rate is shared exactly by two gateways', async () => {
    // 10 requests per minute for the key, 20 concurrent requests spread over both gateways.
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(i % 2 ? gwOpen : gwClosed, key)));
    const counts = {};
    for (const r of all) counts[r.status] = (counts[r.status] ?? 0) + 1;
    assert.deepEqual(counts, { 200: 10, 429: 10 });
    const refused = all.find((r) => r.status === 429);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal(JSON.parse(refused.body).error.type, 'rate_limit_error');
    const [, minuteKey] = (await redis.cli('KEYS', `rs:lim:{${keyId}}:m:*`)).match(/(\S+)/) ?? [];
    assert.ok(minuteKey, 'no minute window in redis');
    assert.equal((await redis.cli('HGET', minuteKey, 'r')).trim(), '10');
    const ttl = Number(await redis.cli('TTL', minuteKey));
    assert.ok(ttl > 0 && ttl <= 120, `TTL ${ttl}`);
    const m = await (await fetch(`http://127.0.0.1:${gwOpen.port}/metrics`)).text().catch(() => '');
    if (m) assert.ok(metric(m, 'rightsize_limits_refused_total') >= 1);
  });

  test('revocation reaches both gateways', async () => {
    const k2 = cli('create', '--name', 'second').out.trim();
    for (const gw of [gwOpen, gwClosed])
      assert.ok(await waitFor(async () => (await chat(gw, k2)).status === 200, 5000), 'new key not accepted');
    assert.equal(cli('revoke', k2.slice(4, 16)).code, 0);
    for (const gw of [gwOpen, gwClosed])
      assert.ok(await waitFor(async () => (await chat(gw, k2)).status === 401, 5000), 'revoked key still accepted');
    const list = JSON.parse(cli('list', '--json').out);
    // Listed by creation time in whole seconds, ties by random id: compare without the order.
    const byName = (a, b) => a[0].localeCompare(b[0]);
    assert.deepEqual(list.map((k) => [k.name, k.revoked]).sort(byName), [['second', true], ['shared', false]]);
  });

  test('redis unreachable: on_error open admits, closed answers 503; both log and count it', async () => {
    const unlimited = cli('create', '--name', 'down', '--usd-per-day', '100').out.trim();
    for (const gw of [gwOpen, gwClosed])
      assert.ok(await waitFor(async () => (await chat(gw, unlimited)).status === 200, 5000));
    await redis.stop();
    const open = await chat(gwOpen, unlimited);
    assert.equal(open.status, 200, open.body);
    const closed = await chat(gwClosed, unlimited);
    assert.equal(closed.status, 503, closed.body);
    assert.match(JSON.parse(closed.body).error.message, /limits store \(redis\) is unreachable/);
    // Keys stay valid from the table already loaded; bad keys are still refused.
    assert.equal((await chat(gwOpen, null)).status, 401);
    const t0 = Date.now();
    for (let i = 0; i < 20; ++i) assert.equal((await chat(gwOpen, unlimited)).status, 200);
    assert.ok(Date.now() - t0 < 5000, 'requests slowed down by a dead redis');
    assert.ok(await waitFor(() => /limits: redis backend error/.test(gwOpen.output()), 3000), gwOpen.output());
    assert.ok(await waitFor(() => /limits: redis backend error/.test(gwClosed.output()), 3000));
    const mOpen = await (await fetch(`http://127.0.0.1:${gwOpen.port}/metrics`)).text();
    const mClosed = await (await fetch(`http://127.0.0.1:${gwClosed.port}/metrics`)).text();
    assert.ok(metric(mOpen, 'rightsize_limits_failed_open_total') >= 21, mOpen);
    assert.ok(metric(mOpen, 'rightsize_limits_backend_errors_total') >= 21);
    assert.ok(metric(mClosed, 'rightsize_limits_failed_closed_total') >= 1);
  });
});
