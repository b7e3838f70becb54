// Learned pre-routing of a staged cascade (cascade.pre_route, docs/cascade.md) in the gateway over
// rs_mock_upstream: `rightsize train` learns a router on which prompts the cheap models pass; a
// prompt it is sure the cheapest model passes is sent to that model alone (one upstream call), one
// it expects every cheap model to fail goes straight to the last stage, and the ledger's
// attempts_detail records the decision. And over the replay provider (examples/cascade's recorded
// answers, a router trained on them): the gateway's per-prompt ledger cost and model equal
// `simulate --cascade`'s for a direct-or-normal route and an escalate-or-normal route.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or build/), sqlite3.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sql = (db, query) => JSON.parse(execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim() || '[]');

const HARD = ['prove the theorem about', 'write a rigorous proof that', 'derive formally why', 'prove by induction that'];
const EASY = ['what is the weather like in', 'is it sunny today in', 'will it rain tomorrow in', 'how cold is it in'];
const PLACES = ['Paris', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Quito', 'Perth', 'Dakar', 'Hanoi', 'Riga',
                'Baku', 'Accra', 'Minsk', 'Sofia', 'Doha', 'Suva', 'Male', 'Apia', 'Bern', 'Kyiv'];
const THINGS = ['primes', 'graphs', 'groups', 'rings', 'fields', 'sets', 'series', 'limits', 'lattices', 'knots',
                'trees', 'codes', 'games', 'tilings', 'maps', 'chains', 'orders', 'cycles', 'paths', 'cuts'];

// The cheap models pass the easy prompts and fail the hard ones; big passes both.
function outcomesFile(dir) {
  const lines = [];
  let id = 0;
  const o = (cheap) => ({ cheap1: { score: cheap, cost_usd: 0.0001 }, cheap2: { score: cheap, cost_usd: 0.0002 },
    big: { score: 1, cost_usd: 0.01 } });
  for (const h of HARD) for (const t of THINGS) lines.push({ id: `s${id++}`, prompt: `${h} ${t} are infinite`, outcomes: o(0) });
  for (const e of EASY) for (const p of PLACES) lines.push({ id: `s${id++}`, prompt: `${e} ${p}`, outcomes: o(1) });
  const path = join(dir, 'outcomes.jsonl');
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

describe('cascade.pre_route in the gateway', () => {
  let dir, db, mock, gw;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-preroute-'));
    db = join(dir, 'ledger.db');
    const router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', outcomesFile(dir), '--out', router], { encoding: 'utf8' });
    assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
    mock = await startMock();
    // cheap1 and cheap2 disagree, so without pre-routing every prompt would cost three calls.
    const stages = `
      stages:
        - {kind: agree, models: [cheap1, cheap2], min_votes: 2, extract: number}
        - {kind: model, model: big}`;
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  cheap1: {provider: mock, id: "cheap1;reply=42", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  cheap2: {provider: mock, id: "cheap2;reply=41", input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.2}
  big:    {provider: mock, id: "big;reply=big%20says%2042", input_usd_per_mtok: 10, output_usd_per_mtok: 10}
routes:
  auto:
    policy: cascade
    candidates: [cheap1, cheap2, big]
    cascade:${stages}
      pre_route: {router: "${router}", direct_above: 0.8, escalate_below: 0.2}
  always_big:
    policy: cascade
    candidates: [cheap1, cheap2, big]
    cascade:${stages}
      pre_route: {router: "${router}", escalate_below: 1.0}
  plain:
    policy: cascade
    candidates: [cheap1, cheap2, big]
    cascade:${stages}
ledger: {kind: sqlite, path: "${db}"}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ask = async (route, id, content) => {
    await mock.reset();
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': id },
      body: JSON.stringify({ model: route, messages: [{ role: 'user', content }] }),
      signal: AbortSignal.timeout(30000),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = await res.json();
    return { res, body, calls: (await mock.stats()).count };
  };

  test('a prompt the router is sure of goes to the cheapest model alone', async () => {
    const { res, body, calls } = await ask('auto', 'easy-1', 'what is the weather like in Madrid');
    assert.equal(calls, 1, 'one upstream call');
    assert.equal(res.headers.get('x-rightsize-model'), 'cheap1');
    assert.equal(res.headers.get('x-rightsize-attempts'), '1');
    assert.equal(body.choices[0].message.content, '42');
    const us = Number(res.headers.get('x-rightsize-decision-us'));
    assert.ok(Number.isInteger(us) && us >= 0);
  });

  test('a prompt every cheap model is expected to fail goes straight to the last stage', async () => {
    const { res, calls } = await ask('auto', 'hard-1', 'prove the theorem about matrices are infinite');
    assert.equal(calls, 1, 'one upstream call');
    assert.equal(res.headers.get('x-rightsize-model'), 'big');
  });

  test('escalate_below 1.0 always escalates: only the final model is called', async () => {
    const { res, calls } = await ask('always_big', 'always-1', 'what is the weather like in Madrid');
    assert.equal(calls, 1);
    assert.equal(res.headers.get('x-rightsize-model'), 'big');
  });

  test('without pre_route the same prompt runs the whole cascade', async () => {
    const { res, calls } = await ask('plain', 'plain-1', 'what is the weather like in Madrid');
    assert.equal(calls, 3, 'cheap1 and cheap2 disagree, big is asked');
    assert.equal(res.headers.get('x-rightsize-model'), 'big');
  });

  test('the ledger records the pre-route decision and only the calls made', async () => {
    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;
    const rows = Object.fromEntries(sql(db, 'SELECT request_id, model, attempts, cost_nanos, attempts_detail FROM requests')
      .map((r) => [r.request_id, r]));
    const detail = (id) => JSON.parse(rows[id].attempts_detail);
    const easy = detail('easy-1');
    assert.equal(easy[0].stage, 'pre_route');
    assert.equal(easy[0].decision, 'direct');
    assert.ok(easy[0].p >= 0.8, `p ${easy[0].p}`);
    assert.deepEqual(easy.slice(1).map((a) => [a.model, a.result]), [['cheap1', 'accepted']]);
    const hard = detail('hard-1');
    assert.equal(hard[0].decision, 'escalate');
    assert.ok(hard[0].p < 0.2, `p ${hard[0].p}`);
    assert.deepEqual(hard.slice(1).map((a) => [a.model, a.result]), [['big', 'accepted']]);
    assert.equal(detail('always-1')[0].decision, 'escalate');
    assert.ok(!detail('plain-1').some((a) => a.stage === 'pre_route'));
    // The row's cost is the calls made: the answer objects' costs add up to it.
    for (const id of ['easy-1', 'hard-1', 'always-1', 'plain-1']) {
      const paid = detail(id).filter((a) => a.model).reduce((s, a) => s + Math.round(Number(a.cost_usd) * 1e9), 0);
      assert.equal(paid, rows[id].cost_nanos, id);
      assert.equal(detail(id).filter((a) => a.model).length, rows[id].attempts, id);
    }
  });
});

describe('a pre-routed cascade over the replay provider costs what simulate --cascade says', () => {
  let dir, db, gw, cfgPath;
  const data = join(repoRoot, 'examples/cascade/data/outcomes.jsonl.gz');
  const requests = 40;
  const prompts = gunzipSync(readFileSync(data)).toString('utf8').trim().split('\n').slice(0, requests).map((l) => JSON.parse(l));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-preroute-replay-'));
    db = join(dir, 'ledger.db');
    const router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', data, '--out', router, '--learner', 'lr', '--threads', '2'],
      { encoding: 'utf8' });
    assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
    const base = readFileSync(join(repoRoot, 'examples/cascade/gateway.yaml'), 'utf8')
      .replace('data: data/outcomes.jsonl.gz', `data: "${data}"`)
      .replace(/^ledger: .*$/m, `ledger: {kind: sqlite, path: "${db}"}`)
      .replace('listen: "127.0.0.1:8080"', 'listen: "127.0.0.1:0"');
    // Thresholds inside this router's range on these prompts, so both ways through each route are taken.
    const route = (name, pre) => `
  ${name}:
    policy: cascade
    candidates: [mistral-7b, mixtral-8x7b, yi-34b, gpt-4]
    reference: gpt-4
    cascade:
      stages:
        - {kind: agree, models: [mistral-7b, mixtral-8x7b, yi-34b], min_votes: 3, extract: "choice"}
        - {kind: model, model: gpt-4}
      pre_route: {router: "${router}", ${pre}}`;
    const config = `${base}routes:${route('direct', 'direct_above: 0.63')}${route('escalate', 'escalate_below: 0.855')}\n`;
    cfgPath = join(dir, 'gateway.yaml');
    writeFileSync(cfgPath, config);
    gw = await startGateway(config);
  });
  after(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('every prompt: same model, same nano-dollars, same decision', async () => {
    for (const name of ['direct', 'escalate']) {
      for (const p of prompts) {
        const res = await fetch(`${gw.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': `${name}:${p.id}` },
          body: JSON.stringify({ model: name, messages: [{ role: 'user', content: p.prompt }] }),
          signal: AbortSignal.timeout(30000),
        });
        const text = await res.text();
        assert.equal(res.status, 200, text);
      }
    }
    await gw.stop();  // SIGTERM: the ledger is flushed
    gw = null;
    const rows = new Map(sql(db, 'SELECT request_id, model, cost_nanos, attempts_detail FROM requests').map((r) => [r.request_id, r]));
    for (const name of ['direct', 'escalate']) {
      const recs = join(dir, `${name}.jsonl`);
      const sim = spawnSync(gatewayBinary(), ['simulate', '--cascade', name, '--config', cfgPath, '--data', data, '--records', recs],
        { encoding: 'utf8' });
      assert.equal(sim.status, 0, sim.stderr);
      const byId = new Map(readFileSync(recs, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.id, r]));
      const decisions = {};
      for (const p of prompts) {
        const s = byId.get(p.id);
        const row = rows.get(`${name}:${p.id}`);
        assert.ok(row, `${name}: no ledger row for ${p.id}`);
        assert.equal(row.model, s.model, `${name} ${p.id}: the gateway sent ${row.model}, simulate ${s.model}`);
        assert.equal(row.cost_nanos, Math.round(s.cost_usd * 1e9), `${name} ${p.id}: ledger ${row.cost_nanos}, simulate ${s.cost_usd}`);
        const pre = JSON.parse(row.attempts_detail)[0];
        assert.equal(pre.stage, 'pre_route');
        assert.equal(pre.decision, s.pre_route, `${name} ${p.id}: gateway ${pre.decision} (p ${pre.p}), simulate ${s.pre_route} (p ${s.p})`);
        decisions[s.pre_route] = (decisions[s.pre_route] ?? 0) + 1;
      }
      const skipped = name === 'direct' ? 'direct' : 'escalate';
      assert.ok(decisions[skipped] > 0 && decisions.normal > 0, `${name}: ${JSON.stringify(decisions)}`);
    }
  });
});

describe('cascade.pre_route on live reload', () => {
  let dir, mock, gw, router;
  const config = (pre) => `
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  cheap1: {provider: mock, id: "cheap1;reply=42", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  cheap2: {provider: mock, id: "cheap2;reply=41", input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.2}
  big:    {provider: mock, id: "big;reply=42", input_usd_per_mtok: 10, output_usd_per_mtok: 10}
routes:
  auto:
    policy: cascade
    candidates: [cheap1, cheap2, big]
    cascade:
      stages:
        - {kind: agree, models: [cheap1, cheap2], min_votes: 2, extract: number}
        - {kind: model, model: big}
      pre_route: ${pre}
ledger: {kind: "off"}
`;
  const reloads = async (result) => {
    const text = await (await fetch(gw.baseURL.replace(/\/v1$/, '/metrics'))).text();
    const m = text.match(new RegExp(`^rightsize_config_reloads_total\\{result="${result}"\\} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  const reload = async (text, result, count) => {
    writeFileSync(`${gw.configPath}.tmp`, text);
    renameSync(`${gw.configPath}.tmp`, gw.configPath);
    gw.proc.kill('SIGHUP');
    assert.ok(await waitFor(async () => (await reloads(result)) >= count, 10000), `no ${result} reload #${count}:\n${gw.output()}`);
  };
  const model = async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', messages: [{ role: 'user', content: 'what is the weather like in Madrid' }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return res.headers.get('x-rightsize-model');
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-preroute-reload-'));
    router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', outcomesFile(dir), '--out', router], { encoding: 'utf8' });
    assert.equal(train.status, 0, train.stderr);
    mock = await startMock();
    gw = await startGateway(config(`{router: "${router}", escalate_below: 1.0}`));
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('new thresholds take effect; a router file that does not know a stage model is refused and the old route keeps serving', async () => {
    assert.equal(await model(), 'big');  // always escalate
    await reload(config(`{router: "${router}", direct_above: 0.0}`), 'ok', 1);
    assert.equal(await model(), 'cheap1');  // always direct
    // A router trained on other model names: the reload is refused, naming the model.
    const other = join(dir, 'other.rsr');
    const data = readFileSync(join(dir, 'outcomes.jsonl'), 'utf8').replaceAll('"cheap2"', '"stranger"');
    writeFileSync(join(dir, 'other.jsonl'), data);
    const train = spawnSync(gatewayBinary(), ['train', '--data', join(dir, 'other.jsonl'), '--out', other], { encoding: 'utf8' });
    assert.equal(train.status, 0, train.stderr);
    await reload(config(`{router: "${other}", direct_above: 0.0}`), 'invalid', 1);
    assert.match(gw.output(), /stage model 'cheap2' is not a model of router file/);
    assert.equal(await model(), 'cheap1');
  });
});
