// POST /v1/embeddings through the gateway with the official openai client (client.embeddings.create),
// rs_mock_upstream as the upstream: vectors relayed as they are (floats or base64), fallbacks on a fixed
// route, the cost header and the ledger row, and what is refused (unknown model, routes that choose a
// model per request, a provider kind without embeddings, bad bodies, sensitive input to remote models).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';

import { gatewayBinary, startGateway, startMock } from '../lib/harness.js';

const sql = (db, query) => execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim();

// A tiny router for the learned route: training data over the two chat models' ids.
function outcomesFile(dir) {
  const lines = [];
  for (let i = 0; i < 160; i++)
    lines.push({ id: `s${i}`, prompt: i % 2 ? `prove the theorem number ${i}` : `weather in town ${i}`,
      outcomes: { 'mock-small': { score: i % 2 ? 0 : 1, cost_usd: 0.0001 }, 'mock-large': { score: 1, cost_usd: 0.01 } } });
  const path = join(dir, 'outcomes.jsonl');
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

// ceil(code points / 4) per input, summed: what the mock reports as usage.prompt_tokens.
const mockTokens = (inputs) => inputs.reduce((s, t) => s + Math.ceil([...t].length / 4), 0);

describe('POST /v1/embeddings', () => {
  let dir, db, mock, gw, client;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-embeddings-'));
    db = join(dir, 'ledger.db');
    const router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', outcomesFile(dir), '--out', router], { encoding: 'utf8' });
    assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  cloud:  {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
  local:  {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", locality: on_prem, retry: {max_attempts: 1}}
  claude: {kind: anthropic, base_url: "http://127.0.0.1:${mock.port}", api_key: "sk-ant"}
models:
  emb:       {provider: cloud, id: "emb-a", input_usd_per_mtok: 2, output_usd_per_mtok: 0}
  emb-fail:  {provider: cloud, id: "emb-a;status=500", input_usd_per_mtok: 2, output_usd_per_mtok: 0}
  emb-b:     {provider: cloud, id: "emb-b", input_usd_per_mtok: 3, output_usd_per_mtok: 0}
  emb-bad:   {provider: cloud, id: "emb-a;status=400", input_usd_per_mtok: 2, output_usd_per_mtok: 0}
  emb-local: {provider: local, id: "emb-local", input_usd_per_mtok: 1, output_usd_per_mtok: 0}
  small:     {provider: cloud, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  big:       {provider: cloud, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  sonnet:    {provider: claude, id: "claude-x", input_usd_per_mtok: 3, output_usd_per_mtok: 15}
routes:
  vectors:   {policy: fixed, candidates: [emb-fail, emb-b]}
  badfirst:  {policy: fixed, candidates: [emb-bad, emb-b]}
  smart:     {policy: learned, candidates: [small, big], router: "${router}", quality: 0.95, reference: big}
  casc:      {policy: cascade, candidates: [small, big], cascade: {checks: [{kind: regex, pattern: '^x$'}]}}
  anth:      {policy: fixed, candidates: [sonnet]}
ledger: {kind: sqlite, path: "${db}"}
`);
    client = new OpenAI({ apiKey: 'sk-client', baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (body, headers = {}) =>
    fetch(`${gw.baseURL}/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  test('a single string, as floats: the vector, usage, model and the cost header', async () => {
    const input = 'hello world';
    const { data, response } = await client.embeddings
      .create({ model: 'emb', input, encoding_format: 'float' }, { headers: { 'x-request-id': 'emb-single' } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'list');
    assert.equal(data.model, 'emb-a');
    assert.equal(data.data.length, 1);
    assert.equal(data.data[0].object, 'embedding');
    assert.equal(data.data[0].index, 0);
    assert.equal(data.data[0].embedding.length, 8);
    for (const v of data.data[0].embedding) assert.ok(v >= -1 && v < 1);
    assert.deepEqual(data.usage, { prompt_tokens: mockTokens([input]), total_tokens: mockTokens([input]) });
    assert.equal(response.headers.get('x-rightsize-model'), 'emb');
    assert.equal(response.headers.get('x-rightsize-attempts'), '1');
    // prompt_tokens x $2 per million tokens, nothing for output.
    assert.equal(Number(response.headers.get('x-rightsize-cost-usd')), (mockTokens([input]) * 2) / 1e6);
    const last = await mock.last();
    assert.equal(JSON.parse(last.body).model, 'emb-a', 'the model id is what goes upstream');
  });

  test('a batch of strings with dimensions; the same input gives the same vector', async () => {
    const inputs = ['alpha', 'beta gamma', 'alpha'];
    const res = await client.embeddings.create({ model: 'emb', input: inputs, dimensions: 3, encoding_format: 'float' });
    assert.deepEqual(res.data.map((d) => d.index), [0, 1, 2]);
    for (const d of res.data) assert.equal(d.embedding.length, 3);
    assert.deepEqual(res.data[0].embedding, res.data[2].embedding);
    assert.notDeepEqual(res.data[0].embedding, res.data[1].embedding);
    assert.equal(res.usage.prompt_tokens, mockTokens(inputs));
    assert.equal(JSON.parse((await mock.last()).body).dimensions, 3);
  });

  test('base64: the SDK default is relayed untouched and decodes to the float vector', async () => {
    const input = 'the same text';
    const floats = await client.embeddings.create({ model: 'emb', input, encoding_format: 'float' });
    // Without encoding_format the SDK asks for base64 and decodes it to numbers itself.
    const decoded = await client.embeddings.create({ model: 'emb', input });
    assert.equal(JSON.parse((await mock.last()).body).encoding_format, 'base64');
    assert.deepEqual(decoded.data[0].embedding, floats.data[0].embedding.map(Math.fround));
    // Asked for explicitly, the client gets the upstream's base64 string as it is.
    const raw = await client.embeddings.create({ model: 'emb', input, encoding_format: 'base64' });
    assert.equal(typeof raw.data[0].embedding, 'string');
    const bytes = Buffer.from(raw.data[0].embedding, 'base64');
    const f32 = [];
    for (let i = 0; i < bytes.length; i += 4) f32.push(bytes.readFloatLE(i));
    assert.deepEqual(f32, decoded.data[0].embedding);
  });

  test('a fixed route falls back to its next candidate when the first fails with 500', async () => {
    const { data, response } = await client.embeddings
      .create({ model: 'vectors', input: 'fall back please', encoding_format: 'float' },
        { headers: { 'x-request-id': 'emb-fallback' } })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-rightsize-attempts'), '2');
    assert.equal(response.headers.get('x-rightsize-model'), 'emb-b');
    assert.equal(response.headers.get('x-rightsize-route'), 'vectors');
    assert.equal(data.model, 'emb-b');
    assert.equal(Number(response.headers.get('x-rightsize-cost-usd')), (mockTokens(['fall back please']) * 3) / 1e6);
  });

  test('an upstream 400 is returned as it is, without trying the next candidate', async () => {
    const res = await post({ model: 'badfirst', input: 'x' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('x-rightsize-attempts'), '1');
    assert.match((await res.json()).error.message, /mock error 400/);
  });

  test('unknown models and routes that choose a model per request are refused', async () => {
    await assert.rejects(client.embeddings.create({ model: 'nope', input: 'x' }), (e) => e.status === 404);
    for (const [route, policy] of [['smart', 'learned'], ['casc', 'cascade']]) {
      const res = await post({ model: route, input: 'x' });
      assert.equal(res.status, 400, route);
      const { error } = await res.json();
      assert.match(error.message, new RegExp(`route '${route}' uses policy '${policy}'`));
      assert.match(error.message, /not comparable/);
    }
    const anth = await post({ model: 'anth', input: 'x' });
    assert.equal(anth.status, 400);
    assert.match((await anth.json()).error.message, /provider kind anthropic has no embeddings endpoint/);
  });

  test('malformed or invalid bodies are a clear 400', async () => {
    for (const [body, pattern] of [
      ['{"model":"emb","input":', /not valid JSON/],
      [{ model: 'emb' }, /input: required/],
      [{ model: 'emb', input: [] }, /empty array/],
      [{ model: 'emb', input: [1, 'a'] }, /token/],
      [{ model: 'emb', input: 'x', encoding_format: 'int8' }, /encoding_format/],
      [{ model: 'emb', input: Array(2049).fill('a') }, /at most 2048/],
    ]) {
      const res = await post(body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 60));
      assert.match((await res.json()).error.message, pattern);
    }
    const get = await fetch(`${gw.baseURL}/embeddings`);
    assert.equal(get.status, 405);
  });

  test('sensitive input reaches only on-prem models: 403 for a remote-only model', async () => {
    const flagged = await post({ model: 'emb', input: 'nothing personal' }, { 'x-rightsize-sensitive': '1' });
    assert.equal(flagged.status, 403);
    const pii = await post({ model: 'emb', input: ['fine', 'my card 4111 1111 1111 1111'] });
    assert.equal(pii.status, 403);
    const local = await post({ model: 'emb-local', input: 'my card 4111 1111 1111 1111' },
      { 'x-request-id': 'emb-sensitive' });
    assert.equal(local.status, 200);
    assert.equal(local.headers.get('x-rightsize-model'), 'emb-local');
  });

  test('the ledger rows: route, model, tokens, cost and status', async () => {
    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;
    const rows = JSON.parse(sql(db, "SELECT request_id, route, model, tokens_in, tokens_out, cost_nanos, status, attempts, " +
      "sensitive, latency_us FROM requests WHERE request_id IN ('emb-single','emb-fallback','emb-sensitive') ORDER BY request_id"));
    const byId = Object.fromEntries(rows.map((r) => [r.request_id, r]));
    const single = byId['emb-single'];
    assert.deepEqual([single.route, single.model, single.status, single.tokens_out], ['emb', 'emb', 200, 0]);
    assert.equal(single.tokens_in, mockTokens(['hello world']));
    assert.equal(single.cost_nanos, mockTokens(['hello world']) * 2000);  // $2/Mtok = 2000 nano-dollars a token
    assert.ok(single.latency_us >= 0);
    const fb = byId['emb-fallback'];
    assert.deepEqual([fb.route, fb.model, fb.attempts, fb.status], ['vectors', 'emb-b', 2, 200]);
    assert.equal(fb.cost_nanos, mockTokens(['fall back please']) * 3000);
    assert.equal(byId['emb-sensitive'].sensitive, 1);
    const refused = JSON.parse(sql(db, "SELECT count(*) AS n FROM requests WHERE status = 403"));
    assert.equal(refused[0].n, 2, 'refused requests are in the ledger too');
  });
});
