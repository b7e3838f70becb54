// Budgets and rate limits per key with the in-memory limiter (limits.kind: memory): 429 with an
// OpenAI rate_limit_error body and a Retry-After header for requests per minute, tokens per minute,
// requests per day and USD per day; USD budgets reserve the estimate before the call and are
// reconciled with the real cost after it (the count of admitted requests proves it).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

describe('limits (memory)', () => {
  let dir, mock, gw, configPath;

  const createKey = (...flags) => {
    const r = spawnSync(gatewayBinary(), ['keys', 'create', '--config', configPath, ...flags], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  const chat = (key, body = {}) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }], ...body }),
    });
  const statuses = async (key, n, body) => {
    const out = [];
    for (let i = 0; i < n; ++i) {
      const res = await chat(key, body);
      out.push(res.status);
      await res.arrayBuffer();
    }
    return out;
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-limits-'));
    mock = await startMock();
    // `small` costs 1 USD per output token and nothing per input token, so the estimate of a request
    // with max_tokens 10 is exactly 10 USD and the real cost of a reply to "hi" ("mock reply to: hi",
    // 4 completion tokens) is exactly 4 USD.
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 0, output_usd_per_mtok: 1000000}
  broken: {provider: mock, id: "mock-small;status=500"}
ledger: {kind: off}
limits: {kind: memory, keys_file: "${join(dir, 'keys.json')}"}
`;
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml);
    gw = await startGateway(yaml);
    // One key exists from the start, so the gateway is closed: a key created by a test is then
    // "loaded" exactly when it stops getting 401 (with no key at all the gateway would be open).
    createKey('--name', 'sentinel');
    assert.ok(await waitFor(async () => (await chat('none')).status === 401, 5000), 'keys file never loaded');
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const waitForKey = async (key) => {
    for (let i = 0; i < 100; ++i) {
      const res = await chat(key, { max_tokens: 1, model: 'small' });
      if (res.status !== 401) return res;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('key never accepted');
  };

  test('requests per minute: the 4th request in a minute is a 429 with Retry-After', async () => {
    // Stay inside one minute window (the gateway and this test share the clock).
    const secs = new Date().getUTCSeconds();
    if (secs > 50) await new Promise((r) => setTimeout(r, (61 - secs) * 1000));
    const key = createKey('--name', 'rpm', '--rpm', '3');
    const first = await waitForKey(key);  // request 1 of 3
    assert.equal(first.status, 200);
    assert.deepEqual(await statuses(key, 2), [200, 200]);
    const res = await chat(key);
    assert.equal(res.status, 429);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    const body = await res.json();
    assert.equal(body.error.type, 'rate_limit_error');
    assert.match(body.error.message, /3 requests per minute/);
  });

  test('USD per day: estimate reserved before, real cost settled after (exactly 4 requests fit 25 USD)', async () => {
    // Reserve 10 (estimate), settle 4 (real): spent 4, 8, 12, 16; the 5th would reach 16 + 10 > 25.
    // Without reconciliation only 2 would fit (10 + 10 + 10 > 25).
    const key = createKey('--name', 'usd', '--usd-per-day', '25');
    let res;
    for (let i = 0; i < 100; ++i) {
      res = await chat(key, { max_tokens: 10 });
      if (res.status !== 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-cost-usd'), '4.0000000000');
    const s = await statuses(key, 5, { max_tokens: 10 });
    assert.deepEqual(s, [200, 200, 200, 429, 429]);
    const refused = await chat(key, { max_tokens: 10 });
    assert.equal(refused.status, 429);
    const retry = Number(refused.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 86400, `Retry-After ${retry}`);
    assert.match((await refused.json()).error.message, /daily budget .* 25 USD per UTC day/);
    // A cheaper request (max_tokens 5: a 5 USD estimate) still fits: 16 + 5 <= 25.
    assert.equal((await chat(key, { max_tokens: 5 })).status, 200);
  });

  test('requests per day counts successful requests only', async () => {
    const key = createKey('--name', 'rpd', '--requests-per-day', '2');
    let res;
    for (let i = 0; i < 100; ++i) {
      res = await chat(key, { model: 'broken' });  // upstream 500: not counted against the budget
      if (res.status !== 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(res.status, 502);
    assert.deepEqual(await statuses(key, 3, { model: 'broken' }), [502, 502, 502]);
    assert.deepEqual(await statuses(key, 3), [200, 200, 429]);
    const refused = await chat(key);
    assert.equal(refused.status, 429);
    assert.match((await refused.json()).error.message, /2 requests per UTC day/);
  });

  test('Anthropic clients get the 429 in Anthropic\'s error shape, with Retry-After', async () => {
    const key = createKey('--name', 'anthropic', '--requests-per-day', '1');
    const messages = () =>
      fetch(`${gw.baseURL}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', 'x-api-key': key },
        body: JSON.stringify({ model: 'small', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
      });
    let res;
    for (let i = 0; i < 100; ++i) {
      res = await messages();
      if (res.status !== 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(res.status, 200, await res.clone().text());
    const refused = await messages();
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    const body = await refused.json();
    assert.equal(body.type, 'error');
    assert.equal(body.error.type, 'rate_limit_error');
    assert.match(body.error.message, /1 requests per UTC day/);
  });

  test('tokens per minute counts the estimate (prompt + max_tokens)', async () => {
    const key = createKey('--name', 'tpm', '--tpm', '25');
    let res;
    for (let i = 0; i < 100; ++i) {
      res = await chat(key, { max_tokens: 30 });  // 1 + 30 > 25: never fits
      if (res.status !== 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(res.status, 429);
    assert.match((await res.json()).error.message, /25 tokens per minute/);
    assert.equal((await chat(key, { max_tokens: 5 })).status, 200);
  });
});
