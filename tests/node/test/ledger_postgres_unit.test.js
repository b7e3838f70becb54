// Runs the C++ PostgresSink unit tests (tests/unit/ledger/postgres_sink_test.cc, which skip without
// a server) against a real PostgreSQL started by lib/postgres.js, so CI runs them too.
// The binary: $RS_UNIT_LEDGER_BIN, else build-dir/tests/rs_unit_ledger next to $RIGHTSIZE_BIN's app/.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';

import { gatewayBinary } from '../lib/harness.js';
import { startPostgres } from '../lib/postgres.js';

function unitBinary() {
  if (process.env.RS_UNIT_LEDGER_BIN) return process.env.RS_UNIT_LEDGER_BIN;
  return join(dirname(dirname(gatewayBinary())), 'tests', 'rs_unit_ledger');
}

let pg;
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
});

test('the PostgresSink unit tests pass against a real server (none skipped)', () => {
  const bin = unitBinary();
  assert.ok(existsSync(bin), `${bin} not found: build rs_unit_ledger or set RS_UNIT_LEDGER_BIN`);
  const run = spawnSync(bin, ['--gtest_filter=PostgresSink.*', '--gtest_brief=0'], {
    encoding: 'utf8',
    env: { ...process.env, RS_TEST_PG_URL: pg.url },
    timeout: 120000,
  });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const passed = run.stdout.match(/\[ {2}PASSED {2}\] (\d+) tests?/);
  assert.ok(passed, run.stdout);
  assert.ok(Number(passed[1]) >= 9, `only ${passed[1]} tests passed`);
  assert.doesNotMatch(run.stdout, /SKIPPED/, run.stdout);
});
