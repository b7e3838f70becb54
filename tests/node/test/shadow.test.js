// Shadow evaluation, end to end (docs/shadow.md): with sample 1.0 every answer of a cheap fixed route
// is asked again of the yardstick after the client got it, graded (agree/disagree) into the ledger,
// `rightsize report` and /metrics; a hanging yardstick does not slow the client; a tiny usd_per_day
// stops the shadow calls (over_budget); a sensitive request never reaches a remote yardstick; a full
// queue drops jobs (counted); SIGTERM says how many shadow jobs were drained or dropped;
// `export-outcomes` writes the grades as outcomes that `rightsize train` reads.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

const CHROMIUM = '/usr/bin/chromium';

const sql = (db, query) => {
  const out = execFileSync('sqlite3', ['-readonly', '-json', db, query], { encoding: 'utf8' }).trim();
  return out ? JSON.parse(out) : [];
};

function config({ mockPort, db, queue = 256, drainMs = 2000 }) {
  return `
server: {listen: "127.0.0.1:0", threads: 2, shadow_queue: ${queue}, drain_timeout_ms: ${drainMs}}
providers:
  mock:  {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", retry: {max_attempts: 1}}
  slow:  {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", retry: {max_attempts: 1}, first_byte_timeout_ms: 20000}
  local: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", locality: on_prem}
models:
  small:     {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  agreeing:  {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  other:     {provider: mock, id: "mock-large;reply=something%20else", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  hanging:   {provider: slow, id: "mock-large;hang=1", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  costly:    {provider: mock, id: "mock-large;latency_ms=1", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  remote:    {provider: mock, id: "mock-large;latency_ms=2", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  onprem:    {provider: local, id: "mock-small;latency_ms=3", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
routes:
  agree:
    candidates: [small]
    reference: agreeing
    shadow: {sample: 1.0, grade: {kind: agree, extract: text}, usd_per_day: 5}
  disagree:
    candidates: [small]
    shadow: {sample: 1.0, model: other, grade: {kind: agree, extract: text}, usd_per_day: 5}
  hang:
    candidates: [small]
    shadow: {sample: 1.0, model: hanging, grade: {kind: agree, extract: text}, usd_per_day: 5}
  tiny:
    candidates: [small]
    shadow: {sample: 1.0, model: costly, grade: {kind: agree}, usd_per_day: 0.000000001}
  private:
    candidates: [onprem]
    shadow: {sample: 1.0, model: remote, grade: {kind: agree}, usd_per_day: 5}
ledger: {kind: sqlite, path: "${db}"}
`;
}

describe('shadow evaluation', () => {
  let dir;
  let mock;
  let gw;
  let url;
  let db;

  const ask = async (model, content, headers = {}) => {
    const t0 = Date.now();
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
    });
    const body = await res.json();
    return { status: res.status, body, ms: Date.now() - t0 };
  };
  const metric = async (route, result) => {
    const text = await (await fetch(`${url}/metrics`)).text();
    const re = new RegExp(`^rightsize_shadow_total\\{route="${route}",model="[^"]*",result="${result}"\\} (\\S+)$`, 'm');
    const m = text.match(re);
    return m ? Number(m[1]) : 0;
  };
  const calls = async (id) => (await mock.stats()).by_model[id] ?? 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-shadow-'));
    db = join(dir, 'ledger.db');
    mock = await startMock();
    gw = await startGateway(config({ mockPort: mock.port, db }));
    url = `http://127.0.0.1:${gw.port}`;
  });

  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('sample 1.0: every answer is graded against the yardstick, in the ledger, report and metrics', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await ask('agree', `what is ${i} plus ${i}`)).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await ask('disagree', `name the colour ${i}`)).status, 200);
    assert.ok(await waitFor(async () => (await metric('agree', 'agree')) === 10 && (await metric('disagree', 'disagree')) === 3, 10000),
      `grades not counted; output:\n${gw.output()}`);
    assert.equal(await calls('mock-large'), 10);
    // The ledger writer flushes every 100 ms.
    const rows = await waitFor(async () => {
      const r = sql(db, 'SELECT route, model, yardstick, result, cost_nanos, prompt FROM shadow_grades ORDER BY id');
      return r.length === 13 ? r : null;
    }, 5000);
    assert.ok(rows, 'shadow_grades rows missing');
    const agree = rows.filter((r) => r.route === 'agree');
    assert.equal(agree.length, 10);
    for (const r of agree) {
      assert.equal(r.model, 'small');
      assert.equal(r.yardstick, 'agreeing');
      assert.equal(r.result, 'agree');
      assert.ok(r.cost_nanos > 0, 'shadow call paid for');
      assert.match(r.prompt, /^what is \d plus \d$/, 'the prompt is stored although store_prompts is off');
    }
    assert.ok(rows.filter((r) => r.route === 'disagree').every((r) => r.result === 'disagree'));
    // The requests' own rows do not carry the shadow spend, and keep no prompt (store_prompts off).
    const req = sql(db, "SELECT cost_nanos, prompt FROM requests WHERE route = 'agree'");
    assert.equal(req.length, 10);
    assert.ok(req.every((r) => r.prompt === null));

    const rep = JSON.parse(execFileSync(gatewayBinary(), ['report', '--db', db, '--json'], { encoding: 'utf8' }));
    const byRoute = Object.fromEntries(rep.shadow.map((s) => [s.route, s]));
    assert.equal(byRoute.agree.n, 10);
    assert.equal(byRoute.agree.grade, 'agree');
    assert.equal(byRoute.agree.quality, 1);
    // Wilson 95% for 10/10: [0.7225, 1].
    assert.ok(Math.abs(byRoute.agree.quality_low - 0.7225) < 1e-3, `Wilson low ${byRoute.agree.quality_low}`);
    assert.ok(byRoute.agree.quality_high > 0.999);
    assert.equal(byRoute.agree.requests, 10);
    assert.equal(byRoute.disagree.quality, 0);
    const spend = rows.reduce((s, r) => s + r.cost_nanos, 0);
    assert.equal(Math.round(rep.shadow_spend_usd * 1e9), spend);
    const text = execFileSync(gatewayBinary(), ['report', '--db', db], { encoding: 'utf8' });
    assert.match(text, /shadow evaluation/);
    assert.match(text, /shadow spend: /);
    const spendMetric = (await (await fetch(`${url}/metrics`)).text())
      .match(/^rightsize_shadow_spend_usd_total\{route="agree",model="small"\} (\S+)$/m);
    assert.ok(spendMetric && Number(spendMetric[1]) > 0, 'shadow spend metric');
    // export-outcomes: one outcome line per graded request, served and yardstick, with the prompt;
    // `rightsize train` reads the file like any outcomes file.
    const outcomes = join(dir, 'outcomes.jsonl');
    const exp = spawnSync(gatewayBinary(), ['export-outcomes', '--db', db, '--out', outcomes], { encoding: 'utf8' });
    assert.equal(exp.status, 0, exp.stderr);
    assert.match(exp.stderr, /13 shadow-graded request\(s\) written, 0 shadow grade\(s\) skipped/);
    const lines = readFileSync(outcomes, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(lines.length, 13);
    const agreeLine = lines.find((l) => l.task === 'agree');
    assert.equal(agreeLine.source, 'shadow');
    assert.match(agreeLine.prompt, /^what is \d plus \d$/);
    assert.equal(agreeLine.outcomes.small.score, 1);
    assert.equal(agreeLine.outcomes.agreeing.score, 1);
    assert.ok(agreeLine.outcomes.small.cost_usd > 0 && agreeLine.outcomes.agreeing.cost_usd > agreeLine.outcomes.small.cost_usd);
    const disLine = lines.find((l) => l.task === 'disagree');
    assert.equal(disLine.outcomes.small.score, 0);
    assert.equal(disLine.outcomes.other.score, 1);
    // (the agree route's 10 prompts: the trainer wants at least 10, with the same models on every line)
    const agreeOnly = join(dir, 'agree-outcomes.jsonl');
    writeFileSync(agreeOnly, lines.filter((l) => l.task === 'agree').map((l) => JSON.stringify(l)).join('\n') + '\n');
    const train = spawnSync(gatewayBinary(), ['train', '--data', agreeOnly, '--folds', '2', '--out', join(dir, 'router.json')], { encoding: 'utf8' });
    assert.equal(train.status, 0, `train: ${train.stderr}`);
    // Both answers are in the outcomes (what `plan` compares), and `plan` reads the file.
    assert.equal(typeof agreeLine.outcomes.small.response, 'string');
    assert.ok(agreeLine.outcomes.small.response.length > 0 && agreeLine.outcomes.agreeing.response.length > 0);
    const plan = spawnSync(gatewayBinary(), ['plan', '--data', agreeOnly, '--reference', 'agreeing', '--folds', '2',
      '--out', join(dir, 'routes.yaml')], { encoding: 'utf8' });
    assert.equal(plan.status, 0, `plan: ${plan.stderr}`);
    assert.match(readFileSync(join(dir, 'routes.yaml'), 'utf8'), /routes:/);

    // The dashboard's JSON has the same estimate.
    const stats = await (await fetch(`${url}/api/stats`)).json();
    const dash = stats.shadow.find((s) => s.route === 'agree');
    assert.equal(dash.n, 10);
    assert.equal(dash.quality, 1);
    assert.ok(Math.abs(dash.quality_low - byRoute.agree.quality_low) < 1e-9);

    // ... and the dashboard page shows it.
    if (existsSync(CHROMIUM)) {
      const profile = mkdtempSync(join(tmpdir(), 'rightsize-chromium-'));
      const browser = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      try {
        const page = await browser.newPage();
        const errors = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(`${url}/?refresh=1`);
        await page.waitForSelector('.shadow-row[data-route="agree"]', { timeout: 10000 });
        const row = await page.$eval('.shadow-row[data-route="agree"]', (tr) => ({ n: tr.dataset.n, text: tr.textContent }));
        assert.equal(row.n, '10');
        assert.match(row.text, /agree.*1\.000.*0\.72\d – 1\.000/);
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
        rmSync(profile, { recursive: true, force: true });
      }
    }
  });

  test('a hanging yardstick does not slow the client', async () => {
    const plain = [];
    for (let i = 0; i < 3; i++) plain.push((await ask('agree', `baseline ${i}`)).ms);
    const shadowed = [];
    for (let i = 0; i < 3; i++) {
      const r = await ask('hang', `hang ${i}`);
      assert.equal(r.status, 200);
      shadowed.push(r.ms);
    }
    // The yardstick never answers (its timeout is 20 s): the client is answered at normal speed.
    const worst = Math.max(...shadowed);
    assert.ok(worst < Math.max(...plain) + 1000, `shadowed ${shadowed} vs plain ${plain}`);
    assert.ok(await waitFor(async () => (await calls('mock-large;hang=1')) >= 1, 5000), 'the yardstick was asked');
  });

  test('usd_per_day: once the cap is spent, shadow calls stop (over_budget)', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await ask('tiny', `tiny ${i}`)).status, 200);
      await new Promise((r) => setTimeout(r, 50));  // let the first shadow call spend the cap
    }
    assert.ok(await waitFor(async () => (await metric('tiny', 'over_budget')) >= 1, 5000), 'over_budget not counted');
    assert.equal(await calls('mock-large;latency_ms=1'), 1, 'only the first shadow call was made');
  });

  test('a sensitive request never reaches a remote yardstick', async () => {
    const r = await ask('private', 'my secret diary', { 'x-rightsize-sensitive': '1' });
    assert.equal(r.status, 200);
    assert.ok(await waitFor(async () => (await metric('private', 'skipped_sensitive')) === 1, 5000));
    assert.equal(await calls('mock-large;latency_ms=2'), 0);
    assert.equal(sql(db, "SELECT count(*) AS n FROM shadow_grades WHERE route = 'private'")[0].n, 0);
  });
});

describe('shadow queue', () => {
  test('overflow is dropped and counted; SIGTERM says how many jobs were dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rightsize-shadow-q-'));
    const mock = await startMock();
    const gw = await startGateway(config({ mockPort: mock.port, db: join(dir, 'ledger.db'), queue: 2, drainMs: 500 }));
    const url = `http://127.0.0.1:${gw.port}`;
    try {
      // 4 workers hang on the yardstick, 2 jobs wait, the rest are dropped.
      for (let i = 0; i < 12; i++) {
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'hang', messages: [{ role: 'user', content: `q ${i}` }] }),
        });
        assert.equal(res.status, 200);
      }
      const dropped = async () => {
        const m = (await (await fetch(`${url}/metrics`)).text())
          .match(/^rightsize_shadow_total\{route="hang",model="small",result="dropped"\} (\S+)$/m);
        return m ? Number(m[1]) : 0;
      };
      assert.ok(await waitFor(async () => (await dropped()) >= 6, 5000), `dropped ${await dropped()}`);
      const t0 = Date.now();
      await gw.stop();
      assert.ok(Date.now() - t0 < 4000, 'the drain deadline (500 ms) bounds the shadow drain');
      assert.match(gw.output(), /shadow: \d+ job\(s\) drained, [1-9]\d* dropped at the drain deadline/);
    } finally {
      await gw.stop();
      await mock.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
