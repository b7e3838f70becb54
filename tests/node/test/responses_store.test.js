// Stored responses of POST /v1/responses (store, previous_response_id, GET/DELETE
// /v1/responses/{id}) in the ledger's database, driven by the official openai SDK: SQLite with two
// virtual keys (a response is only ever readable with the key that made it), a sensitive request
// whose content never reaches the database, and PostgreSQL shared by two replicas (one answers,
// the other continues the conversation).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/); the PostgreSQL part
// needs PostgreSQL 15 (tests/node/lib/postgres.js).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

import { gatewayBinary, mockReplyTo, startGateway, startMock, waitFor } from '../lib/harness.js';
import { startPostgres } from '../lib/postgres.js';

const models = (mockPort) => `
providers:
  mock:   {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream", retry: {max_attempts: 1}, locality: on_prem}
  claude: {kind: anthropic, base_url: "http://127.0.0.1:${mockPort}", api_key: "sk-ant-upstream"}
models:
  small: {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  haiku: {provider: claude, id: "claude-mock", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
privacy: {pii_detection: false}
`;

// The upstream's messages as [role, text] pairs (text parts joined; tool calls by name).
const turns = (last) =>
  JSON.parse(last.body).messages.map((m) => [
    m.role,
    typeof m.content === 'string' ? m.content : m.content === null ? `calls:${m.tool_calls.map((c) => c.function.name)}` : m.content.map((p) => p.text).join(''),
  ]);

describe('stored responses (SQLite ledger, two keys)', () => {
  let dir, mock, gw, a, b, keyA, keyB, dbPath;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-resp-store-'));
    mock = await startMock();
    dbPath = join(dir, 'ledger.db');
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
${models(mock.port)}
ledger: {kind: sqlite, path: "${dbPath}"}
limits: {kind: memory, keys_file: "${join(dir, 'keys.json')}"}
`;
    const configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml);
    const create = (name) => {
      const r = spawnSync(gatewayBinary(), ['keys', 'create', '--config', configPath, '--name', name], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim();
    };
    keyA = create('team-a');
    keyB = create('team-b');
    gw = await startGateway(yaml);
    a = new OpenAI({ apiKey: keyA, baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 });
    b = new OpenAI({ apiKey: keyB, baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await mock.reset();
  });

  test('previous_response_id continues the stored conversation; instructions are not carried over', async () => {
    const first = await a.responses.create({ model: 'small', instructions: 'Answer in French.', input: 'What is the capital of Italy?' });
    assert.equal(first.output_text, mockReplyTo('What is the capital of Italy?'));
    const second = await a.responses.create({ model: 'small', previous_response_id: first.id, input: 'And of Spain?' });
    assert.equal(second.output_text, mockReplyTo('And of Spain?'));
    assert.equal(first.store, true);
    assert.equal(first.previous_response_id, null);
    assert.equal(second.previous_response_id, first.id);
    assert.deepEqual(turns(await mock.last()), [
      ['user', 'What is the capital of Italy?'],
      ['assistant', first.output_text],
      ['user', 'And of Spain?'],
    ]);
    // A chain: the third turn sees both earlier ones, with its own instructions first.
    const third = await a.responses.create({ model: 'small', previous_response_id: second.id, instructions: 'Be brief.', input: 'And Peru?', stream: true });
    let completed;
    for await (const ev of third) if (ev.type === 'response.completed') completed = ev.response;
    assert.equal(completed.output[0].content[0].text, mockReplyTo('And Peru?'));
    assert.equal(completed.previous_response_id, second.id);
    assert.equal(completed.store, true);
    assert.deepEqual(turns(await mock.last()).map(([role]) => role), ['system', 'user', 'assistant', 'user', 'assistant', 'user']);
    // A streamed answer is stored too.
    const fourth = await a.responses.create({ model: 'small', previous_response_id: completed.id, input: 'Thanks' });
    assert.equal(turns(await mock.last()).length, 7);
    assert.equal(fourth.status, 'completed');
  });

  test('function tool round trip: the second turn sends only the function_call_output', async () => {
    const tools = [{ type: 'function', name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { query: { type: 'string' } } }, strict: false }];
    const first = await a.responses.create({ model: 'haiku', max_output_tokens: 200, tools, input: 'capital of France' });
    const call = first.output.find((i) => i.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    const second = await a.responses.create({
      model: 'haiku',
      max_output_tokens: 200,
      tools,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'Paris' }],
    });
    assert.equal(second.output_text, 'tool results: Paris');
  });

  test('GET and DELETE /v1/responses/{id}: only for the key that made it', async () => {
    const r = await a.responses.create({ model: 'small', input: 'keep me' });
    const got = await a.responses.retrieve(r.id);
    assert.equal(got.id, r.id);
    assert.equal(got.output_text, mockReplyTo('keep me'));
    await assert.rejects(b.responses.retrieve(r.id), (e) => e.status === 404);
    await assert.rejects(b.responses.delete(r.id), (e) => e.status === 404);
    // Another key cannot continue it either, and cannot tell it from an unknown id.
    const other = await fetch(`${gw.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyB}` },
      body: JSON.stringify({ model: 'small', previous_response_id: r.id, input: 'steal' }),
    });
    assert.equal(other.status, 404);
    const body = await other.json();
    assert.equal(body.error.param, 'previous_response_id');
    assert.match(body.error.message, /no response 'resp_/);
    await assert.rejects(a.responses.create({ model: 'small', previous_response_id: 'resp_doesnotexist', input: 'x' }), (e) => e.status === 404);
    assert.equal((await mock.stats()).count, 1, 'refused requests never reach the upstream');
    // Without a key: 401 before anything else.
    const anon = await fetch(`${gw.baseURL}/responses/${r.id}`);
    assert.equal(anon.status, 401);

    await a.responses.delete(r.id);
    await assert.rejects(a.responses.retrieve(r.id), (e) => e.status === 404);
    await assert.rejects(a.responses.create({ model: 'small', previous_response_id: r.id, input: 'x' }), (e) => e.status === 404);
  });

  test('store: false keeps nothing; a sensitive request keeps no content in the database', async () => {
    const unstored = await a.responses.create({ model: 'small', input: 'forget me', store: false });
    assert.equal(unstored.store, false);
    await assert.rejects(a.responses.retrieve(unstored.id), (e) => e.status === 404);

    const secret = 'my card is 4111 1111 1111 1111 zebra-canary';
    const sensitive = await a.responses.create({ model: 'small', input: secret }, { headers: { 'x-rightsize-sensitive': '1' } });
    assert.equal(sensitive.status, 'completed');
    await assert.rejects(a.responses.retrieve(sensitive.id), (e) => e.status === 404);
    const follow = await fetch(`${gw.baseURL}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keyA}` },
      body: JSON.stringify({ model: 'small', previous_response_id: sensitive.id, input: 'more' }),
    });
    assert.equal(follow.status, 400);
    assert.match((await follow.json()).error.message, /was sensitive, so its content was not stored/);
    // Neither the database nor its WAL holds the sensitive text (the request is recorded, without it).
    const metrics = await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text();
    const stored = Number(/^rightsize_responses_stored_total (\d+)/m.exec(metrics)[1]);
    assert.ok(stored >= 1, metrics);
    assert.match(metrics, /^rightsize_responses_not_found_total [1-9]/m);
    for (const f of [dbPath, `${dbPath}-wal`]) {
      if (existsSync(f)) assert.equal(readFileSync(f).includes('zebra-canary'), false, `${f} holds the sensitive text`);
    }
    assert.ok(readFileSync(`${dbPath}-wal`).includes(sensitive.id) || readFileSync(dbPath).includes(sensitive.id),
      'the sensitive response is recorded (without content)');
  });
});

describe('stored responses shared by two replicas (PostgreSQL ledger)', { timeout: 120000 }, () => {
  let mock, pg, gws = [];

  before(async () => {
    [mock, pg] = await Promise.all([startMock(), startPostgres()]);
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 1}
${models(mock.port)}
ledger: {kind: postgres, dsn: "${pg.url}", response_retention_days: 7}
`;
    gws.push(await startGateway(yaml));
    gws.push(await startGateway(yaml));
  });
  after(async () => {
    for (const g of gws) await g.stop();
    await mock?.stop();
    await pg?.stop();
  });

  test('a response answered by one replica is continued by the other', async () => {
    const [one, two] = gws.map((g) => new OpenAI({ apiKey: 'sk-open', baseURL: g.baseURL, maxRetries: 0, timeout: 10000 }));
    const first = await one.responses.create({ model: 'small', input: 'Name a prime number.' });
    // The write is queued on replica one's store thread: visible to replica two within moments.
    assert.ok(await waitFor(async () => (await fetch(`${gws[1].baseURL}/responses/${first.id}`)).status === 200, 5000));
    const second = await two.responses.create({ model: 'small', previous_response_id: first.id, input: 'Another one.' });
    assert.equal(second.output_text, mockReplyTo('Another one.'));
    assert.deepEqual(turns(await mock.last()), [
      ['user', 'Name a prime number.'],
      ['assistant', first.output_text],
      ['user', 'Another one.'],
    ]);
    await two.responses.delete(first.id);
    await assert.rejects(one.responses.retrieve(first.id), (e) => e.status === 404);
  });
});
