// Fault suite with leak checks. Every fault is sent in a batch (several at once) twice: the first
// batch warms the gateway up (allocator arenas, the upstream keep-alive pool), then the gateway's
// open file descriptors (/proc/PID/fd) and VmRSS are read, the batch runs again `reps` times, and
// both are read again. A leak of a socket, a timer or a buffer per request shows as growth
// proportional to the requests sent; the bounds allow only small constant noise:
//   fds:  after <= before + 2 (and never more than the count at start-up + the upstream pool bound)
//   RSS:  after <= before + max(4 MiB, 5%)   (skipped for an ASan build, whose quarantine holds
//         freed memory by design; the ASan run checks leaks with LeakSanitizer instead)
// Each test also states what the client sees for that fault.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { startGateway, startMock, waitFor } from '../lib/harness.js';

const USER = 'Classify this ticket: my invoice is wrong';
const POOL = 2;  // max_idle_connections per provider below
const PROVIDERS = 7;

// ---------------------------------------------------------------------------------------------
// Process probes.
function procStats(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    fds: readdirSync(`/proc/${pid}/fd`).length,
    rssKb: Number(status.match(/VmRSS:\s+(\d+)/)[1]),
  };
}
const isAsan = (pid) => /libasan|libclang_rt\.asan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));

// Runs `batch` once to warm up, then `reps` more times, and checks fds and RSS did not grow.
async function withoutLeaks(gw, name, batch, { reps = 2 } = {}) {
  const pid = gw.proc.pid;
  await batch();
  const settle = async (limit) => waitFor(async () => procStats(pid).fds <= limit, 5000);
  await settle(gw.startFds + POOL * PROVIDERS);
  const before = procStats(pid);
  for (let i = 0; i < reps; i++) await batch();
  await settle(before.fds + 2);
  const afterStats = procStats(pid);
  assert.ok(afterStats.fds <= before.fds + 2,
    `${name}: gateway fds grew from ${before.fds} to ${afterStats.fds} (leaked sockets or files)`);
  assert.ok(afterStats.fds <= gw.startFds + POOL * PROVIDERS + 2,
    `${name}: gateway holds ${afterStats.fds} fds, at start-up ${gw.startFds} (+ pool bound ${POOL * PROVIDERS})`);
  if (!gw.asan) {
    const allowed = Math.max(4096, before.rssKb * 0.05);
    assert.ok(afterStats.rssKb - before.rssKb <= allowed,
      `${name}: gateway RSS grew from ${before.rssKb} KiB to ${afterStats.rssKb} KiB over ${reps} batches (allowed ${allowed.toFixed(0)} KiB)`);
  }
  return { before, after: afterStats };
}

// ---------------------------------------------------------------------------------------------
// Clients.
// One request on its own connection (no keep-alive pool on the client side), so that the gateway's
// fd count after a batch holds only what the gateway itself keeps (its upstream pool).
function chat(port, body, headers = {}) {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/chat/completions', method: 'POST', agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json = null;
        try {
          json = JSON.parse(text);
        } catch {}
        res.headers.get = (k) => res.headers[k.toLowerCase()] ?? null;
        resolve({ res, status: res.statusCode, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: USER }], ...extra });
const all = (n, fn) => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));

function assertOpenAIError(json, what) {
  assert.ok(json && json.error && typeof json.error.message === 'string' && json.error.message.length > 0,
    `${what}: not an OpenAI error body: ${JSON.stringify(json)}`);
}

// Sends raw bytes on a new connection; resolves with everything received until the server closes
// (or `timeoutMs`, then `timedOut` is true and the socket is destroyed).
function raw(port, bytes, { timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = (timedOut) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data, timedOut });
    };
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('close', () => finish(false));
    sock.on('error', () => finish(false));
    const timer = setTimeout(() => finish(true), timeoutMs);
  });
}
const statusOf = (rawText) => Number((rawText.match(/^HTTP\/1\.1 (\d{3})/) || [])[1] || 0);

// An upstream in this file for what rs_mock_upstream cannot send: a complete HTTP answer whose
// JSON is cut short, and a stream whose last event is cut short before a clean end of the body.
function startRawUpstream() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const r = JSON.parse(body);
      if (r.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hel"}}]}\n\n');
        res.end('data: {"id":"c","object":"chat.completion.chunk","choices":[{"ind');  // no blank line, no [DONE]
      } else {
        const half = '{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(half) });
        res.end(half);
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function config(mockPort, rawPort) {
  const retry1 = 'retry: {max_attempts: 1}';
  return `
server: {listen: "127.0.0.1:0", threads: 2, header_timeout_ms: 600, read_timeout_ms: 1000,
         idle_timeout_ms: 20000, max_connections: 2300, drain_timeout_ms: 2000}
providers:
  mock:    {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream", max_idle_connections: ${POOL},
            retry: {max_attempts: 2, base_backoff_ms: 5, max_backoff_ms: 10, max_retry_after_ms: 50},
            breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  quick:   {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", first_byte_timeout_ms: 300,
            max_idle_connections: ${POOL}, ${retry1}, breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  refused: {kind: openai, base_url: "http://127.0.0.1:1/v1", max_idle_connections: ${POOL}, ${retry1},
            breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  nodns:   {kind: openai, base_url: "http://nonexistent.invalid/v1", max_idle_connections: ${POOL}, ${retry1},
            connect_timeout_ms: 8000, breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  notls:   {kind: openai, base_url: "https://127.0.0.1:${mockPort}/v1", max_idle_connections: ${POOL}, ${retry1},
            breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  rawup:   {kind: openai, base_url: "http://127.0.0.1:${rawPort}/v1", max_idle_connections: ${POOL}, ${retry1},
            breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
  flaky:   {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", max_idle_connections: ${POOL}, ${retry1},
            breaker: {failure_threshold: 1000000, open_for_ms: 1000}}
models:
  small:      {provider: mock, id: "mock-small"}
  refused:    {provider: refused, id: "x"}
  nodns:      {provider: nodns, id: "x"}
  notls:      {provider: notls, id: "mock-small"}
  storm429:   {provider: mock, id: "mock-small;status=429"}
  storm5xx:   {provider: mock, id: "mock-small;status=502"}
  hanging:    {provider: quick, id: "mock-small;hang=1"}
  resetting:  {provider: flaky, id: "mock-small;chunks=10;reset_after=3"}
  truncating: {provider: flaky, id: "mock-small;truncate=1"}
  halfjson:   {provider: rawup, id: "half"}
  endless:    {provider: mock, id: "mock-small;chunks=400;chunk_ms=20"}
routes:
  survives429: {candidates: [storm429], fallback: [small], policy: fixed}
ledger: {kind: "off"}
`;
}

describe('faults, with fd and memory leak checks', () => {
  let mock;
  let rawUp;
  let gw;

  before(async () => {
    mock = await startMock();
    rawUp = await startRawUpstream();
    gw = await startGateway(config(mock.port, rawUp.address().port));
    await new Promise((r) => setTimeout(r, 200));
    gw.startFds = procStats(gw.proc.pid).fds;
    gw.asan = isAsan(gw.proc.pid);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await new Promise((r) => (rawUp ? rawUp.close(r) : r()));
  });

  test('upstream refused: 502 naming the connect failure, at once', async () => {
    await withoutLeaks(gw, 'refused', () => all(20, async () => {
      const t0 = Date.now();
      const { status, json } = await chat(gw.port, ask('refused'));
      assert.equal(status, 502);
      assertOpenAIError(json, 'refused');
      assert.match(json.error.message, /connect/i);
      assert.ok(Date.now() - t0 < 3000);
    }));
  });

  // The client sees 502 naming the DNS failure; where the resolver itself does not answer (no DNS
  // server reachable), the lookup counts against connect_timeout and the client sees a 504.
  test('DNS failure (host does not resolve): 502 naming the DNS lookup failure', async () => {
    await withoutLeaks(gw, 'dns', () => all(5, async () => {
      const { status, json } = await chat(gw.port, ask('nodns'));
      assertOpenAIError(json, 'dns');
      if (status === 504) assert.equal(json.error.type, 'timeout_error');
      else {
        assert.equal(status, 502, JSON.stringify(json));
        assert.match(json.error.message, /DNS lookup failed/);
        assert.match(json.error.message, /nonexistent\.invalid/);
      }
    }));
  });

  test('TLS failure (https to a plain-HTTP port): 502 naming the TLS handshake', async () => {
    await withoutLeaks(gw, 'tls', () => all(10, async () => {
      const { status, json } = await chat(gw.port, ask('notls'));
      assert.equal(status, 502, JSON.stringify(json));
      assertOpenAIError(json, 'tls');
      assert.match(json.error.message, /tls|ssl|handshake/i);
    }));
  });

  test('429 storm: each request is retried, then 502 naming the upstream 429; a fallback answers 200', async () => {
    await withoutLeaks(gw, '429 storm', () => all(40, async (i) => {
      if (i % 2 === 0) {
        const { status, json, res } = await chat(gw.port, ask('storm429'));
        assert.equal(status, 502, JSON.stringify(json));
        assertOpenAIError(json, '429');
        assert.match(json.error.message, /429/);
        assert.equal(res.headers.get('x-rightsize-attempts'), '2');
      } else {
        const { status, res } = await chat(gw.port, ask('survives429'));
        assert.equal(status, 200);
        assert.equal(res.headers.get('x-rightsize-model'), 'small');
      }
    }));
    // The gateway still serves normally right after the storm.
    assert.equal((await chat(gw.port, ask('small'))).status, 200);
  });

  test('5xx storm: retried, then 502 with an OpenAI error body', async () => {
    await withoutLeaks(gw, '5xx storm', () => all(40, async () => {
      const { status, json, res } = await chat(gw.port, ask('storm5xx'));
      assert.equal(status, 502);
      assertOpenAIError(json, '5xx');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    }));
  });

  test('hanging upstream: 504 after first_byte_timeout, and the upstream request is cancelled', async () => {
    await mock.reset();
    await withoutLeaks(gw, 'hang', () => all(10, async () => {
      const t0 = Date.now();
      const { status, json } = await chat(gw.port, ask('hanging'));
      assert.equal(status, 504);
      assertOpenAIError(json, 'hang');
      assert.equal(json.error.type, 'timeout_error');
      assert.ok(Date.now() - t0 < 3000);
    }));
    const s = await waitFor(async () => {
      const st = await mock.stats();
      return st.cancelled_requests >= 30 ? st : null;
    }, 5000);
    assert.ok(s, 'hung upstream requests were not cancelled by the gateway');
  });

  test('reset mid-stream: 200, the chunks so far, an SSE error event, a clean end, no [DONE]', async () => {
    await withoutLeaks(gw, 'reset', () => all(10, async () => {
      const { status, text } = await chat(gw.port, ask('resetting', { stream: true }));
      assert.equal(status, 200);
      const events = text.split('\n\n').filter((e) => e.startsWith('data:')).map((e) => e.slice(5).trim());
      assert.ok(JSON.parse(events[events.length - 1]).error, 'the last event is not an error');
      assert.ok(!events.includes('[DONE]'));
    }));
  });

  test('truncated upstream body (connection closed early): 502', async () => {
    await withoutLeaks(gw, 'truncate', () => all(10, async () => {
      const { status, json } = await chat(gw.port, ask('truncating'));
      assert.equal(status, 502);
      assertOpenAIError(json, 'truncate');
    }));
  });

  test('truncated JSON in a complete upstream answer: 502, never a 200 with half a body', async () => {
    await withoutLeaks(gw, 'half json', () => all(10, async () => {
      const { status, json } = await chat(gw.port, ask('halfjson'));
      assert.equal(status, 502, `got ${status}: ${JSON.stringify(json)}`);
      assertOpenAIError(json, 'half json');
    }));
  });

  test('truncated last event in an upstream stream: the client gets an SSE error event, no [DONE]', async () => {
    await withoutLeaks(gw, 'half event', () => all(10, async () => {
      const { status, text } = await chat(gw.port, ask('halfjson', { stream: true }));
      assert.equal(status, 200);
      assert.match(text, /"hel"/);
      assert.match(text, /"error"/);
      assert.ok(!text.includes('[DONE]'));
    }));
  });

  test('clients disconnecting mid-stream: every upstream stream is cancelled', async () => {
    await mock.reset();
    // Each client reads the first chunk of a long stream, then closes its connection.
    const batch = () => all(10, () => new Promise((resolve, reject) => {
      const payload = JSON.stringify(ask('endless', { stream: true }));
      const req = http.request({ host: '127.0.0.1', port: gw.port, path: '/v1/chat/completions', method: 'POST',
        agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => { req.destroy(); resolve(); });
        res.on('error', () => {});
      });
      req.on('error', (e) => (req.destroyed ? null : reject(e)));
      req.end(payload);
    }));
    await withoutLeaks(gw, 'client disconnect', async () => {
      await batch();
      // The cancellations reach the mock asynchronously: wait for the gateway to close them all.
      await waitFor(async () => (await mock.stats()).open_connections <= POOL * 2 + 1, 5000);
    });
    const s = await waitFor(async () => {
      const st = await mock.stats();
      return st.cancelled_streams >= 30 ? st : null;
    }, 5000);
    assert.ok(s, 'not every abandoned stream was cancelled upstream');
  });

  test('slowloris: a head trickled a byte at a time is cut off at header_timeout', async () => {
    const slow = () => new Promise((resolve) => {
      const t0 = Date.now();
      const head = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: ' + 'a'.repeat(200);
      let i = 0;
      const sock = net.connect(gw.port, '127.0.0.1');
      const tick = setInterval(() => { if (i < head.length) sock.write(head[i++]); }, 50);
      sock.on('close', () => { clearInterval(tick); resolve(Date.now() - t0); });
      sock.on('error', () => {});
      setTimeout(() => { clearInterval(tick); sock.destroy(); resolve(Infinity); }, 5000);
    });
    await withoutLeaks(gw, 'slowloris', async () => {
      const times = await all(50, slow);
      for (const ms of times) assert.ok(ms < 2000, `a slowloris connection lived ${ms} ms (header_timeout 600 ms)`);
    });
  });

  test('CRLF injection: a bare CR or LF inside a header value is a 400, nothing reaches upstream', async () => {
    await mock.reset();
    const body = JSON.stringify(ask('small'));
    const cases = [
      `X-Note: a\rX-Injected: 1\r\n`,
      `X-Note: a\nX-Injected: 1\r\n`,
      `Authorization: Bearer a\r Injected: 1\r\n`,
    ];
    await withoutLeaks(gw, 'crlf', () => all(cases.length * 4, async (i) => {
      const extra = cases[i % cases.length];
      const { data, timedOut } = await raw(gw.port,
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${extra}Content-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      assert.ok(!timedOut);
      assert.equal(statusOf(data), 400, `answered: ${data.slice(0, 200)}`);
      assert.doesNotMatch(data, /\r\nX-Injected/i);
    }));
    assert.equal((await mock.stats()).count, 0, 'a request with an injected header reached the upstream');
  });

  test('CRLF in the model id: an unknown model (404), no header is injected into the answer or upstream', async () => {
    await mock.reset();
    for (const model of ['small\r\nX-Injected: 1', 'small\nHost: evil.example', 'small%0d%0aX-Injected:%201']) {
      const { status, json, res } = await chat(gw.port, ask(model));
      assert.equal(status, 404, JSON.stringify(json));
      assertOpenAIError(json, 'crlf model');
      assert.equal(res.headers.get('x-injected'), null);
      for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') assert.doesNotMatch(`${k}: ${v}`, /[\r\n]/);
    }
    assert.equal((await mock.stats()).count, 0);
  });

  test('oversized headers: one 1 MB header and 2,000 small ones are both refused with 431', async () => {
    await mock.reset();
    const body = JSON.stringify(ask('small'));
    const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(8)}\r\n`).join('');
    await withoutLeaks(gw, 'oversized headers', () => all(8, async (i) => {
      const extra = i % 2 === 0 ? `X-Big: ${'b'.repeat(1024 * 1024)}\r\n` : many;
      const { data } = await raw(gw.port,
        `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${extra}Content-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      assert.equal(statusOf(data), 431, `answered: ${data.slice(0, 200)}`);
    }));
    assert.equal((await mock.stats()).count, 0);
  });
});

// 2,000 idle connections against a gateway whose connection cap is exactly 2,000 and whose
// header_timeout (4 s) is long enough to hold them while we look.
describe('2,000 idle connections and the connection cap', () => {
  const N = 2000;
  let mock;
  let gw;

  before(async () => {
    mock = await startMock();
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 2, header_timeout_ms: 4000, idle_timeout_ms: 4000, max_connections: ${N}}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", max_idle_connections: ${POOL}}
models:
  small: {provider: mock, id: "mock-small"}
ledger: {kind: "off"}
`);
    await new Promise((r) => setTimeout(r, 200));
    gw.startFds = procStats(gw.proc.pid).fds;
    gw.asan = isAsan(gw.proc.pid);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });

  // One metric's value from /metrics, asked on a connection of its own that is closed after.
  const metric = (name) => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: gw.port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve(Number(text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1])));
    }).on('error', reject);
  });

  // Opens a connection; resolves with {sock, closedAfter: Promise<ms until the server closed it>}.
  const connect = () => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = net.connect(gw.port, '127.0.0.1');
    const closedAfter = new Promise((r) => sock.on('close', () => r(Date.now() - t0)));
    sock.on('error', () => {});
    sock.once('connect', () => resolve({ sock, closedAfter }));
    sock.once('error', reject);
  });

  test('held up to the cap; over it new connections are closed unanswered; closed at header_timeout; no fd left', async (t) => {
    const limits = readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+(\d+)/);
    if (limits && Number(limits[1]) < N + 300) {
      t.skip(`open-file limit ${limits[1]} < ${N + 300}: raise ulimit -n to run this test`);
      return;
    }
    const pid = gw.proc.pid;
    const round = async () => {
      // The previous round's connections are all gone (the one asking is the only one open), then
      // fds are counted from here: after a first round the gateway also holds its upstream pool's.
      assert.ok(await waitFor(async () => (await metric('rightsize_http_connections_open')) === 1, 5000),
        'the previous round\'s connections are still open');
      const base = procStats(pid).fds;
      const refusedBefore = await metric('rightsize_http_connections_refused_total');
      const conns = [];
      for (let i = 0; i < N; i += 200) conns.push(...(await all(Math.min(200, N - i), connect)));
      // (- 1: the metrics request's socket, in `base`, may close meanwhile; the refused count below
      // says exactly how many were turned away.)
      const held = await waitFor(async () => procStats(pid).fds >= base + N - 1, 3000);
      assert.ok(held, `gateway holds ${procStats(pid).fds} fds with ${N} idle clients (before them ${base})`);
      // At the cap: a new connection is accepted and closed at once, without an answer.
      const extra = await all(20, connect);
      const extraTimes = await Promise.all(extra.map((c) => c.closedAfter));
      for (const ms of extraTimes) assert.ok(ms < 1500, `a connection over the cap lived ${ms} ms`);
      // The idle ones are closed by the gateway itself at header_timeout (4 s), not before 3 s.
      const times = await Promise.all(conns.map((c) => c.closedAfter));
      assert.ok(Math.min(...times) >= 3000, `an idle connection was closed after only ${Math.min(...times)} ms`);
      assert.ok(Math.max(...times) < 9000, `an idle connection lived ${Math.max(...times)} ms`);
      assert.equal(await metric('rightsize_http_connections_refused_total') - refusedBefore, extra.length,
        'exactly the connections over the cap were refused, and each is counted');
      // Below the cap again: served.
      const { status } = await chat(gw.port, ask('small'));
      assert.equal(status, 200);
    };
    await withoutLeaks(gw, '2000 idle', round, { reps: 1 });
  });
});
