// The `learned` routing policy in the gateway, end to end: `rightsize train` learns a router from an
// outcomes file, the gateway loads it, and requests are routed on the human's ask over the mock
// upstream. The data is synthetic with a known answer: prompts about "proofs" need the big model,
// prompts about "weather" are answered as well by the small one.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock } from '../lib/harness.js';

const HARD = ['prove the theorem about', 'write a rigorous proof that', 'derive formally why', 'prove by induction that'];
const EASY = ['what is the weather like in', 'is it sunny today in', 'will it rain tomorrow in', 'how cold is it in'];
const PLACES = ['Paris', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Quito', 'Perth', 'Dakar', 'Hanoi', 'Riga',
                'Baku', 'Accra', 'Minsk', 'Sofia', 'Doha', 'Suva', 'Male', 'Apia', 'Bern', 'Kyiv'];
const THINGS = ['primes', 'graphs', 'groups', 'rings', 'fields', 'sets', 'series', 'limits', 'lattices', 'knots',
                'trees', 'codes', 'games', 'tilings', 'maps', 'chains', 'orders', 'cycles', 'paths', 'cuts'];

function outcomesFile(dir) {
  const lines = [];
  let id = 0;
  for (const h of HARD) for (const t of THINGS)
    lines.push({ id: `s${id++}`, prompt: `${h} ${t} are infinite`,
      outcomes: { 'mock-small': { score: 0, cost_usd: 0.0001 }, 'mock-large': { score: 1, cost_usd: 0.01 } } });
  for (const e of EASY) for (const p of PLACES)
    lines.push({ id: `s${id++}`, prompt: `${e} ${p}`,
      outcomes: { 'mock-small': { score: 1, cost_usd: 0.0001 }, 'mock-large': { score: 1, cost_usd: 0.01 } } });
  const path = join(dir, 'outcomes.jsonl');
  writeFileSync(path, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return path;
}

describe('policy: learned in the gateway', () => {
  let dir;
  let mock;
  let gw;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-learned-'));
    const data = outcomesFile(dir);
    const router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', data, '--out', router], { encoding: 'utf8' });
    assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1"}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
routes:
  smart: {candidates: [small, big], policy: learned, router: "${router}", quality: 0.95, reference: big}
ledger: {kind: "off"}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function route(content, extra = {}, headers = {}) {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'smart', messages: [{ role: 'user', content }], ...extra }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    return res;
  }

  test('an easy prompt goes to the small model, a hard one to the big model', async () => {
    const easy = await route('what is the weather like in Madrid');
    assert.equal(easy.headers.get('x-rightsize-model'), 'small');
    const hard = await route('prove the theorem about matrices are infinite');
    assert.equal(hard.headers.get('x-rightsize-model'), 'big');
  });

  test('the decision time is reported in microseconds', async () => {
    const res = await route('is it sunny today in Rome');
    const us = Number(res.headers.get('x-rightsize-decision-us'));
    assert.ok(Number.isInteger(us) && us >= 0, `x-rightsize-decision-us: ${res.headers.get('x-rightsize-decision-us')}`);
  });

  test('only the human ask is routed on: tool output and earlier turns do not sway it', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'smart',
        messages: [
          { role: 'user', content: 'write a rigorous proof that primes are infinite' },
          { role: 'assistant', content: 'prove by induction that sets are infinite' },
          { role: 'tool', tool_call_id: 'x', content: 'derive formally why rings are infinite '.repeat(50) },
          { role: 'user', content: 'will it rain tomorrow in Vienna' },
        ],
      }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-model'), 'small');
  });

  test('a very low per-request quality target never picks a dearer model than the route default', async () => {
    const dflt = await route('derive formally why codes are infinite');
    const low = await route('derive formally why codes are infinite', { rightsize: { quality: 0.05 } });
    const rank = { small: 0, big: 1 };
    assert.ok(rank[low.headers.get('x-rightsize-model')] <= rank[dflt.headers.get('x-rightsize-model')]);
  });

  test('a bad router file is a startup error naming the file', async () => {
    const bad = join(dir, 'bad.rsr');
    writeFileSync(bad, 'not a router');
    const cfg = join(dir, 'bad.yaml');
    writeFileSync(cfg, `
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1"}
models:
  small: {provider: mock, id: mock-small}
  big:   {provider: mock, id: mock-large}
routes:
  smart: {candidates: [small, big], policy: learned, router: "${bad}"}
ledger: {kind: "off"}
`);
    const r = spawnSync(gatewayBinary(), ['serve', '--config', cfg, '--check'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /bad\.rsr/);
  });
});
