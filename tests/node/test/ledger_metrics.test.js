// The SQLite ledger and /metrics, end to end: every answered request is one ledger row (checked
// with the sqlite3 CLI after a SIGTERM, under 50 concurrent clients), and /metrics parses as
// Prometheus text with counters that match the ledger.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and sqlite3.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, stopProcess } from '../lib/harness.js';

function sql(db, query) {
  return execFileSync('sqlite3', ['-readonly', db, query], { encoding: 'utf8' }).trim();
}

// Minimal strict reader of the Prometheus text format: {name{labels}: value}.
function parseProm(text) {
  const samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) {
      if (line.startsWith('# TYPE') || line.startsWith('# HELP') || line === '') continue;
      throw new Error(`bad comment line: ${line}`);
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/);
    if (!m) throw new Error(`bad sample line: ${line}`);
    samples.set(m[1] + (m[2] ?? ''), Number(m[3]));
  }
  return samples;
}

describe('ledger and metrics', () => {
  let dir;
  let mock;
  let gw;
  let db;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-ledger-'));
    db = join(dir, 'ledger.db');
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  bad:   {provider: mock, id: "mock-small;status=503"}
routes:
  auto: {candidates: [small, big], policy: cheapest, reference: big}
ledger: {kind: sqlite, path: "${db}"}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (body) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  test('500 requests from 50 concurrent clients: the ledger holds exactly one row per request', async () => {
    const ids = [];
    let next = 0;
    const worker = async () => {
      while (next < 500) {
        const i = next++;
        const model = i % 10 === 9 ? 'bad' : 'auto';
        const res = await post({ model, stream: i % 3 === 0, messages: [{ role: 'user', content: `request ${i}` }] });
        await res.text();
        ids.push([res.headers.get('x-request-id'), res.status]);
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
    assert.equal(ids.length, 500);

    const metrics = parseProm(await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text());
    const ok = metrics.get('rightsize_requests_total{route="auto",model="small",status="200"}');
    assert.equal(ok, 450, 'requests_total for the 450 answered requests');
    assert.equal(metrics.get('rightsize_requests_total{route="bad",model="bad",status="502"}'), 50);

    await stopProcess(gw.proc);  // SIGTERM: drain, then flush the ledger
    gw = null;
    assert.equal(Number(sql(db, 'SELECT COUNT(*) FROM requests')), 500);
    assert.equal(Number(sql(db, 'SELECT COUNT(DISTINCT request_id) FROM requests')), 500);
    for (const [id, status] of ids.slice(0, 40)) {
      assert.equal(Number(sql(db, `SELECT status FROM requests WHERE request_id = '${id}'`)), status);
    }
    assert.equal(Number(sql(db, "SELECT COUNT(*) FROM requests WHERE status = 200 AND model = 'small'")), 450);
    assert.equal(Number(sql(db, "SELECT COUNT(*) FROM requests WHERE stream = 1")), 167);
    // Every answered row has tokens and a cost below its reference cost.
    assert.equal(Number(sql(db, 'SELECT COUNT(*) FROM requests WHERE status = 200 AND (tokens_out <= 0 OR cost_nanos <= 0 OR cost_nanos >= reference_cost_nanos)')), 0);

    // `rightsize report` over the same ledger agrees with the traffic sent.
    const report = JSON.parse(execFileSync(gatewayBinary(), ['report', '--db', db, '--json'], { encoding: 'utf8' }));
    assert.equal(report.total.requests, 500);
    assert.equal(report.total.errors, 50);
    const auto = report.groups.find((g) => g.group === 'auto');
    assert.equal(auto.requests, 450);
    assert.deepEqual(auto.model_mix, { small: 1 });
    assert.ok(auto.spend_usd > 0 && auto.reference_spend_usd > auto.spend_usd);
    assert.ok(Math.abs(auto.savings_usd - (auto.reference_spend_usd - auto.spend_usd)) < 1e-9);
    const spend = Number(sql(db, "SELECT SUM(cost_nanos) FROM requests WHERE route = 'auto'")) / 1e9;
    assert.ok(Math.abs(auto.spend_usd - spend) < 1e-9, `report spend ${auto.spend_usd} vs ledger ${spend}`);
  });
});
