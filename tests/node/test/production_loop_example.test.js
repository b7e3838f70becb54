// The production loop example (examples/production-loop/run.sh) end to end, as a new user runs it,
// with no API key: a cheap fixed route shadowed by gpt-4 at sample 1.0 over the replay provider,
// `report` with the agreement, `export-outcomes` -> `plan` -> SIGHUP reload in the same process,
// and a request served by the planned route. Needs RIGHTSIZE_BIN (or build/app/rightsize).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, test } from 'node:test';

import { gatewayBinary } from '../lib/harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const out = mkdtempSync(join(tmpdir(), 'rightsize-production-loop-'));
after(() => rmSync(out, { recursive: true, force: true }));

test('examples/production-loop/run.sh: shadow -> report -> export-outcomes -> plan -> reload', () => {
  const r = spawnSync('bash', [join(repoRoot, 'examples/production-loop/run.sh')],
    { encoding: 'utf8', timeout: 120000, env: { ...process.env, RIGHTSIZE: gatewayBinary(), OUT_DIR: out, REQUESTS: '60' } });
  assert.equal(r.status, 0, `run.sh failed:\n${r.stderr}\n${r.stdout}`);
  assert.match(r.stderr, /graded: 60 of 60/);
  // report: every request served by the cheap model, each shadowed, its agreement with an interval.
  assert.match(r.stdout, /^auto +60 .*mixtral-8x7b 100%$/m);
  const shadow = r.stdout.match(/^auto +mixtral-8x7b +gpt-4 +60 .* 60 +agree +([0-9.]+) \[([0-9.]+), ([0-9.]+)\]/m);
  assert.ok(shadow, r.stdout);
  const [q, lo, hi] = shadow.slice(1).map(Number);
  assert.ok(lo < q && q < hi && q > 0.5 && q < 1, `agreement ${q} [${lo}, ${hi}]`);
  // export: one outcome line per shadowed request, both models with their answers.
  const lines = gunzipSync(readFileSync(join(out, 'production.jsonl.gz'))).toString('utf8').trim().split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, 60);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l.outcomes).sort(), ['gpt-4', 'mixtral-8x7b']);
    assert.equal(typeof l.outcomes['mixtral-8x7b'].response, 'string');
  }
  const agreeing = lines.filter((l) => l.outcomes['mixtral-8x7b'].score === 1).length;
  assert.ok(Math.abs(agreeing / 60 - q) < 0.001, `exported agreement ${agreeing}/60 vs report ${q}`);
  // plan wrote a route of the data's models, and the same gateway process serves it after SIGHUP.
  const routes = readFileSync(join(out, 'routes.yaml'), 'utf8');
  const planned = routes.match(/candidates: \["([^"]+)"/)[1];
  assert.ok(['gpt-4', 'mixtral-8x7b'].includes(planned), routes);
  assert.match(r.stderr, /rightsize_config_reloads_total\{result="ok"\} 1/);
  assert.match(r.stdout, new RegExp(`after the reload, prompt 61 was answered by: ${planned}$`, 'm'));
});
