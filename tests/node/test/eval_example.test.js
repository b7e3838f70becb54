// The worked example (examples/eval/run.sh) end to end, as a new user runs it: eval over the
// replay provider (no API key), --select, train, simulate, a routed gateway config checked with
// `serve --check`, and one `route` decision. Needs RIGHTSIZE_BIN (or build/app/rightsize).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { after, test } from 'node:test';

import { gatewayBinary } from '../lib/harness.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const out = mkdtempSync(join(tmpdir(), 'rightsize-eval-example-'));
after(() => rmSync(out, { recursive: true, force: true }));

test('examples/eval/run.sh goes from labelled cases to the cheapest model per task and a router', () => {
  const r = spawnSync('bash', [join(repoRoot, 'examples/eval/run.sh')],
    { encoding: 'utf8', timeout: 120000, env: { ...process.env, RIGHTSIZE: gatewayBinary(), OUT_DIR: out } });
  assert.equal(r.status, 0, `run.sh failed:\n${r.stderr}\n${r.stdout}`);
  // eval: 80 cases, each answered by all 11 candidates, nothing failed.
  assert.match(r.stderr, /880 cells: 0 already done, 880 run \(0 failed\)/);
  const lines = gunzipSync(readFileSync(join(out, 'outcomes.jsonl.gz'))).toString('utf8').trim().split('\n');
  assert.equal(lines.length, 80);
  for (const line of lines) assert.equal(Object.keys(JSON.parse(line).outcomes).length, 11);
  // --select: the recorded answers decide these; they are the README's numbers.
  const sel = readFileSync(join(out, 'select.txt'), 'utf8');
  assert.match(sel, /arc-challenge\s+yi-34b\s+90\.0%/);
  assert.match(sel, /winogrande\s+\(none clears the bar\).*best is gpt-4 at 83\.3%/);
  assert.match(sel, /mbpp-format\s+mistral-7b\s+95\.0%/);
  // train + simulate ran, and the routed config passed `serve --check`, and route chose a model.
  assert.ok(existsSync(join(out, 'router.rsr')));
  assert.match(r.stdout, /single: gpt-4/);
  assert.match(r.stdout, /chosen: \S+/);
  assert.ok(existsSync(join(out, 'simulate.svg')));
  const html = readFileSync(join(out, 'outcomes.html'), 'utf8');
  assert.equal((html.match(/<svg /g) || []).length, 3);
});
