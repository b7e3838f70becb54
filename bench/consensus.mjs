// Consensus-stage latency benchmark: what an agree stage adds over its slowest model.
//
//   node bench/consensus.mjs [--requests N] [--rounds R] [--keep]
//
// Starts rs_mock_upstream and `rightsize serve` (ports they pick) with models that answer "42"
// after a fixed delay (mock directive latency_ms) and times sequential requests, one keep-alive
// connection, through these routes (taking turns within each round, so machine load hits all alike):
//   slow80   policy fixed: the 80 ms model alone                       (the floor of the agree stage)
//   agree    agree [20 ms, 40 ms, 80 ms], min_votes 3 -> big          (all agree: big is never asked)
//   chain    the same three models as a plain cascade whose check fails every answer, so they are
//            asked one after another (what a sequential cascade would cost: about the sum)
//   fixed0   policy fixed: a model with no delay                       (the gateway hop alone)
//   agree0   agree [3 models with no delay], min_votes 3               (consensus overhead alone)
// Prints p50/p90/p99 per route in ms and "agree - slow80", "agree0 - fixed0". Numbers only: nothing
// is asserted about time. Binaries: $RIGHTSIZE_BIN, $RS_MOCK_UPSTREAM_BIN (default: build/app/rightsize,
// build/tests/fakes/rs_mock_upstream).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REQUESTS = opt('--requests', 100);  // per route and round
const ROUNDS = opt('--rounds', 3);
const KEEP = args.includes('--keep');

const bin = (env, rel) => {
  const p = process.env[env] || join(repoRoot, rel);
  if (!existsSync(p)) throw new Error(`${p} not found (build it or set ${env})`);
  return p;
};
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(cmd, argv) {
  return new Promise((res, rej) => {
    const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    let log = '';
    const onData = (d) => {
      log += d;
      const m = log.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) res({ proc, port: Number(m[1]) });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => rej(new Error(`${cmd} exited (${code}):\n${log}`)));
    setTimeout(() => rej(new Error(`${cmd} did not start:\n${log}`)), 15000);
  });
}

const dir = mkdtempSync(join(tmpdir(), 'rightsize-consensus-bench-'));
const mock = await start(bin('RS_MOCK_UPSTREAM_BIN', 'build/tests/fakes/rs_mock_upstream'), ['--port', '0', '--threads', '2']);
const model = (name, ms) =>
  `  ${name}: {provider: mock, id: "${name};latency_ms=${ms};reply=42", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}`;
const config = `
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", retry: {max_attempts: 1}}
models:
${model('m20', 20)}
${model('m40', 40)}
${model('m80', 80)}
${model('z1', 0)}
${model('z2', 0)}
${model('z3', 0)}
  big: {provider: mock, id: "big;reply=42", input_usd_per_mtok: 10, output_usd_per_mtok: 10}
routes:
  slow80: {policy: fixed, candidates: [m80]}
  agree:
    policy: cascade
    candidates: [m20, m40, m80, big]
    cascade: {stages: [{kind: agree, models: [m20, m40, m80], min_votes: 3, extract: number}, {kind: model, model: big}]}
  chain: {policy: cascade, candidates: [m20, m40, m80], cascade: {checks: [{kind: regex, pattern: "^never$"}]}}
  fixed0: {policy: fixed, candidates: [z1]}
  agree0:
    policy: cascade
    candidates: [z1, z2, z3, big]
    cascade: {stages: [{kind: agree, models: [z1, z2, z3], min_votes: 3, extract: number}, {kind: model, model: big}]}
privacy: {pii_detection: false}
ledger: {kind: "off"}
`;
writeFileSync(join(dir, 'rightsize.yaml'), config);
const gw = await start(bin('RIGHTSIZE_BIN', 'build/app/rightsize'), ['serve', '--config', join(dir, 'rightsize.yaml')]);
const url = `http://127.0.0.1:${gw.port}/v1/chat/completions`;

async function once(route) {
  const t0 = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: route, messages: [{ role: 'user', content: 'What is 6 times 7?' }] }),
  });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200 || !body.includes('42')) throw new Error(`${route}: HTTP ${res.status} ${body.slice(0, 300)}`);
  return { ms, attempts: Number(res.headers.get('x-rightsize-attempts')) };
}

const routes = ['slow80', 'agree', 'chain', 'fixed0', 'agree0'];
const samples = Object.fromEntries(routes.map((r) => [r, []]));
const attempts = {};
for (const r of routes) attempts[r] = (await once(r)).attempts;  // warm-up, and the calls each makes
for (let round = 0; round < ROUNDS; round++) {
  for (const r of routes) {
    for (let i = 0; i < REQUESTS; i++) samples[r].push((await once(r)).ms);
  }
  process.stderr.write(`[consensus] round ${round + 1}/${ROUNDS} done\n`);
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};
const f = (x) => x.toFixed(2);
console.log(`## consensus stage latency (${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
console.log(`${ROUNDS} rounds x ${REQUESTS} sequential requests per route, one keep-alive connection, rightsize 1 thread\n`);
console.log('| route | upstream calls | p50 ms | p90 ms | p99 ms |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of routes) console.log(`| ${r} | ${attempts[r]} | ${f(pct(samples[r], 0.5))} | ${f(pct(samples[r], 0.9))} | ${f(pct(samples[r], 0.99))} |`);
const diff = (a, b, p) => {
  const d = pct(samples[a], p) - pct(samples[b], p);
  return (d >= 0 ? '+' : '') + f(d);
};
console.log(`\n- agree [20, 40, 80 ms] over its slowest model alone: p50 ${diff('agree', 'slow80', 0.5)} ms, p99 ${diff('agree', 'slow80', 0.99)} ms`);
console.log(`- the same models one after another (chain): p50 ${f(pct(samples.chain, 0.5))} ms`);
console.log(`- agree of 3 instant models over 1 instant model: p50 ${diff('agree0', 'fixed0', 0.5)} ms, p99 ${diff('agree0', 'fixed0', 0.99)} ms`);

gw.proc.kill('SIGTERM');
mock.proc.kill('SIGTERM');
if (KEEP) console.error(`kept ${dir}`);
else rmSync(dir, { recursive: true, force: true });
