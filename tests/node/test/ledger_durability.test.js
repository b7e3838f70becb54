// Ledger durability with real databases, for both sinks (SQLite file, PostgreSQL server started by
// lib/postgres.js): under 50 concurrent clients the ledger holds exactly one row per request (the
// same request ids, no more, no fewer); SIGTERM loses nothing; kill -9 loses at most what was
// answered in the last flush interval (100 ms): every request answered more than that before the
// kill is stored, and nothing that was not sent appears. The gateway restarts on the same ledger.
// Needs RIGHTSIZE_BIN, RS_MOCK_UPSTREAM_BIN (or the binaries in build/), sqlite3 and PostgreSQL 15.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startGateway, startMock, stopProcess } from '../lib/harness.js';
import { startPostgres } from '../lib/postgres.js';

// Sends `n` chat requests from `clients` concurrent clients; resolves with the x-request-id of each.
async function load(baseURL, n, clients, tag) {
  const ids = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const res = await fetch(`${baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'auto', stream: i % 4 === 0, messages: [{ role: 'user', content: `${tag} ${i}` }] }),
      });
      await res.text();
      assert.equal(res.status, 200);
      ids.push(res.headers.get('x-request-id'));
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return ids;
}

function killHard(proc) {
  return new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.kill('SIGKILL');
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (const kind of ['sqlite', 'postgres']) {
  describe(`ledger durability (${kind})`, () => {
    let dir;
    let mock;
    let pg;
    let ledgerYaml;
    let storedIds; // async () => [request_id...]

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `rightsize-durability-${kind}-`));
      mock = await startMock();
      if (kind === 'sqlite') {
        const db = join(dir, 'ledger.db');
        ledgerYaml = `{kind: sqlite, path: "${db}"}`;
        storedIds = async () => execFileSync('sqlite3', ['-readonly', db, 'SELECT request_id FROM requests'],
          { encoding: 'utf8' }).split('\n').filter(Boolean);
      } else {
        pg = await startPostgres();
        ledgerYaml = `{kind: postgres, dsn: "${pg.url}", spill_path: "${join(dir, 'spill.jsonl')}"}`;
        storedIds = async () => (await pg.psql('SELECT request_id FROM requests')).split('\n').filter(Boolean);
      }
    });
    after(async () => {
      await mock?.stop();
      await pg?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const config = () => `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 1, output_usd_per_mtok: 2}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
routes:
  auto: {candidates: [small, big], policy: cheapest, reference: big}
ledger: ${ledgerYaml}
`;

    test('600 requests from 50 clients, then SIGTERM: exactly those 600 rows', async () => {
      const gw = await startGateway(config());
      const sent = await load(gw.baseURL, 600, 50, 'sigterm');
      await stopProcess(gw.proc, 20000);
      assert.equal(gw.proc.exitCode, 0, gw.output());
      await gw.stop();
      const stored = await storedIds();
      assert.equal(stored.length, 600);
      assert.deepEqual(new Set(stored), new Set(sent));
    });

    test('kill -9 loses at most the last flush interval; the gateway restarts on the same ledger', async () => {
      const before = (await storedIds()).length;
      const gw = await startGateway(config());
      const settled = await load(gw.baseURL, 400, 50, 'settled');
      await sleep(1000); // 10 flush intervals: everything above is committed
      const racing = await load(gw.baseURL, 200, 50, 'racing'); // answered right before the kill: may be lost
      await killHard(gw.proc);
      await gw.stop();
      const stored = await storedIds();
      const storedSet = new Set(stored);
      assert.equal(storedSet.size, stored.length, 'no row twice');
      for (const id of settled) assert.ok(storedSet.has(id), `request ${id} answered 1 s before the kill is lost`);
      const allowed = new Set([...settled, ...racing]);
      const fresh = stored.slice(0).filter((id) => !allowed.has(id));
      assert.equal(fresh.length, before, 'only the earlier test\'s rows and this test\'s requests are stored');
      assert.ok(stored.length >= before + 400 && stored.length <= before + 600, `${stored.length} rows`);

      // Restart on the same ledger: it opens, serves, and SIGTERM writes the new rows too.
      const again = await startGateway(config());
      const more = await load(again.baseURL, 50, 10, 'after-restart');
      await stopProcess(again.proc, 20000);
      assert.equal(again.proc.exitCode, 0, again.output());
      await again.stop();
      const final = new Set(await storedIds());
      for (const id of more) assert.ok(final.has(id));
      assert.equal(final.size, stored.length + 50);
    });
  });
}
