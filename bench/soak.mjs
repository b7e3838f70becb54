// Soak driver (bench/soak.sh runs it): starts rs_mock_upstream and the rightsize gateway, sends
// mixed plain/streaming traffic with injected upstream faults for a fixed time, samples the
// gateway's RSS and open file descriptors, writes a CSV and a summary, and fails on growth.
//
//   node bench/soak.mjs --seconds S --out DIR [--concurrency N] [--sample-ms MS]
//
// Binaries: $RIGHTSIZE_BIN and $RS_MOCK_UPSTREAM_BIN (default build/app/rightsize and
// build/tests/fakes/rs_mock_upstream).
//
// Traffic mix (weights): plain answers, streams, a model whose upstream always answers 503 (the
// route falls back to a healthy model), 500 without a fallback (502 to the client), resets
// mid-stream (SSE error event), an upstream that hangs (504 after first_byte_timeout), slow
// upstreams (latency_ms), truncated bodies (502), 429 with Retry-After (retried, then fallback),
// clients that disconnect mid-stream, malformed JSON (400). Every answer is checked against
// the status (and for streams the ending) that kind must give; a wrong answer is an error.
//
// Pass criteria (after a warm-up of max(20 s, 20% of the run)):
//   - RSS: the least-squares slope of RSS over the post-warm-up samples, times the post-warm-up
//     duration, is at most max(8 MiB, 10% of the RSS at the end of the warm-up);
//   - fds: after the load stops and every client connection is closed, the gateway's fd count is
//     at most its count before any load + the upstream keep-alive pool bound
//     (max_idle_connections per provider) + 2; and during the run the count never exceeds
//     that + 2 x concurrency (one client and one upstream socket per request in flight);
//   - wrong answers: at most 0.5% of requests (and no request at all may hang past 30 s).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
const SECONDS = Number(arg('seconds', '120'));
const OUT = resolve(arg('out', join(repoRoot, 'build', 'soak')));
const CONCURRENCY = Number(arg('concurrency', '16'));
const SAMPLE_MS = Number(arg('sample-ms', '2000'));
const POOL = 4;  // max_idle_connections per provider in the generated config
const PROVIDERS = 3;
if (!(SECONDS > 0) || !(CONCURRENCY > 0) || !(SAMPLE_MS >= 100)) {
  console.error('soak: bad arguments (need --seconds > 0, --concurrency > 0, --sample-ms >= 100)');
  process.exit(2);
}
mkdirSync(OUT, { recursive: true });

const bin = (env, rel) => {
  const p = process.env[env] ? resolve(process.env[env]) : join(repoRoot, rel);
  if (!existsSync(p)) {
    console.error(`soak: ${p} does not exist (set ${env})`);
    process.exit(2);
  }
  return p;
};
const GATEWAY = bin('RIGHTSIZE_BIN', 'build/app/rightsize');
const MOCK = bin('RS_MOCK_UPSTREAM_BIN', 'build/tests/fakes/rs_mock_upstream');

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function startListening(cmd, args, logFile) {
  return new Promise((res, rej) => {
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    const log = createWriteStream(logFile);
    let seen = '';
    let done = false;
    const onData = (b) => {
      log.write(b);
      if (done) return;
      seen += b.toString();
      const m = seen.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) {
        done = true;
        res({ proc, port: Number(m[1]) });
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      if (!done) rej(new Error(`${cmd} exited (${code}) before listening; see ${logFile}`));
    });
    setTimeout(() => !done && rej(new Error(`${cmd} did not start; see ${logFile}`)), 20000);
  });
}

function gatewayConfig(mockPort) {
  const up = `http://127.0.0.1:${mockPort}/v1`;
  return `
server: {listen: "127.0.0.1:0", threads: 2, header_timeout_ms: 2000, read_timeout_ms: 5000, log_level: info}
providers:
  mock:   {kind: openai, base_url: "${up}", api_key: "sk-soak", max_idle_connections: ${POOL},
           retry: {max_attempts: 2, base_backoff_ms: 5, max_backoff_ms: 20, max_retry_after_ms: 1500},
           breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  faulty: {kind: openai, base_url: "${up}", max_idle_connections: ${POOL},
           retry: {max_attempts: 2, base_backoff_ms: 5, max_backoff_ms: 20, max_retry_after_ms: 1500},
           breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  quick:  {kind: openai, base_url: "${up}", first_byte_timeout_ms: 300, max_idle_connections: ${POOL},
           retry: {max_attempts: 1}, breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
models:
  small:      {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  streamer:   {provider: mock, id: "mock-small;chunks=8;chunk_ms=2"}
  down:       {provider: faulty, id: "mock-small;status=503"}
  broken:     {provider: faulty, id: "mock-small;status=500"}
  resetting:  {provider: faulty, id: "mock-small;chunks=10;reset_after=3"}
  hanging:    {provider: quick, id: "mock-small;hang=1"}
  slow:       {provider: mock, id: "mock-small;latency_ms=150"}
  truncating: {provider: faulty, id: "mock-small;truncate=1"}
  limited:    {provider: faulty, id: "mock-small;status=429;retry_after=1"}
  endless:    {provider: mock, id: "mock-small;chunks=200;chunk_ms=10"}
routes:
  resilient:  {candidates: [down], fallback: [small], policy: fixed}
  throttled:  {candidates: [limited], fallback: [small], policy: fixed}
ledger: {kind: "off"}
`;
}

// kind -> {weight, body, check(status, text) -> null | "what was wrong", abort: abort after first chunk}
const USER = 'Summarize: the soak test keeps the gateway busy with a mix of good and bad upstreams.';
const req = (model, extra = {}) => JSON.stringify({ model, messages: [{ role: 'user', content: USER }], ...extra });
const want = (status) => (s) => (s === status ? null : `status ${s}, want ${status}`);
const streamOk = (s, t) => (s !== 200 ? `status ${s}` : t.includes('data: [DONE]') ? null : 'stream without [DONE]');
const streamErr = (s, t) =>
  s !== 200 ? `status ${s}` : /"error"/.test(t) && !t.includes('[DONE]') ? null : 'reset stream without an error event';
const KINDS = [
  { name: 'plain', weight: 30, body: req('small'), check: want(200) },
  { name: 'stream', weight: 22, body: req('streamer', { stream: true }), check: streamOk },
  { name: 'fallback_503', weight: 8, body: req('resilient'), check: want(200) },
  { name: 'upstream_500', weight: 5, body: req('broken'), check: want(502) },
  { name: 'reset_mid_stream', weight: 6, body: req('resetting', { stream: true }), check: streamErr },
  { name: 'hang', weight: 4, body: req('hanging'), check: want(504) },
  { name: 'slow', weight: 6, body: req('slow'), check: want(200) },
  { name: 'truncated', weight: 4, body: req('truncating'), check: want(502) },
  { name: 'throttled_429', weight: 2, body: req('throttled'), check: want(200) },
  { name: 'client_abort', weight: 6, body: req('endless', { stream: true }), abort: true, check: () => null },
  { name: 'malformed', weight: 3, body: '{"model": "small", "messages": [', check: want(400) },
  { name: 'stream_usage', weight: 4, body: req('small', { stream: true, stream_options: { include_usage: true } }), check: streamOk },
];
const totalWeight = KINDS.reduce((a, k) => a + k.weight, 0);
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
function pickKind() {
  let r = rand() * totalWeight;
  for (const k of KINDS) if ((r -= k.weight) < 0) return k;
  return KINDS[0];
}

function send(agent, port, kind) {
  return new Promise((res) => {
    const t0 = Date.now();
    const r = http.request(
      { host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(kind.body) } },
      (resp) => {
        let text = '';
        resp.setEncoding('utf8');
        resp.on('data', (d) => {
          text += d;
          if (kind.abort) {
            r.destroy();
            res({ ok: true, ms: Date.now() - t0 });
          }
        });
        resp.on('end', () => {
          const why = kind.check(resp.statusCode, text);
          res({ ok: !why, why, ms: Date.now() - t0 });
        });
        resp.on('error', () => {});
        resp.on('aborted', () => {});
      },
    );
    r.setTimeout(30000, () => {
      r.destroy();
      res({ ok: false, why: 'no answer within 30 s', ms: Date.now() - t0, hung: true });
    });
    r.on('error', (e) => {
      if (!kind.abort) res({ ok: false, why: `client error: ${e.message}`, ms: Date.now() - t0 });
    });
    r.end(kind.body);
  });
}

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(status.match(/VmRSS:\s+(\d+)/)[1]);
  const threads = Number(status.match(/Threads:\s+(\d+)/)[1]);
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  return { rssKb: rss, fds, threads };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function slope(xs, ys) {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

async function main() {
  const mock = await startListening(MOCK, ['--port', '0', '--threads', '2'], join(OUT, 'mock.log'));
  const cfgPath = join(OUT, 'soak.yaml');
  writeFileSync(cfgPath, gatewayConfig(mock.port));
  const gw = await startListening(GATEWAY, ['serve', '--config', cfgPath], join(OUT, 'gateway.log'));
  const pid = gw.proc.pid;
  await sleep(500);
  const start = sample(pid);
  const t0 = Date.now();
  const csv = ['t_s,rss_kb,fds,threads,requests,wrong'];
  const samples = [];
  const stats = new Map(KINDS.map((k) => [k.name, { n: 0, wrong: 0, maxMs: 0 }]));
  let requests = 0;
  let wrong = 0;
  let hung = 0;
  const examples = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  const take = () => {
    const s = sample(pid);
    const t = (Date.now() - t0) / 1000;
    samples.push({ t, ...s });
    csv.push(`${t.toFixed(1)},${s.rssKb},${s.fds},${s.threads},${requests},${wrong}`);
  };
  take();
  const sampler = setInterval(take, SAMPLE_MS);
  const deadline = t0 + SECONDS * 1000;
  const worker = async () => {
    while (Date.now() < deadline) {
      const kind = pickKind();
      const r = await send(agent, gw.port, kind);
      requests++;
      const st = stats.get(kind.name);
      st.n++;
      st.maxMs = Math.max(st.maxMs, r.ms);
      if (!r.ok) {
        wrong++;
        st.wrong++;
        if (r.hung) hung++;
        if (examples.length < 10) examples.push(`${kind.name}: ${r.why}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  clearInterval(sampler);
  take();
  agent.destroy();
  // Let the gateway notice the closed client connections and the aborted upstream calls end.
  let end = sample(pid);
  const fdLimit = start.fds + POOL * PROVIDERS + 2;
  for (let i = 0; i < 50 && end.fds > fdLimit; i++) {
    await sleep(100);
    end = sample(pid);
  }
  writeFileSync(join(OUT, 'soak.csv'), csv.join('\n') + '\n');

  const warm = Math.max(20, SECONDS * 0.2);
  const post = samples.filter((s) => s.t >= warm && s.t <= SECONDS + 1);
  const failures = [];
  let growthKb = 0;
  let warmRss = start.rssKb;
  if (post.length >= 3) {
    warmRss = post[0].rssKb;
    const k = slope(post.map((s) => s.t), post.map((s) => s.rssKb));  // KiB per second
    growthKb = k * (post[post.length - 1].t - post[0].t);
    const allowed = Math.max(8 * 1024, 0.1 * warmRss);
    if (growthKb > allowed)
      failures.push(`RSS grew ${(growthKb / 1024).toFixed(1)} MiB after warm-up (trend), allowed ${(allowed / 1024).toFixed(1)} MiB`);
  } else {
    failures.push(`only ${post.length} samples after the ${warm} s warm-up: run longer (--seconds)`);
  }
  const maxFds = Math.max(...samples.map((s) => s.fds));
  if (end.fds > fdLimit) failures.push(`fds after the load: ${end.fds}, before: ${start.fds} (allowed ${fdLimit})`);
  if (maxFds > fdLimit + 2 * CONCURRENCY)
    failures.push(`fds peaked at ${maxFds} with ${CONCURRENCY} clients (allowed ${fdLimit + 2 * CONCURRENCY})`);
  if (wrong > requests * 0.005) failures.push(`${wrong} of ${requests} answers were wrong (allowed 0.5%)`);
  if (hung > 0) failures.push(`${hung} requests got no answer within 30 s`);
  if (gw.proc.exitCode !== null || gw.proc.signalCode !== null) failures.push('the gateway died during the soak');
  const rssMax = Math.max(...samples.map((s) => s.rssKb));

  const lines = [];
  lines.push(`soak: ${SECONDS} s, ${CONCURRENCY} clients, ${requests} requests (${(requests / SECONDS).toFixed(0)}/s), ${wrong} wrong`);
  lines.push(`soak: RSS start ${(start.rssKb / 1024).toFixed(1)} MiB, after warm-up ${(warmRss / 1024).toFixed(1)} MiB, ` +
             `max ${(rssMax / 1024).toFixed(1)} MiB, end ${(end.rssKb / 1024).toFixed(1)} MiB, trend after warm-up ${(growthKb / 1024).toFixed(2)} MiB`);
  lines.push(`soak: fds start ${start.fds}, max ${maxFds}, after load ${end.fds}; threads ${end.threads}`);
  for (const [name, s] of stats) lines.push(`soak:   ${name.padEnd(17)} n=${String(s.n).padStart(6)} wrong=${s.wrong} max=${s.maxMs} ms`);
  for (const e of examples) lines.push(`soak:   example wrong answer: ${e}`);
  lines.push(failures.length ? `soak: FAILED: ${failures.join('; ')}` : 'soak: OK (no RSS or fd growth, every answer as expected)');
  lines.push(`soak: samples in ${join(OUT, 'soak.csv')}, logs in ${OUT}`);
  writeFileSync(join(OUT, 'summary.txt'), lines.join('\n') + '\n');
  console.log(lines.join('\n'));

  gw.proc.kill('SIGTERM');
  mock.proc.kill('SIGTERM');
  await sleep(300);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(`soak: ${e.stack || e}`);
  process.exit(2);
});
