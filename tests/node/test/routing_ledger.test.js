// What the routing policies leave in the SQLite ledger: a cascade's attempts (model, result, failed
// check, cost) in attempts_detail with every attempt's cost in `cost`, the budget caps applied per
// attempt, and a sensitive request's flag without its prompt (ledger.store_prompts on).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startGateway, startMock } from '../lib/harness.js';

const sql = (db, query) => execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim();

describe('routing policies in the ledger', () => {
  let dir, db, mock, gw;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-routing-ledger-'));
    db = join(dir, 'ledger.db');
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  cloud: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
  local: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", locality: on_prem, retry: {max_attempts: 1}}
models:
  tiny: {provider: cloud, id: "tiny;reply=Paris", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  mid:  {provider: cloud, id: "mid;reply=42", input_usd_per_mtok: 2, output_usd_per_mtok: 2}
  onprem: {provider: local, id: "onprem", input_usd_per_mtok: 0.01, output_usd_per_mtok: 0.01}
routes:
  casc:
    policy: cascade
    candidates: [tiny, mid]
    cascade: {checks: [{kind: regex, pattern: '^\\d+$'}]}
    budget: {max_completion_tokens: 50}
  priv: {policy: fixed, candidates: [onprem]}
ledger: {kind: sqlite, path: "${db}", store_prompts: true}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('cascade attempts, their summed cost, budgets, and no prompt for a sensitive request', async () => {
    const post = (body, headers = {}) =>
      fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': body.id, ...headers },
        body: JSON.stringify({ model: body.model, messages: [{ role: 'user', content: body.content }] }),
      });
    const r1 = await post({ id: 'casc-1', model: 'casc', content: 'how many?' });
    assert.equal(r1.status, 200);
    const headerCost = Number(r1.headers.get('x-rightsize-cost-usd'));
    const r2 = await post({ id: 'priv-1', model: 'priv', content: 'my card 4111 1111 1111 1111' });
    assert.equal(r2.status, 200);
    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;

    const [casc] = JSON.parse(sql(db, "SELECT model, attempts, cost_nanos, attempts_detail FROM requests WHERE request_id='casc-1'"));
    assert.equal(casc.model, 'mid');
    assert.equal(casc.attempts, 2);
    const detail = JSON.parse(casc.attempts_detail);
    assert.deepEqual(detail.map((a) => [a.kind, a.model, a.result]), [['answer', 'tiny', 'regex'], ['answer', 'mid', 'accepted']]);
    for (const a of detail) assert.deepEqual(a.budget, { max_completion_tokens: 50 });
    const sum = detail.reduce((s, a) => s + Number(a.cost_usd), 0);
    assert.ok(Math.abs(casc.cost_nanos / 1e9 - sum) < 1e-9, `${casc.cost_nanos} vs ${sum}`);
    assert.ok(Math.abs(casc.cost_nanos / 1e9 - headerCost) < 1e-9);

    const [priv] = JSON.parse(sql(db, "SELECT sensitive, prompt, model FROM requests WHERE request_id='priv-1'"));
    assert.equal(priv.sensitive, 1);
    assert.equal(priv.model, 'onprem');
    assert.equal(priv.prompt, null, 'a sensitive prompt is never stored');
  });
});
