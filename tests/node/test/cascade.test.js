// Consensus cascades end to end (docs/cascade.md, issue 12):
// - the shipped example (examples/cascade/run.sh): `rightsize plan` over recorded outcomes, the
//   route appended to the replay config, `serve`, 40 prompts, and the ledger charges per prompt
//   exactly what `simulate --cascade` says (same model sent, same nano-dollars);
// - `rightsize plan` is deterministic (byte-identical file) and refuses outcomes without responses;
// - an agree stage over rs_mock_upstream: a model that never answers is cut off by its provider's
//   first-byte timeout and does not vote while the others' answers are kept; a slow model within
//   its timeout is waited for and its vote counts.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), curl, jq and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock } from '../lib/harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sql = (db, query) => JSON.parse(execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim() || '[]');

describe('examples/cascade: plan -> serve -> ledger', () => {
  const out = mkdtempSync(join(tmpdir(), 'rightsize-cascade-example-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  test('the planned route runs in the gateway and every prompt costs what simulate --cascade says', () => {
    const requests = 40;
    const r = spawnSync('bash', [join(repoRoot, 'examples/cascade/run.sh')], {
      encoding: 'utf8',
      timeout: 240000,  // inside ctest's 300 s for the file
      env: { ...process.env, RIGHTSIZE: gatewayBinary(), OUT_DIR: out, QUALITY: '0.97', REQUESTS: String(requests) },
    });
    assert.equal(r.status, 0, `run.sh failed:\n${r.stderr}\n${r.stdout}`);

    // plan wrote a consensus cascade naming the data's models.
    const routes = readFileSync(join(out, 'routes.yaml'), 'utf8');
    assert.match(routes, /kind: agree, models: \[[^\]]+\], min_votes: \d, extract: "choice"/);
    assert.match(routes, /\{kind: model, model: "gpt-4"\}/);

    const sim = readFileSync(join(out, 'simulate.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(sim.length, 500);
    const sent = sim.slice(0, requests);
    const rows = sql(join(out, 'ledger.db'), 'SELECT request_id, route, model, status, attempts, cost_nanos, attempts_detail FROM requests');
    assert.equal(rows.length, requests);
    const byId = new Map(rows.map((row) => [row.request_id, row]));
    let cheap = 0;
    let escalated = 0;
    for (const s of sent) {
      const row = byId.get(s.id);
      assert.ok(row, `no ledger row for ${s.id}`);
      assert.equal(row.status, 200, s.id);
      assert.equal(row.route, 'auto');
      assert.equal(row.model, s.model, `${s.id}: the gateway sent ${row.model}, simulate ${s.model}`);
      assert.equal(row.cost_nanos, Math.round(s.cost_usd * 1e9), `${s.id}: ledger ${row.cost_nanos} nano-USD, simulate ${s.cost_usd} USD`);
      const detail = JSON.parse(row.attempts_detail);
      assert.equal(detail.length, row.attempts);
      const paid = detail.reduce((sum, a) => sum + Math.round(Number(a.cost_usd) * 1e9), 0);
      assert.equal(paid, row.cost_nanos, `${s.id}: attempts_detail sums to the row's cost`);
      if (s.ended_stage === 1) cheap++;
      else escalated++;
    }
    // Both ways through the route were taken, so both were compared.
    assert.ok(cheap > 0 && escalated > 0, `accepted at the agree stage ${cheap}, escalated ${escalated}`);

    // rightsize report over the same ledger: the total equals simulate's for the prompts sent.
    const rep = JSON.parse(execFileSync(gatewayBinary(), ['report', '--db', join(out, 'ledger.db'), '--json'], { encoding: 'utf8' }));
    assert.equal(rep.total.requests, requests);
    const simNanos = sent.reduce((sum, s) => sum + Math.round(s.cost_usd * 1e9), 0);
    assert.equal(Math.round(rep.total.spend_usd * 1e9), simNanos);
  });
});

describe('rightsize plan from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rightsize-plan-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(repoRoot, 'examples/cascade/data/outcomes.jsonl.gz');
  const plan = (dataPath, out) =>
    spawnSync(gatewayBinary(), ['plan', '--data', dataPath, '--reference', 'gpt-4', '--extract', 'choice', '--quality', '0.95',
      '--out', out], { encoding: 'utf8', timeout: 120000 });

  test('the same data and flags write a byte-identical route file and the same report', () => {
    const a = plan(data, join(dir, 'a.yaml'));
    const b = plan(data, join(dir, 'b.yaml'));
    assert.equal(a.status, 0, a.stderr);
    assert.equal(b.status, 0, b.stderr);
    const ya = readFileSync(join(dir, 'a.yaml'), 'utf8');
    assert.equal(ya, readFileSync(join(dir, 'b.yaml'), 'utf8'));
    assert.match(ya, /kind: agree/);
    assert.equal(a.stderr.replace(/\S*\.yaml/g, ''), b.stderr.replace(/\S*\.yaml/g, ''));
  });

  test('outcomes without responses are refused with a message that says why, and nothing is written', () => {
    const lines = gunzipSync(readFileSync(data)).toString('utf8').trim().split('\n').slice(0, 50).map((l) => {
      const r = JSON.parse(l);
      for (const o of Object.values(r.outcomes)) delete o.response;
      return JSON.stringify(r);
    });
    const bare = join(dir, 'no-responses.jsonl');
    writeFileSync(bare, lines.join('\n') + '\n');
    const out = join(dir, 'refused.yaml');
    const r = plan(bare, out);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /no "response" texts/);
    assert.match(r.stderr, /needs outcomes with responses/);
    assert.ok(!existsSync(out), 'no route file for refused data');
  });
});

describe('an agree stage with a model that hangs and one that is slow', () => {
  let dir, db, mock, gw;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-cascade-slow-'));
    db = join(dir, 'ledger.db');
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock:  {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
  quick: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", first_byte_timeout_ms: 300, retry: {max_attempts: 1}}
models:
  hangs:  {provider: quick, id: "hangs;hang=1", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  slow7:  {provider: mock, id: "slow7;latency_ms=200;reply=7", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  says42: {provider: mock, id: "says42;reply=The%20answer%20is%2042.", input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.2}
  also42: {provider: mock, id: "also42;reply=42", input_usd_per_mtok: 0.3, output_usd_per_mtok: 0.3}
  says7:  {provider: mock, id: "says7;reply=7.0", input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.2}
  says8:  {provider: mock, id: "says8;reply=8", input_usd_per_mtok: 0.3, output_usd_per_mtok: 0.3}
  big:    {provider: mock, id: "big;reply=big%20says%2041", input_usd_per_mtok: 10, output_usd_per_mtok: 10}
routes:
  hang:
    policy: cascade
    candidates: [hangs, says42, also42, big]
    cascade:
      stages:
        - {kind: agree, models: [hangs, says42, also42], min_votes: 2, extract: number}
        - {kind: model, model: big}
  slow:
    policy: cascade
    candidates: [slow7, says7, says8, big]
    cascade:
      stages:
        - {kind: agree, models: [slow7, says7, says8], min_votes: 2, extract: number}
        - {kind: model, model: big}
ledger: {kind: sqlite, path: "${db}"}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ask = (route, id) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ model: route, messages: [{ role: 'user', content: 'What is 6 times 7?' }] }),
      signal: AbortSignal.timeout(30000),  // a cascade waiting on the hung model forever fails here
    });

  test('the hung model is cut off by its timeout and does not vote; the two agreeing answers are kept', async () => {
    const res = await ask('hang', 'hang-1');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-model'), 'says42');
    assert.equal(res.headers.get('x-rightsize-attempts'), '3');  // big was never asked
    assert.equal((await res.json()).choices[0].message.content, 'The answer is 42.');

    const slow = await ask('slow', 'slow-1');
    assert.equal(slow.status, 200);
    // says7 and says8 disagree: only the slow model's vote makes a majority, so it was waited for.
    assert.equal(slow.headers.get('x-rightsize-model'), 'slow7');
    assert.equal(slow.headers.get('x-rightsize-attempts'), '3');
    assert.equal((await slow.json()).choices[0].message.content, '7');

    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;
    const [hang] = sql(db, "SELECT model, attempts, attempts_detail FROM requests WHERE request_id='hang-1'");
    const detail = JSON.parse(hang.attempts_detail);
    const byModel = Object.fromEntries(detail.map((a) => [a.model, a]));
    assert.deepEqual(detail.map((a) => a.model).sort(), ['also42', 'hangs', 'says42']);
    assert.equal(byModel.hangs.result, 'error');
    assert.match(byModel.hangs.detail, /time/i);
    assert.ok(byModel.hangs.latency_ms >= 300, `the hung call ended at its timeout, not before (${byModel.hangs.latency_ms} ms)`);
    assert.equal(byModel.says42.result, 'accepted');
    assert.equal(byModel.says42.detail, 'vote 42');
    assert.equal(byModel.also42.result, 'answered');
    assert.equal(byModel.also42.detail, 'vote 42');

    const [slowRow] = sql(db, "SELECT attempts_detail FROM requests WHERE request_id='slow-1'");
    const slowDetail = Object.fromEntries(JSON.parse(slowRow.attempts_detail).map((a) => [a.model, a]));
    assert.equal(slowDetail.slow7.result, 'accepted');
    assert.ok(slowDetail.slow7.latency_ms >= 200, `slow7 answered after its latency (${slowDetail.slow7.latency_ms} ms)`);
    assert.equal(slowDetail.says7.detail, 'vote 7');
    assert.equal(slowDetail.says8.result, 'answered');
  });
});
