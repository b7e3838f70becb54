// `rightsize eval` end to end against the mock upstream (tests/fakes): graded answers, retries of
// failing upstreams, slow and hanging upstreams, the concurrency limit, a judge model, resume after
// the process is killed mid-run, the outcome file read back by `rightsize train`/`simulate`, the
// Markdown/HTML report (the HTML is checked as well-formed XML), and --select's routes snippet.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { gatewayBinary, startMock, waitFor } from '../lib/harness.js';

const enc = (s) => encodeURIComponent(s);  // mock `reply=` text: %XX-encoded (";" must be %3B)

function readJsonl(path) {
  let buf = readFileSync(path);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  return buf.toString('utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

function run(args, opts = {}) {
  return spawnSync(gatewayBinary(), args, { encoding: 'utf8', timeout: 60000, ...opts });
}

// Minimal XML well-formedness check: balanced tags, quoted attributes, escaped text. Throws with
// the position of the first problem.
function assertWellFormedXml(text) {
  const stack = [];
  let i = 0;
  const fail = (msg) => { throw new Error(`${msg} at offset ${i}: ${JSON.stringify(text.slice(i, i + 60))}`); };
  const checkText = (t) => {
    const bad = t.match(/&(?!(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);)|</);
    if (bad) fail(`unescaped '${bad[0]}' in text`);
  };
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) { checkText(text.slice(i)); break; }
    checkText(text.slice(i, lt));
    i = lt;
    if (text.startsWith('<!--', i)) { const e = text.indexOf('-->', i); if (e < 0) fail('open comment'); i = e + 3; continue; }
    if (text.startsWith('<!DOCTYPE', i) || text.startsWith('<?', i)) { const e = text.indexOf('>', i); i = e + 1; continue; }
    const gt = text.indexOf('>', i);
    if (gt < 0) fail('open tag');
    const tag = text.slice(i + 1, gt);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      if (stack.pop() !== name) fail(`closing </${name}> does not match`);
    } else {
      const m = tag.match(/^([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/);
      if (!m) fail(`malformed tag <${tag.slice(0, 40)}>`);
      if (!m[3]) stack.push(m[1]);
    }
    i = gt + 1;
  }
  if (stack.length) throw new Error(`unclosed tags: ${stack.join(', ')}`);
}

describe('rightsize eval', () => {
  let mock;
  let dir;
  let configPath;

  before(async () => {
    mock = await startMock();
    dir = mkdtempSync(join(tmpdir(), 'rightsize-eval-'));
    configPath = join(dir, 'gateway.yaml');
    const base = `http://127.0.0.1:${mock.port}/v1`;
    writeFileSync(configPath, `
providers:
  mock: {kind: openai, base_url: "${base}", retry: {max_attempts: 3, base_backoff_ms: 5, max_backoff_ms: 20}}
models:
  cheap:    {provider: mock, id: "cheap;reply=B", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  wrong:    {provider: mock, id: "wrong;reply=The%20answer%20is%20C.", input_usd_per_mtok: 0.5, output_usd_per_mtok: 1}
  flaky:    {provider: mock, id: "flaky;reply=B;status=500;fail_first=2", input_usd_per_mtok: 1, output_usd_per_mtok: 2}
  slow:     {provider: mock, id: "slow;reply=B;latency_ms=250", input_usd_per_mtok: 2, output_usd_per_mtok: 4}
  down:     {provider: mock, id: "down;status=503", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  hangs:    {provider: mock, id: "hangs;hang=1", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  dear:     {provider: mock, id: "dear;reply=B", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  judge-ok: {provider: mock, id: "judge-ok;reply=${enc('{"score": 0.8, "reason": "fine"}')}", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  judge-prose: {provider: mock, id: "judge-prose;reply=${enc('This answer looks quite good to me.')}", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  snail:    {provider: mock, id: "snail;reply=B;latency_ms=150", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  echo:     {provider: mock, id: echo, input_usd_per_mtok: 1, output_usd_per_mtok: 1}
ledger: {kind: "off"}
`);
  });

  after(async () => {
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases = (n, prefix = 'q') =>
    Array.from({ length: n }, (_, k) => ({ id: `${prefix}${k}`, prompt: `Question ${prefix}${k}: pick A or B.`, expected: 'B' }));

  test('grades every candidate, retries failing upstreams, records failures and timeouts as errors', async () => {
    const casesPath = join(dir, 'mc.jsonl');
    writeFileSync(casesPath, cases(6).map((c) => JSON.stringify(c)).join('\n') + '\n');
    const suite = join(dir, 'suite1.yaml');
    writeFileSync(suite, `
name: faults
candidates: [cheap, wrong, flaky, slow, down, hangs, dear]
concurrency: 2
timeout_ms: 400
max_attempts: 3
tasks:
  - name: mc
    grader: {kind: choice, choices: AB}
    cases_file: mc.jsonl
`);
    const out = join(dir, 'faults.jsonl.gz');
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', out]);
    assert.equal(r.status, 1, `eval should exit 1 when cells failed; stderr:\n${r.stderr}`);
    assert.match(r.stderr, /some calls failed/);
    assert.match(r.stderr, /42 cells: 0 already done, 42 run \(12 failed\)/);
    const recs = readJsonl(out);
    assert.equal(recs.length, 6);
    for (const rec of recs) {
      assert.equal(rec.task, 'mc');
      assert.equal(rec.expected, 'B');
      assert.equal(rec.outcomes.cheap.score, 1);
      assert.equal(rec.outcomes.cheap.response, 'B');
      assert.equal(rec.outcomes.wrong.score, 0, 'extracted C, expected B');
      assert.equal(rec.outcomes.flaky.score, 1, 'the flaky upstream succeeds after retries');
      assert.ok(rec.outcomes.slow.latency_ms >= 240, `slow latency ${rec.outcomes.slow.latency_ms}`);
      assert.equal(rec.outcomes.down, undefined, 'a failed call is never a score');
      assert.match(rec.errors.down, /503/);
      assert.match(rec.errors.hangs, /time/i);
      assert.equal(rec.outcomes.hangs, undefined);
      // cost = usage x prices: the mock reports prompt tokens = ceil(chars / 4) and 1 word out.
      const inTok = Math.ceil(rec.prompt.length / 4);
      assert.ok(Math.abs(rec.outcomes.dear.cost_usd - (inTok * 10 + 1 * 30) / 1e6) < 1e-12, `dear cost ${rec.outcomes.dear.cost_usd}`);
      assert.equal(rec.outcomes.dear.tokens_in, inTok);
    }
    // fail_first=2: the first flaky call fails twice, then succeeds on its third attempt.
    assert.equal(recs[0].outcomes.flaky.attempts, 3, 'the first flaky call needed two retries');
    // The down upstream was tried max_attempts times per case (503 is retryable).
    const stats = await mock.stats();
    assert.equal(stats.by_model['down;status=503'], 6 * 3);
    // Report files next to the outcomes.
    const md = readFileSync(join(dir, 'faults.md'), 'utf8');
    assert.match(md, /\| cheap \| 100\.0% \(6\/6\) \|/);
    assert.match(md, /\| down \| 0\.0% \(0\/6\) \| 0\.000 \| \$0 \| 0\.0 ms \| 6 \|/);
    // Rerun: only the failed cells are tried again.
    await mock.reset();
    const again = run(['eval', '--config', configPath, '--suite', suite, '--out', out, '--quiet']);
    assert.equal(again.status, 1);
    const st2 = await mock.stats();
    assert.deepEqual(Object.keys(st2.by_model).sort(), ['down;status=503', 'hangs;hang=1']);
    assert.equal(st2.by_model['down;status=503'], 6 * 3);
    assert.ok(!existsSync(`${out}.partial.jsonl`), 'the journal is removed once the outcomes file is complete');
  });

  test('never more calls in flight than the concurrency limit', () => {
    writeFileSync(join(dir, 'conc.jsonl'), cases(6, 'c').map((c) => JSON.stringify(c)).join('\n') + '\n');
    const suite = join(dir, 'conc.yaml');
    writeFileSync(suite, `
candidates: [slow]
concurrency: 2
tasks:
  - name: mc
    grader: {kind: choice, choices: AB}
    cases_file: conc.jsonl
`);
    const t0 = Date.now();
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', join(dir, 'conc.jsonl.gz'), '--quiet']);
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 0, r.stderr);
    // Six 250 ms calls, two at a time, take at least three rounds.
    assert.ok(elapsed >= 750, `finished in ${elapsed} ms: more than 2 calls were in flight`);
  });

  test('messages cases and the suite sampling settings reach the upstream as sent', async () => {
    const suite = join(dir, 'messages.yaml');
    writeFileSync(suite, `
candidates: [echo]
max_tokens: 7
temperature: 0
tasks:
  - name: chat
    grader: {kind: contains}
    cases:
      - id: m1
        messages: [{role: system, content: "Be brief."}, {role: user, content: "Say hi to Zoë"}]
        expected: "hi to zoë"
`);
    // `echo` gets the mock's default reply: "mock reply to: " + the last user message.
    await mock.reset();
    const out = join(dir, 'messages.jsonl');
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    const last = await mock.last();
    const body = JSON.parse(last.body);
    assert.deepEqual(body.messages, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hi to Zoë' }]);
    assert.equal(body.max_tokens, 7);
    assert.equal(body.temperature, 0);
    assert.equal(body.model, 'echo');
    const [rec] = readJsonl(out);
    assert.deepEqual(rec.messages, body.messages);
    assert.equal(rec.prompt, undefined);
    assert.equal(rec.outcomes.echo.score, 1);
    assert.equal(rec.outcomes.echo.response, 'mock reply to: Say hi to Zoë');
  });

  test('a judge model scores answers; prose from the judge is an error, not a score', () => {
    const suite = join(dir, 'judge.yaml');
    writeFileSync(suite, `
name: judged
candidates: [cheap, dear]
tasks:
  - name: explain
    grader: {kind: judge, model: judge-ok, rubric: "Explains the choice."}
    cases: [{id: j1, prompt: "Explain your pick: A or B?", expected: "B, because"}]
  - name: explain-prose
    grader: {kind: judge, model: judge-prose}
    cases: [{id: j2, prompt: "Explain your second pick: A or B?"}]
`);
    const out = join(dir, 'judge.jsonl');
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', out, '--quiet']);
    assert.equal(r.status, 1, r.stderr);
    const recs = Object.fromEntries(readJsonl(out).map((x) => [x.id, x]));
    assert.equal(recs.j1.outcomes.cheap.score, 0.8);
    assert.ok(recs.j1.outcomes.cheap.judge_cost_usd > 0);
    assert.equal(recs.j2.outcomes.cheap, undefined);
    assert.match(recs.j2.errors.cheap, /judge judge-prose: judge reply has no score/);
    // A task where nothing scored still gets its section (and no chart).
    assert.match(readFileSync(join(dir, 'judge.html'), 'utf8'), /<h2>explain-prose<\/h2>[\s\S]*No scored answers yet/);
  });

  test('resumes after the process is killed mid-run, calling only what is missing', async () => {
    const casesPath = join(dir, 'resume.jsonl');
    writeFileSync(casesPath, cases(12, 'r').map((c) => JSON.stringify(c)).join('\n') + '\n');
    const suite = join(dir, 'resume.yaml');
    writeFileSync(suite, `
name: resume
candidates: [snail]
concurrency: 1
tasks:
  - name: mc
    grader: {kind: choice, choices: AB}
    cases_file: resume.jsonl
`);
    const out = join(dir, 'resume.jsonl.gz');
    const journal = `${out}.partial.jsonl`;
    await mock.reset();
    const child = spawn(gatewayBinary(), ['eval', '--config', configPath, '--suite', suite, '--out', out, '--quiet'],
      { stdio: 'ignore' });
    const exited = new Promise((res) => child.on('exit', res));
    const lines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter((l) => l).length : 0);
    const enough = await waitFor(() => lines() >= 3, 15000);
    assert.ok(enough, 'the journal never reached 3 lines');
    child.kill('SIGKILL');
    await exited;
    assert.ok(!existsSync(out), 'a killed first run leaves no half-written outcomes file');
    const done = lines();
    assert.ok(done >= 3 && done < 12, `journal has ${done} lines`);
    await mock.reset();
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`12 cells: ${done} already done, ${12 - done} run \\(0 failed\\)`));
    const stats = await mock.stats();
    assert.equal(stats.by_model['snail;reply=B;latency_ms=150'], 12 - done, 'only the missing cases were called');
    const recs = readJsonl(out);
    assert.equal(recs.length, 12);
    assert.deepEqual(recs.map((x) => x.id), cases(12, 'r').map((c) => c.id), 'suite order, each case once');
    assert.ok(!existsSync(journal));
  });

  test('outcomes train a router, simulate reads them, the report is well-formed, --select prints routes', () => {
    // Two tasks where the cheap model is right on one and wrong on the other.
    const suite = join(dir, 'train.yaml');
    const mc = cases(20, 'm');
    const tf = Array.from({ length: 20 }, (_, k) => ({ id: `t${k}`, prompt: `Statement t${k} & <check>: true or false?`, expected: 'C' }));
    writeFileSync(join(dir, 'm.jsonl'), mc.map((c) => JSON.stringify(c)).join('\n') + '\n');
    writeFileSync(join(dir, 't.jsonl'), tf.map((c) => JSON.stringify(c)).join('\n') + '\n');
    writeFileSync(suite, `
name: "routing <demo> & co"
candidates: [cheap, wrong, dear]
concurrency: 4
tasks:
  - name: choose-b
    grader: {kind: choice, choices: ABC}
    cases_file: m.jsonl
  - name: choose-c
    grader: {kind: choice, choices: ABC}
    cases_file: t.jsonl
`);
    const out = join(dir, 'train.jsonl.gz');
    const r = run(['eval', '--config', configPath, '--suite', suite, '--out', out, '--select', '--pass', '0.9',
                   '--report', join(dir, 'rep')]);
    assert.equal(r.status, 0, r.stderr);
    // --select: the cheapest model clearing 90% per task, with savings and a routes snippet.
    assert.match(r.stdout, /choose-b\s+cheap\s+100\.0%/);
    assert.match(r.stdout, /choose-c\s+wrong\s+100\.0%/);
    assert.match(r.stdout, /routes:\n  choose-b:\n    candidates: \[cheap\]\n    policy: fixed\n/);
    assert.match(r.stdout, /  choose-c:\n    candidates: \[wrong\]\n/);

    const router = join(dir, 'r.rsr');
    const tr = run(['train', '--data', out, '--out', router, '--quiet']);
    assert.equal(tr.status, 0, tr.stderr);
    const sim = run(['simulate', '--router', router, '--data', out, '--plot', join(dir, 'sim.svg')]);
    assert.equal(sim.status, 0, sim.stderr);
    assert.match(sim.stdout, /single: cheap/);
    assert.match(sim.stdout, /single: dear/);

    const html = readFileSync(join(dir, 'rep.html'), 'utf8');
    assertWellFormedXml(html.replace(/^<!DOCTYPE html>\n/, ''));
    assert.equal((html.match(/<svg /g) || []).length, 2, 'one chart per task');
    assert.equal((html.match(/<table>/g) || []).length, 2, 'one table per task');
    assert.match(html, /<title>Eval report: routing &lt;demo&gt; &amp; co<\/title>/);
    assert.doesNotMatch(html, /<script|<link|\ssrc=|href=/i, 'self-contained: no scripts or external assets');
    for (const m of ['cheap', 'wrong', 'dear']) assert.match(html, new RegExp(`<td>${m}</td>`));
    const md = readFileSync(join(dir, 'rep.md'), 'utf8');
    assert.match(md, /## choose-b\n/);
    assert.match(md, /\| wrong \| 0\.0% \(0\/20\) \|/);
  });

  test('bad input: unknown candidate, bad regex and missing files are clear errors', () => {
    const suite = join(dir, 'bad.yaml');
    writeFileSync(suite, 'candidates: [cheap, gpt-7]\ntasks:\n  - name: t\n    grader: {kind: exact}\n    cases: [{prompt: p, expected: e}]\n');
    let r = run(['eval', '--config', configPath, '--suite', suite, '--out', join(dir, 'bad.jsonl')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /candidate 'gpt-7' is not a model/);
    writeFileSync(suite, 'candidates: [cheap]\ntasks:\n  - name: t\n    grader: {kind: regex, pattern: "(("}\n    cases: [{prompt: p}]\n');
    r = run(['eval', '--config', configPath, '--suite', suite, '--out', join(dir, 'bad.jsonl')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.yaml:\d+: regex grader: invalid RE2 pattern/);
    writeFileSync(suite, 'candidates: [cheap]\ntasks:\n  - name: t\n    grader: {kind: exact}\n    cases_file: nope.jsonl\n');
    r = run(['eval', '--config', configPath, '--suite', suite, '--out', join(dir, 'bad.jsonl')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot read cases_file '.*nope\.jsonl'/);
    assert.ok(!existsSync(join(dir, 'bad.jsonl')), 'nothing is written for a suite that does not load');
  });
});
