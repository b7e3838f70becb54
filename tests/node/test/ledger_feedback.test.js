// POST /v1/feedback, ledger.store_prompts, `rightsize report` and `rightsize export-outcomes`,
// against both ledgers (SQLite file; PostgreSQL server started by lib/postgres.js). The exported
// outcome file is then read by `rightsize train`, which must accept it.
// Needs RIGHTSIZE_BIN, RS_MOCK_UPSTREAM_BIN (or the binaries in build/), sqlite3 and PostgreSQL 15.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';

import { gatewayBinary, startGateway, startMock, stopProcess } from '../lib/harness.js';
import { startPostgres } from '../lib/postgres.js';

for (const kind of ['sqlite', 'postgres']) {
  describe(`feedback and outcomes (${kind})`, () => {
    let dir;
    let mock;
    let pg;
    let gw;
    let configPath;
    let query; // async (sql) => string

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `rightsize-feedback-${kind}-`));
      mock = await startMock();
      let ledger;
      if (kind === 'sqlite') {
        const db = join(dir, 'ledger.db');
        ledger = `{kind: sqlite, path: "${db}", store_prompts: true}`;
        query = async (sql) => execFileSync('sqlite3', ['-readonly', db, sql], { encoding: 'utf8' }).trim();
      } else {
        pg = await startPostgres();
        ledger = `{kind: postgres, dsn: "${pg.url}", store_prompts: true, spill_path: "${join(dir, 'spill.jsonl')}"}`;
        query = async (sql) => (await pg.psql(sql)).trim();
      }
      const yaml = `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  bad:   {provider: mock, id: "mock-small;status=503"}
routes:
  auto: {candidates: [small, big], policy: cheapest, reference: big}
ledger: ${ledger}
`;
      configPath = join(dir, 'config.yaml');
      writeFileSync(configPath, yaml);
      gw = await startGateway(yaml);
    });
    after(async () => {
      await gw?.stop();
      await mock?.stop();
      await pg?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    // Request ids are the test's, not random: `train` splits its folds by id, and 30 random ids
    // leave one of its 5 folds empty now and then.
    let seq = 0;
    const chat = async (model, content, system) => {
      const messages = system ? [{ role: 'system', content: system }, { role: 'user', content }] : [{ role: 'user', content }];
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `feedback-test-${++seq}` },
        body: JSON.stringify({ model, messages }),
      });
      await res.text();
      return { id: res.headers.get('x-request-id'), status: res.status };
    };
    const feedback = (body, method = 'POST') =>
      fetch(`${gw.baseURL}/feedback`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: method === 'POST' ? (typeof body === 'string' ? body : JSON.stringify(body)) : undefined,
      });

    test('bad feedback is a 400 with an OpenAI error body; GET is a 405', async () => {
      const bad = [
        '{not json',
        '[1, 2]',
        { score: 0.5 },
        { request_id: 'abc' },
        { request_id: 'abc', score: 1.5 },
        { request_id: 'abc', score: -0.01 },
        { request_id: 'abc', score: '0.5' },
        { request_id: 'abc', score: true },
        { request_id: 'has space', score: 0.5 },
        { request_id: 42, score: 0.5 },
        { request_id: 'x'.repeat(129), score: 0.5 },
      ];
      for (const body of bad) {
        const res = await feedback(body);
        assert.equal(res.status, 400, JSON.stringify(body));
        const err = (await res.json()).error;
        assert.equal(err.type, 'invalid_request_error');
        assert.match(err.message, /request_id|score|JSON object/);
      }
      const get = await feedback(null, 'GET');
      assert.equal(get.status, 405);
      await get.text();
    });

    test('feedback is stored, exported as outcomes with the prompt, and train reads them', async () => {
      // 30 answered requests to two models, with distinct prompts (a system prompt too), and one failure.
      const answered = [];
      for (let i = 0; i < 30; ++i) {
        const model = i % 2 ? 'small' : 'big';
        const r = await chat(model, `question number ${i}: what is ${i} + ${i}?`, i % 3 === 0 ? 'be brief' : undefined);
        assert.equal(r.status, 200);
        answered.push({ ...r, model, i });
      }
      const failed = await chat('bad', 'this one fails');
      assert.equal(failed.status, 502);

      // Scores: every answered request gets one, the first 5 get a second (the newest wins); plus one for the
      // failed request and one for an id the gateway never saw (accepted: the ledger may be another replica's).
      const score = (i) => (i % 5) / 4;
      for (const a of answered) {
        const res = await feedback({ request_id: a.id, score: a.i < 5 ? 0.123 : score(a.i) });
        assert.equal(res.status, 202);
        assert.deepEqual(await res.json(), { request_id: a.id, score: a.i < 5 ? 0.123 : score(a.i), status: 'accepted' });
      }
      await new Promise((r) => setTimeout(r, 5)); // distinct arrival times for the second scores
      for (const a of answered.slice(0, 5)) assert.equal((await feedback({ request_id: a.id, score: score(a.i) })).status, 202);
      assert.equal((await feedback({ request_id: failed.id, score: 1 })).status, 202);
      assert.equal((await feedback({ request_id: 'never-seen-1', score: 0 })).status, 202);
      // /metrics counts them: 37 accepted here, and the 11 bad bodies of the previous test.
      const metrics = await (await fetch(gw.baseURL.replace(/\/v1$/, '/metrics'))).text();
      assert.match(metrics, /^rightsize_feedback_total\{result="accepted"\} 37$/m);
      assert.match(metrics, /^rightsize_feedback_total\{result="rejected"\} 11$/m);

      await stopProcess(gw.proc, 20000); // SIGTERM flushes requests and feedback
      assert.equal(gw.proc.exitCode, 0, gw.output());
      await gw.stop();
      gw = null;

      assert.equal(Number(await query('SELECT count(*) FROM feedback')), 30 + 5 + 2);
      assert.equal(Number(await query('SELECT count(*) FROM requests')), 31);
      assert.equal(Number(await query('SELECT count(*) FROM requests WHERE prompt IS NOT NULL')), 31);
      // The stored prompt is the human's ask: the system prompt and the last user turn.
      const withSystem = answered[3];
      const prompt = await query(`SELECT prompt FROM requests WHERE request_id = '${withSystem.id}'`);
      assert.match(prompt, /be brief/);
      assert.match(prompt, /question number 3: what is 3 \+ 3\?/);

      // `rightsize report --config` reads this ledger.
      const report = JSON.parse(execFileSync(gatewayBinary(), ['report', '--config', configPath, '--by', 'model', '--json'],
        { encoding: 'utf8' }));
      assert.equal(report.total.requests, 31);
      assert.equal(report.total.errors, 1);
      assert.equal(report.groups.find((g) => g.group === 'small').requests, 15);
      assert.equal(report.groups.find((g) => g.group === 'big').requests, 15);

      // export-outcomes: one line per answered request with feedback; the newest score; skips reported.
      const out = join(dir, 'outcomes.jsonl.gz');
      const exp = spawnSync(gatewayBinary(), ['export-outcomes', '--config', configPath, '--out', out], { encoding: 'utf8' });
      assert.equal(exp.status, 0, exp.stderr);
      assert.match(exp.stderr, /30 outcome\(s\) written .* from 32 request\(s\) with feedback; skipped 1 unknown request id\(s\), 0 without a stored prompt .*, 1 failed request/);
      const lines = gunzipSync(readFileSync(out)).toString('utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      assert.equal(lines.length, 30);
      for (const a of answered) {
        const line = lines.find((l) => l.id === a.id);
        assert.ok(line, `no outcome for ${a.id}`);
        assert.equal(line.task, a.model); // a model named directly is its own route
        assert.match(line.prompt, new RegExp(`question number ${a.i}: what is`));
        assert.deepEqual(Object.keys(line.outcomes), [a.model]);
        assert.equal(line.outcomes[a.model].score, score(a.i));
        assert.ok(line.outcomes[a.model].cost_usd > 0);
      }
      const small = lines.find((l) => l.outcomes.small).outcomes.small.cost_usd;
      const big = lines.find((l) => l.outcomes.big).outcomes.big.cost_usd;
      assert.ok(big > small, 'costs are the ledger\'s per-model costs');

      // `rightsize train` accepts the file.
      const router = join(dir, 'router.rsr');
      const train = spawnSync(gatewayBinary(), ['train', '--quiet', '--seed', '1', '--data', out, '--out', router],
        { encoding: 'utf8' });
      assert.equal(train.status, 0, train.stderr);
      assert.ok(existsSync(router));
    });

    test('export-outcomes with a bad source or output is a clear error', async () => {
      const missing = spawnSync(gatewayBinary(), ['export-outcomes', '--db', join(dir, 'nope.db'), '--out', join(dir, 'o.jsonl')],
        { encoding: 'utf8' });
      assert.equal(missing.status, 2);
      assert.match(missing.stderr, /cannot open/);
      const noOut = spawnSync(gatewayBinary(), ['export-outcomes', '--config', configPath, '--out', join(dir, 'no', 'dir.jsonl')],
        { encoding: 'utf8' });
      assert.equal(noOut.status, 2);
      assert.match(noOut.stderr, /cannot write/);
    });
  });
}

describe('ledger config keys', () => {
  test('store_prompts must be a boolean, and a postgres ledger that cannot be reached stops the start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rightsize-ledgercfg-'));
    try {
      const write = (ledger) => {
        const p = join(dir, 'c.yaml');
        writeFileSync(p, `
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  small: {provider: mock, id: x}
ledger: ${ledger}
`);
        return p;
      };
      const bad = spawnSync(gatewayBinary(), ['serve', '--check', '--config',
        write(`{kind: sqlite, path: "${join(dir, 'l.db')}", store_prompts: maybe}`)], { encoding: 'utf8' });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /ledger\.store_prompts: expected true or false, got 'maybe'/);
      // Port 1: nothing listens. The gateway must not start (and not silently spill).
      const down = spawnSync(gatewayBinary(), ['serve', '--config',
        write(`{kind: postgres, dsn: "postgresql://x@127.0.0.1:1/db?connect_timeout=2", spill_path: "${join(dir, 's.jsonl')}"}`)],
      { encoding: 'utf8', timeout: 20000 });
      assert.notEqual(down.status, 0);
      assert.match(down.stderr, /cannot connect to postgres/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('store_prompts is off by default', () => {
  test('no prompt is stored, and export-outcomes says why nothing was exported', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rightsize-noprompt-'));
    const mock = await startMock();
    const db = join(dir, 'ledger.db');
    const gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1"}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
ledger: {kind: sqlite, path: "${db}"}
`);
    try {
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'a private question' }] }),
      });
      await res.text();
      const id = res.headers.get('x-request-id');
      const fb = await fetch(`${gw.baseURL}/feedback`, { method: 'POST', body: JSON.stringify({ request_id: id, score: 1 }) });
      assert.equal(fb.status, 202);
      await stopProcess(gw.proc, 20000);
      const sql = (q) => execFileSync('sqlite3', ['-readonly', db, q], { encoding: 'utf8' }).trim();
      assert.equal(sql('SELECT count(*) FROM requests WHERE prompt IS NULL'), '1');
      assert.equal(sql("SELECT count(*) FROM requests WHERE prompt LIKE '%private%'"), '0');
      const out = join(dir, 'o.jsonl');
      const exp = spawnSync(gatewayBinary(), ['export-outcomes', '--db', db, '--out', out], { encoding: 'utf8' });
      assert.equal(exp.status, 0, exp.stderr);
      assert.match(exp.stderr, /0 outcome\(s\) written .* 1 without a stored prompt/);
      assert.equal(readFileSync(out, 'utf8'), '');
    } finally {
      await gw.stop();
      await mock.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
