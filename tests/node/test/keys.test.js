// Virtual keys end to end (limits.kind: memory, keys in a file): the gateway is open until a key
// exists, then 401 without, with a bad or with a revoked key; `rightsize keys create|list|revoke`
// and the admin HTTP API (RIGHTSIZE_ADMIN_KEY) manage them; keys never appear in logs, in the keys
// file or in listings; the ledger records the key id.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

const ADMIN = 'admin-' + Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);

function cli(args) {
  const r = spawnSync(gatewayBinary(), args, { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('virtual keys (memory limits, keys file)', () => {
  let dir, mock, gw, configPath, db, keysFile;
  const secrets = [];

  const chat = (key, extra = {}) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...extra },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }),
    });
  const admin = (method, path, body, token = ADMIN) =>
    fetch(`http://127.0.0.1:${gw.port}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-keys-'));
    db = join(dir, 'ledger.db');
    keysFile = join(dir, 'keys.json');
    mock = await startMock();
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
ledger: {kind: sqlite, path: "${db}"}
limits: {kind: memory, keys_file: "${keysFile}"}
`;
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml);
    process.env.RIGHTSIZE_ADMIN_KEY = ADMIN;
    gw = await startGateway(yaml);
    delete process.env.RIGHTSIZE_ADMIN_KEY;
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('with no key configured the gateway is open', async () => {
    const res = await chat(null);
    assert.equal(res.status, 200);
  });

  let alice, aliceId;
  test('keys create prints a key once; from then on a request without a key is a 401', async () => {
    const r = cli(['keys', 'create', '--config', configPath, '--name', 'alice', '--rpm', '1000']);
    assert.equal(r.code, 0, r.err);
    alice = r.out.trim();
    secrets.push(alice);
    assert.match(alice, /^rsk_[0-9a-f]{12}_[0-9a-f]{64}$/);
    aliceId = alice.slice(4, 16);
    assert.match(r.err, new RegExp(`created key ${aliceId}`));
    // The running gateway reloads the keys file within a second.
    const status = await waitFor(async () => (await chat(null)).status === 401, 5000);
    assert.ok(status, 'no 401 within 5 s of creating a key');
    const res = await chat(null);
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.equal(body.error.type, 'authentication_error');
    assert.match(body.error.message, /Authorization: Bearer/);
  });

  test('a valid key is accepted (Bearer or x-api-key), and the ledger records its id', async () => {
    const res = await chat(alice, { 'x-request-id': 'keys-test-alice-1' });
    assert.equal(res.status, 200, await res.clone().text());
    const res2 = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': alice },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res2.status, 200);
    const row = await waitFor(() => {
      try {
        return execFileSync('sqlite3', ['-readonly', db, "SELECT key_id FROM requests WHERE request_id = 'keys-test-alice-1'"],
          { encoding: 'utf8' }).trim();
      } catch { return ''; }
    }, 5000);
    assert.equal(row, aliceId);
  });

  test('Anthropic clients (/v1/messages, x-api-key) are checked the same way, with Anthropic error bodies', async () => {
    const messages = (key) =>
      fetch(`${gw.baseURL}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}) },
        body: JSON.stringify({ model: 'small', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
      });
    const ok = await messages(alice);
    assert.equal(ok.status, 200, await ok.clone().text());
    for (const k of [null, alice.slice(0, -1) + (alice.endsWith('0') ? '1' : '0')]) {
      const res = await messages(k);
      assert.equal(res.status, 401);
      const body = await res.json();
      assert.equal(body.type, 'error');
      assert.equal(body.error.type, 'authentication_error');
    }
  });

  test('bad keys are 401: wrong secret, malformed, unknown id', async () => {
    const wrongSecret = alice.slice(0, -1) + (alice.endsWith('0') ? '1' : '0');
    for (const k of [wrongSecret, 'sk-not-a-rightsize-key', 'rsk_000000000000_' + '0'.repeat(64)]) {
      const res = await chat(k);
      assert.equal(res.status, 401, k);
      assert.equal((await res.json()).error.type, 'authentication_error');
    }
  });

  test('keys list shows ids, names and limits but never a key; the keys file holds only hashes', () => {
    const r = cli(['keys', 'list', '--config', configPath]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`${aliceId}\\s+alice\\s+active`));
    assert.match(r.out, /1000 req\/min/);
    const j = JSON.parse(cli(['keys', 'list', '--config', configPath, '--json']).out);
    assert.equal(j.length, 1);
    assert.equal(j[0].id, aliceId);
    assert.equal(j[0].limits.requests_per_minute, 1000);
    assert.equal(j[0].hash, undefined);
    const file = readFileSync(keysFile, 'utf8');
    assert.ok(!file.includes(alice.slice(17)), 'the secret is in the keys file');
    assert.ok(file.includes(aliceId));
  });

  test('keys revoke: the key gets 401 within a second; unknown id is an error', async () => {
    const r = cli(['keys', 'revoke', '--config', configPath, aliceId]);
    assert.equal(r.code, 0, r.err);
    const revoked = await waitFor(async () => (await chat(alice)).status === 401, 5000);
    assert.ok(revoked, 'revoked key still accepted after 5 s');
    const body = await (await chat(alice)).json();
    assert.match(body.error.message, /revoked/);
    const bad = cli(['keys', 'revoke', '--config', configPath, 'ffffffffffff']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /no key with id ffffffffffff/);
    // A revoked key still keeps the gateway closed.
    assert.equal((await chat(null)).status, 401);
  });

  test('CLI rejects bad limits', () => {
    const r = cli(['keys', 'create', '--config', configPath, '--name', 'x', '--usd-per-day', '-1']);
    assert.notEqual(r.code, 0);
  });

  test('admin API: needs the admin key', async () => {
    assert.equal((await admin('GET', '/admin/keys', undefined, null)).status, 401);
    assert.equal((await admin('GET', '/admin/keys', undefined, 'wrong')).status, 401);
    assert.equal((await admin('GET', '/admin/keys', undefined, alice)).status, 401);
  });

  test('admin API: create, use, list, get, revoke', async () => {
    const created = await admin('POST', '/admin/keys', { name: 'bob', usd_per_day: 5, requests_per_minute: 100 });
    assert.equal(created.status, 201);
    const k = await created.json();
    secrets.push(k.key);
    assert.match(k.key, /^rsk_[0-9a-f]{12}_[0-9a-f]{64}$/);
    assert.equal(k.name, 'bob');
    assert.equal(k.limits.usd_per_day, 5);
    assert.equal(k.limits.requests_per_minute, 100);
    // Usable at once on this gateway.
    assert.equal((await chat(k.key)).status, 200);

    const list = await (await admin('GET', '/admin/keys')).json();
    assert.deepEqual(list.data.map((x) => x.name).sort(), ['alice', 'bob']);
    for (const x of list.data) {
      assert.equal(x.key, undefined);
      assert.equal(x.hash, undefined);
      assert.equal(x.salt, undefined);
    }
    const one = await (await admin('GET', `/admin/keys/${k.id}`)).json();
    assert.equal(one.revoked, false);

    const del = await admin('DELETE', `/admin/keys/${k.id}`);
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { id: k.id, revoked: true });
    assert.equal((await chat(k.key)).status, 401);
    assert.equal((await admin('DELETE', '/admin/keys/ffffffffffff')).status, 404);
    // The CLI sees the admin's key too (same store).
    assert.match(cli(['keys', 'list', '--config', configPath]).out, new RegExp(`${k.id}\\s+bob\\s+revoked`));
  });

  test('admin API: bad bodies are 400 naming the problem', async () => {
    for (const [body, re] of [[{}, /name/], [{ name: 'x', rpm: 1 }, /unknown field 'rpm'/],
      [{ name: 'x', usd_per_day: -2 }, /usd_per_day/]]) {
      const res = await admin('POST', '/admin/keys', body);
      assert.equal(res.status, 400);
      assert.match((await res.json()).error.message, re);
    }
    const res = await fetch(`http://127.0.0.1:${gw.port}/admin/keys`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN}` }, body: '{not json',
    });
    assert.equal(res.status, 400);
    assert.equal((await admin('PUT', '/admin/keys')).status, 405);
  });

  test('no key and not the admin key ever appears in the gateway log', () => {
    const log = gw.output();
    assert.ok(secrets.length >= 2);
    for (const s of secrets) assert.ok(!log.includes(s.slice(17)), 'a key secret is in the log');
    assert.ok(!log.includes(ADMIN), 'the admin key is in the log');
  });
});

describe('admin API without RIGHTSIZE_ADMIN_KEY', () => {
  test('is off (404)', async () => {
    const mock = await startMock();
    delete process.env.RIGHTSIZE_ADMIN_KEY;
    const dir = mkdtempSync(join(tmpdir(), 'rightsize-keys-'));
    const gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1"}
models:
  small: {provider: mock, id: mock-small}
ledger: {kind: off}
limits: {kind: memory, keys_file: "${join(dir, 'keys.json')}"}
`);
    try {
      const res = await fetch(`http://127.0.0.1:${gw.port}/admin/keys`, { headers: { authorization: 'Bearer x' } });
      assert.equal(res.status, 404);
      assert.match((await res.json()).error.message, /RIGHTSIZE_ADMIN_KEY/);
    } finally {
      await gw.stop();
      await mock.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
