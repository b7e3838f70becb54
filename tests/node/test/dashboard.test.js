// The dashboard (GET /, reading GET /api/stats) in a real browser: Debian's chromium driven by
// playwright-core, with every request that is not to the gateway refused. Known traffic goes
// through the gateway (a learned route, a cheapest route, a fallback route, models named
// directly; plain and streamed; 401, 404 and 502 errors; three virtual keys) in three waves
// 10 s apart; the page must show exactly what the SQLite ledger holds (read with the sqlite3 CLI
// and `rightsize report --json`): requests, errors, spend and reference spend per model, route
// and key, the model mix per route, the timeline buckets, status codes and the latency / time to
// first token percentiles. The test saves a screenshot (to the temp directory; with
// RS_DASHBOARD_SCREENSHOT=docs/dashboard.png it refreshes the docs' image — a test run never
// changes a tracked file by itself).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), sqlite3 and
// /usr/bin/chromium.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SCREENSHOT = resolve(repoRoot, process.env.RS_DASHBOARD_SCREENSHOT || join(tmpdir(), 'rightsize-dashboard.png'));
const CHROMIUM = '/usr/bin/chromium';

const HARD = ['prove the theorem about', 'write a rigorous proof that', 'derive formally why', 'prove by induction that'];
const EASY = ['what is the weather like in', 'is it sunny today in', 'will it rain tomorrow in', 'how cold is it in'];
const PLACES = ['Paris', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Quito', 'Perth', 'Dakar', 'Hanoi', 'Riga',
                'Baku', 'Accra', 'Minsk', 'Sofia', 'Doha', 'Suva', 'Male', 'Apia', 'Bern', 'Kyiv'];
const THINGS = ['primes', 'graphs', 'groups', 'rings', 'fields', 'sets', 'series', 'limits', 'lattices', 'knots',
                'trees', 'codes', 'games', 'tilings', 'maps', 'chains', 'orders', 'cycles', 'paths', 'cuts'];

// Synthetic outcomes with a known answer (as in learned_routing.test.js): "proof" prompts need the
// big model, "weather" prompts are answered as well by the small one.
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

function sql(db, query) {
  return execFileSync('sqlite3', ['-readonly', '-separator', '\t', db, query], { encoding: 'utf8' }).replace(/\n$/, '');
}
const rows = (db, query) => { const t = sql(db, query); return t === '' ? [] : t.split('\n').map((l) => l.split('\t')); };

// Nearest rank, as `rightsize report` computes it.
function percentile(sorted, p) {
  if (!sorted.length) return 0;
  const rank = Math.floor((p * sorted.length + 99) / 100);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1];
}

describe('dashboard', () => {
  let dir, mock, gw, db, configPath, browser, profile;
  const keys = {};  // name -> {key, id}
  let sent = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-dashboard-'));
    db = join(dir, 'ledger.db');
    const router = join(dir, 'router.rsr');
    const train = spawnSync(gatewayBinary(), ['train', '--data', outcomesFile(dir), '--out', router], { encoding: 'utf8' });
    assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
    mock = await startMock();
    const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock:  {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
  flaky: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1},
          breaker: {failure_threshold: 1000000, open_for_ms: 1}}
models:
  llama-8b: {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  mistral-small: {provider: mock, id: mock-mid, input_usd_per_mtok: 1, output_usd_per_mtok: 3}
  gpt-4o: {provider: mock, id: mock-large, input_usd_per_mtok: 2.5, output_usd_per_mtok: 10}
  broken: {provider: flaky, id: "mock-small;status=500", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
routes:
  auto: {candidates: [llama-8b, gpt-4o], policy: learned, router: "${router}", quality: 0.95, reference: gpt-4o}
  budget: {candidates: [mistral-small, gpt-4o], policy: cheapest, reference: gpt-4o}
  failover: {candidates: [broken], policy: fixed, reference: gpt-4o, fallback: [mistral-small]}
ledger: {kind: sqlite, path: "${db}"}
limits: {kind: memory, keys_file: "${join(dir, 'keys.json')}"}
`;
    configPath = join(dir, 'config.yaml');
    writeFileSync(configPath, yaml);
    for (const name of ['search-app', 'support-bot', 'research']) {
      const r = spawnSync(gatewayBinary(), ['keys', 'create', '--config', configPath, '--name', name], { encoding: 'utf8' });
      assert.equal(r.status, 0, `keys create failed:\n${r.stderr}`);
      const key = r.stdout.trim();
      const m = key.match(/^rsk_([0-9a-f]+)_/);
      assert.ok(m, `unexpected key format: ${key.slice(0, 8)}...`);
      keys[name] = { key, id: m[1] };
    }
    gw = await startGateway(yaml);
    profile = mkdtempSync(join(tmpdir(), 'rightsize-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync'],
      viewport: { width: 1440, height: 900 },
      deviceScaleFactor: 1,
      timezoneId: 'UTC',
      locale: 'en-US',
    });
  });
  after(async () => {
    await browser?.close();
    await gw?.stop();
    await mock?.stop();
    for (const d of [dir, profile]) if (d) rmSync(d, { recursive: true, force: true });
  });

  const origin = () => `http://127.0.0.1:${gw.port}`;

  // Opens the dashboard with every request outside the gateway refused; returns {page, foreign}.
  async function openDashboard() {
    const page = await browser.newPage();
    const foreign = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(origin() + '/')) return route.continue();
      foreign.push(url);
      return route.abort();
    });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(`${origin()}/?refresh=1`);
    return { page, foreign, errors };
  }

  async function chat(model, content, { stream = false, key = null } = {}) {
    const res = await fetch(`${origin()}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
    });
    await res.text();
    sent++;
    return res.status;
  }

  test('GET / is one self-contained page; GET /api/stats is JSON; other methods get 405', async () => {
    const res = await fetch(`${origin()}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    const html = await res.text();
    assert.ok(html.length > 10000, 'the page is the embedded dashboard');
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|url\(|@import|https?:\/\/(?!www\.w3\.org)/i,
      'no external scripts, styles, fonts or URLs');
    const stats = await fetch(`${origin()}/api/stats`);
    assert.equal(stats.status, 200);
    assert.equal(stats.headers.get('cache-control'), 'no-store');
    const s = await stats.json();
    assert.equal(s.totals.requests, 0);
    assert.deepEqual(s.timeline, []);
    for (const path of ['/', '/api/stats']) {
      const bad = await fetch(`${origin()}${path}`, { method: 'POST', body: '{}' });
      assert.equal(bad.status, 405);
      assert.match((await bad.json()).error.message, /use GET/);
    }
  });

  test('with no traffic the page loads and shows zeros', async () => {
    const { page, foreign, errors } = await openDashboard();
    await page.waitForFunction(() => Number(document.body.dataset.refreshes) >= 1);
    assert.equal(await page.getAttribute('#kpi-requests', 'data-value'), '0');
    assert.equal(await page.textContent('#kpi-requests'), '0');
    assert.ok(await page.isVisible('#keys-note'), 'the keys section explains why it is empty');
    assert.deepEqual(foreign, []);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('after three waves of traffic the page shows exactly what the ledger holds', { timeout: 120000 }, async () => {
    const k = (name) => keys[name].key;
    for (let wave = 0; wave < 3; wave++) {
      if (wave > 0) await new Promise((r) => setTimeout(r, 10000));  // next 10 s timeline bucket
      const jobs = [];
      for (let i = 0; i < 14 + 4 * wave; i++) {
        const easy = `${EASY[i % EASY.length]} ${PLACES[(i + 7 * wave) % PLACES.length]}`;
        jobs.push(chat('auto', easy, { stream: i % 2 === 0, key: k('search-app') }));
      }
      for (let i = 0; i < 3 + 3 * wave; i++) {
        const hard = `${HARD[i % HARD.length]} ${THINGS[(i + 5 * wave) % THINGS.length]} are infinite`;
        jobs.push(chat('auto', hard, { stream: i % 3 === 0, key: k('research') }));
      }
      for (let i = 0; i < 8 - 2 * wave; i++) jobs.push(chat('budget', `summarize ticket ${wave}-${i}`, { stream: i % 2 === 1, key: k('support-bot') }));
      for (let i = 0; i < 2; i++) jobs.push(chat('failover', `retry me ${wave}-${i}`, { key: k('support-bot') }));
      jobs.push(chat('gpt-4o', `write a haiku about wave ${wave}`, { stream: true, key: k('research') }));
      jobs.push(chat('broken', `this fails ${wave}`, { key: k('search-app') }));         // 502
      jobs.push(chat('no-such-model', 'hello', { key: k('search-app') }));              // 404
      if (wave !== 1) jobs.push(chat('auto', 'no key at all'));                          // 401
      const statuses = await Promise.all(jobs);
      assert.ok(statuses.filter((s) => s === 200).length >= jobs.length - 3, `wave ${wave}: ${statuses}`);
    }

    // The ledger writer batches: wait until every request is a row.
    const count = await waitFor(() => Number(sql(db, 'SELECT COUNT(*) FROM requests')) === sent, 10000);
    assert.ok(count, `ledger rows ${sql(db, 'SELECT COUNT(*) FROM requests')} != ${sent} requests sent`);

    const { page, foreign, errors } = await openDashboard();
    await page.waitForFunction((n) => Number(document.getElementById('kpi-requests').dataset.value) === n, sent,
      { timeout: 10000 });
    const shown = await page.evaluate(() => {
      const d = (sel) => document.querySelector(sel).dataset;
      const all = (sel) => [...document.querySelectorAll(sel)].map((e) => ({ ...e.dataset, text: e.textContent }));
      return {
        requests: d('#kpi-requests').value, requestsText: document.getElementById('kpi-requests').textContent,
        spend: d('#kpi-spend').nanos, reference: d('#kpi-reference').nanos, savings: d('#kpi-savings').nanos,
        moneyText: ['#kpi-spend', '#kpi-reference', '#kpi-savings'].map((sel) => document.querySelector(sel).textContent),
        savingsPct: d('#kpi-savings-pct').value,
        latency: d('#kpi-latency'), ttft: d('#kpi-ttft'),
        errors: d('#rate-errors'), retried: d('#rate-retried'),
        models: all('.model-row'), routes: all('.route-row'), keys: all('.key-row'),
        statuses: all('.status'), buckets: all('#chart-requests g.bucket'),
        bucketModels: [...document.querySelectorAll('#chart-requests g.bucket rect')].map((r) => ({
          t: r.parentNode.dataset.tUs, model: r.dataset.model, count: r.dataset.count })),
        legend: document.getElementById('timeline-legend').textContent,
      };
    });

    // Totals.
    const [[total, errs, retried, spend, ref, nStreams]] = rows(db,
      'SELECT COUNT(*), SUM(status >= 400), SUM(attempts > 1), SUM(cost_nanos), SUM(reference_cost_nanos), SUM(stream) FROM requests');
    assert.equal(Number(shown.requests), Number(total));
    assert.equal(shown.requestsText, Number(total).toLocaleString('en-US'));
    assert.equal(shown.spend, spend);
    assert.equal(shown.reference, ref);
    assert.equal(Number(shown.savings), Number(ref) - Number(spend));
    assert.ok(Number(shown.savings) > 0, 'learned routing saved money');
    // The visible amounts are the same numbers, rounded to 3 significant digits.
    for (const [text, nanos] of [[shown.moneyText[0], spend], [shown.moneyText[1], ref], [shown.moneyText[2], Number(ref) - Number(spend)]]) {
      assert.match(text, /^\$[0-9.]+$/);
      const usd = Number(nanos) / 1e9;
      assert.ok(Math.abs(Number(text.slice(1)) - usd) <= 0.005 * usd, `shown ${text} for ${usd} USD`);
    }
    assert.ok(Math.abs(Number(shown.savingsPct) - 100 * (1 - Number(spend) / Number(ref))) < 1e-3);
    assert.equal(shown.errors.errors, errs);
    assert.equal(shown.errors.requests, total);
    assert.equal(shown.retried.retried, retried);
    assert.equal(Number(retried), 6, 'the failover route fell back twice per wave');
    assert.ok(Number(nStreams) > 0);

    // `rightsize report` over the same ledger agrees.
    const report = JSON.parse(execFileSync(gatewayBinary(), ['report', '--db', db, '--json'], { encoding: 'utf8' }));
    assert.equal(report.total.requests, Number(shown.requests));
    assert.equal(report.total.errors, Number(shown.errors.errors));
    assert.ok(Math.abs(report.total.spend_usd - Number(shown.spend) / 1e9) < 1e-9);
    assert.ok(Math.abs(report.total.reference_spend_usd - Number(shown.reference) / 1e9) < 1e-9);
    assert.ok(Math.abs(report.total.latency_p50_ms - Number(shown.latency.p50Us) / 1000) < 1e-9);
    assert.ok(Math.abs(report.total.latency_p99_ms - Number(shown.latency.p99Us) / 1000) < 1e-9);

    // Latency and time to first token: nearest-rank percentiles over every row (fewer than the sample size).
    const lat = rows(db, 'SELECT latency_us FROM requests ORDER BY latency_us').map((r) => Number(r[0]));
    assert.equal(Number(shown.latency.samples), lat.length);
    assert.equal(Number(shown.latency.p50Us), percentile(lat, 50));
    assert.equal(Number(shown.latency.p99Us), percentile(lat, 99));
    const ttft = rows(db, 'SELECT ttft_us FROM requests WHERE ttft_us IS NOT NULL ORDER BY ttft_us').map((r) => Number(r[0]));
    assert.ok(ttft.length > 0);
    assert.equal(Number(shown.ttft.samples), ttft.length);
    assert.equal(Number(shown.ttft.p50Us), percentile(ttft, 50));
    assert.equal(Number(shown.ttft.p99Us), percentile(ttft, 99));

    // Per model: requests, errors, spend, reference spend.
    const models = rows(db, `SELECT model, COUNT(*), SUM(status >= 400), SUM(cost_nanos), SUM(reference_cost_nanos)
                             FROM requests GROUP BY model ORDER BY model`);
    assert.deepEqual(
      shown.models.map((m) => [m.model, m.requests, m.errors, m.spendNanos, m.referenceNanos]).sort(),
      models.sort());
    const byModel = Object.fromEntries(models.map((m) => [m[0], Number(m[1])]));
    assert.ok(byModel['llama-8b'] > byModel['gpt-4o'], `learned route sent the easy bulk to the small model: ${JSON.stringify(byModel)}`);

    // Per route: totals and the routing decisions (model mix).
    const routes = rows(db, `SELECT route, COUNT(*), SUM(status >= 400), SUM(attempts > 1), SUM(cost_nanos),
                             SUM(reference_cost_nanos) FROM requests GROUP BY route`);
    assert.deepEqual(
      shown.routes.map((r) => [r.route, r.requests, r.errors, r.retried, r.spendNanos, r.referenceNanos]).sort(),
      routes.sort());
    const mix = {};
    for (const [route, model, n] of rows(db, 'SELECT route, model, COUNT(*) FROM requests GROUP BY route, model'))
      (mix[route] ??= {})[model] = Number(n);
    assert.deepEqual(Object.fromEntries(shown.routes.map((r) => [r.route, JSON.parse(r.mix)])), mix);
    assert.deepEqual(mix.auto && Object.keys(mix.auto).sort(), ['gpt-4o', 'llama-8b']);
    assert.deepEqual(mix.failover, { 'mistral-small': 6 });

    // Top keys by spend: the three keys and "(no key)" (the 401s), most spend first.
    const keyRows = rows(db, `SELECT coalesce(key_id, '(no key)'), COUNT(*), SUM(cost_nanos), SUM(reference_cost_nanos)
                              FROM requests GROUP BY 1 ORDER BY SUM(cost_nanos) DESC, 1`);
    assert.equal(keyRows.length, 4);
    assert.deepEqual(shown.keys.map((x) => [x.key, x.requests, x.spendNanos, x.referenceNanos]), keyRows);
    assert.ok(shown.keys.some((x) => x.key === keys.research.id));

    // Status codes.
    const statuses = rows(db, 'SELECT status, COUNT(*) FROM requests GROUP BY status ORDER BY status');
    assert.deepEqual(shown.statuses.map((s) => [s.status, s.count]), statuses);
    assert.deepEqual(statuses.map((s) => s[0]), ['200', '401', '404', '502']);

    // Timeline: one bar per 10 s bucket with traffic, requests per model equal to the ledger's.
    const buckets = rows(db, `SELECT (ts_us / 10000000) * 10000000, COUNT(*), SUM(status >= 400)
                              FROM requests GROUP BY 1 ORDER BY 1`);
    assert.ok(buckets.length >= 3, `three waves 10 s apart fill at least three buckets: ${buckets.length}`);
    assert.deepEqual(shown.buckets.map((b) => [b.tUs, b.requests, b.errors]), buckets);
    const bucketModels = rows(db, `SELECT (ts_us / 10000000) * 10000000, model, COUNT(*) FROM requests
                                   WHERE model != '' GROUP BY 1, 2 ORDER BY 1, 2`);
    assert.deepEqual(shown.bucketModels.map((b) => [b.t, b.model, b.count])
      .filter((b) => b[1] !== '').sort(), bucketModels.sort());
    for (const m of ['llama-8b', 'gpt-4o', 'mistral-small']) assert.ok(shown.legend.includes(m));

    assert.deepEqual(foreign, [], 'the page asked for nothing outside the gateway');
    assert.deepEqual(errors, [], 'no script errors');

    // The screenshot for docs/: the whole page, once the charts are drawn.
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT) && statSync(SCREENSHOT).size > 20000, `screenshot written to ${SCREENSHOT}`);
    await page.close();
  });
});
