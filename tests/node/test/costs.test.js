// Costs with prompt caching, reasoning and missing usage, end to end: the mock upstreams report
// cached / cache-written / reasoning tokens (or none), and the gateway's cost headers, the SQLite
// ledger and `rightsize report --json` must all equal values computed here by hand (docs/costs.md).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

import { gatewayBinary, startGateway, startMock } from '../lib/harness.js';

const sql = (db, query) => execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim();

// The mock's usage: prompt_tokens = ceil(code points of all message contents / 4); completion
// tokens = words of the reply (+ reasoning=N). 'abcdefghijklmnopqrstuvwxyz0123456789abcd' = 40
// chars = 10 prompt tokens; reply=one%20two%20three = 3 words.
const PROMPT = 'abcdefghijklmnopqrstuvwxyz0123456789abcd';
const PROMPT_TOKENS = 10;

describe('costs with prompt caching, reasoning and missing usage', () => {
  let dir, db, mock, gw, openai, anthropic;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-costs-'));
    db = join(dir, 'ledger.db');
    mock = await startMock();
    // Prices in USD per million tokens, chosen so every cost is a whole number of nano-dollars.
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  oai: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
  claude: {kind: anthropic, base_url: "http://127.0.0.1:${mock.port}", api_key: "sk-ant-upstream", retry: {max_attempts: 1}}
models:
  cached-oai: {provider: oai, id: "m;reply=one%20two%20three;cached=8;reasoning=2",
               input_usd_per_mtok: 2, cached_input_usd_per_mtok: 0.5, output_usd_per_mtok: 10}
  sonnet: {provider: claude, id: "claude-x;cache_read=900;cache_write=50",
           input_usd_per_mtok: 3, cached_input_usd_per_mtok: 0.3, cache_write_usd_per_mtok: 3.75, output_usd_per_mtok: 15}
  quiet-model: {provider: oai, id: "q;reply=a%20b%20c%20d;no_usage=1", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  ref: {provider: oai, id: "ref", input_usd_per_mtok: 4, output_usd_per_mtok: 20}
routes:
  cached: {policy: fixed, candidates: [cached-oai], reference: ref}
  claude: {policy: fixed, candidates: [sonnet], reference: ref}
  quiet: {policy: fixed, candidates: [quiet-model]}
ledger: {kind: sqlite, path: "${db}"}
`);
    openai = new OpenAI({ baseURL: gw.baseURL, apiKey: 'unused', maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ''), apiKey: 'unused', maxRetries: 0 });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('OpenAI cached and reasoning tokens: each category at its price, details passed on', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'cached', messages: [{ role: 'user', content: PROMPT }] }, { headers: { 'x-request-id': 'c-1' } })
      .withResponse();
    // 10 prompt tokens, 8 of them cached; 3 words + 2 reasoning = 5 completion tokens.
    assert.equal(data.usage.prompt_tokens, PROMPT_TOKENS);
    assert.equal(data.usage.prompt_tokens_details.cached_tokens, 8);
    assert.equal(data.usage.completion_tokens, 5);
    assert.equal(data.usage.completion_tokens_details.reasoning_tokens, 2);
    // 2 × $2 + 8 × $0.50 + 5 × $10 = 4 + 4 + 50 = 58 µ$ per Mtok-unit → $0.000058.
    assert.equal(response.headers.get('x-rightsize-cost-usd'), '0.0000580000');
    // The reference (no cache discount configured: cached at its input price): 10 × $4 + 5 × $20 = 140.
    assert.equal(response.headers.get('x-rightsize-reference-cost-usd'), '0.0001400000');
  });

  test('Anthropic cache reads and writes: OpenAI client sees all input tokens and the cached share', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'claude', messages: [{ role: 'user', content: PROMPT }] }, { headers: { 'x-request-id': 'a-1' } })
      .withResponse();
    // Anthropic input_tokens = 10 (the mock's count), cache_read 900, cache_creation 50.
    assert.equal(data.usage.prompt_tokens, 960);
    assert.equal(data.usage.prompt_tokens_details.cached_tokens, 900);
    const out = data.usage.completion_tokens;
    assert.ok(out > 0);
    // 10 × $3 + 900 × $0.30 + 50 × $3.75 + out × $15 = 30 + 270 + 187.5 + 15·out µ$.
    const nanos = 30_000 + 270_000 + 187_500 + 15_000 * out;
    assert.equal(response.headers.get('x-rightsize-cost-usd'), (nanos / 1e9).toFixed(10));
  });

  test('Anthropic client of an Anthropic model: cache fields round-trip', async () => {
    const msg = await anthropic.messages.create(
      { model: 'claude', max_tokens: 50, messages: [{ role: 'user', content: PROMPT }] },
      { headers: { 'x-request-id': 'a-2' } },
    );
    assert.equal(msg.usage.input_tokens, 10);
    assert.equal(msg.usage.cache_read_input_tokens, 900);
    assert.equal(msg.usage.cache_creation_input_tokens, 50);
  });

  test('a stream without usage is estimated, marked and counted', async () => {
    const stream = await openai.chat.completions.create(
      { model: 'quiet', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: PROMPT }] },
      { headers: { 'x-request-id': 'q-1' } },
    );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'a b c d');
    const metrics = await (await fetch(`${gw.baseURL.replace(/\/v1$/, '')}/metrics`)).text();
    assert.match(metrics, /rightsize_usage_estimated_total\{model="quiet-model"\} 1/);
  });

  test('the ledger and the report hold the same numbers', async () => {
    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;
    const rows = Object.fromEntries(
      JSON.parse(sql(db, 'SELECT request_id, tokens_in, tokens_out, cached_tokens, cache_write_tokens, reasoning_tokens, ' +
                         'usage_estimated, cost_nanos, reference_cost_nanos FROM requests')).map((r) => [r.request_id, r]));
    assert.deepEqual(rows['c-1'], {
      request_id: 'c-1', tokens_in: 10, tokens_out: 5, cached_tokens: 8, cache_write_tokens: 0, reasoning_tokens: 2,
      usage_estimated: 0, cost_nanos: 58_000, reference_cost_nanos: 140_000,
    });
    const a1 = rows['a-1'];
    assert.equal(a1.tokens_in, 960);
    assert.equal(a1.cached_tokens, 900);
    assert.equal(a1.cache_write_tokens, 50);
    assert.equal(a1.cost_nanos, 30_000 + 270_000 + 187_500 + 15_000 * a1.tokens_out);
    assert.equal(rows['q-1'].usage_estimated, 1);
    // Estimated: 10 prompt tokens (40 chars / 4) at $1 + one token per streamed chunk at $1.
    assert.equal(rows['q-1'].cost_nanos, (rows['q-1'].tokens_in + rows['q-1'].tokens_out) * 1000);

    const report = JSON.parse(execFileSync(gatewayBinary(), ['report', '--db', db, '--by', 'route', '--json'],
                                           { encoding: 'utf8' }));
    const byRoute = Object.fromEntries(report.groups.map((g) => [g.group, g]));
    assert.equal(byRoute.cached.cached_tokens, 8);
    assert.equal(byRoute.cached.reasoning_tokens, 2);
    assert.equal(byRoute.cached.cache_hit_rate, 0.8);
    assert.equal(byRoute.cached.spend_usd, 0.000058);
    assert.equal(byRoute.claude.cache_write_tokens, 100);  // a-1 and a-2
    assert.equal(byRoute.quiet.usage_estimated, 1);
    assert.equal(report.total.cached_tokens, 8 + 900 + 900);
  });
});
