// Fault behaviour of the gateway, seen by a client: upstream refused, 429 + Retry-After, 5xx
// retries, resets mid-stream, hangs, truncated bodies, circuit breakers, malformed and
// oversized requests, slow clients, client disconnects and SIGTERM drains.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';

import { startGateway, startMock, stopProcess, waitFor } from '../lib/harness.js';

const USER = 'Classify this ticket: my invoice is wrong';

function config(mockPort) {
  return `
server: {listen: "127.0.0.1:0", threads: 2, header_timeout_ms: 500, read_timeout_ms: 1000, drain_timeout_ms: 10000}
providers:
  mock:   {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream",
           retry: {max_attempts: 3, base_backoff_ms: 10, max_backoff_ms: 50, max_retry_after_ms: 3000}}
  dead:   {kind: openai, base_url: "http://127.0.0.1:1/v1", retry: {max_attempts: 1}}
  deadretry: {kind: openai, base_url: "http://127.0.0.1:1/v1",
              retry: {max_attempts: 3, base_backoff_ms: 10, max_backoff_ms: 20}}
  quick:  {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", first_byte_timeout_ms: 300,
           retry: {max_attempts: 1}}
  flaky:  {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", retry: {max_attempts: 1},
           breaker: {failure_threshold: 2, open_for_ms: 60000}}
models:
  small:      {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  big:        {provider: mock, id: "mock-large", input_usd_per_mtok: 5, output_usd_per_mtok: 15}
  gone:       {provider: dead, id: "whatever", input_usd_per_mtok: 0.01, output_usd_per_mtok: 0.01}
  unreachable: {provider: deadretry, id: "whatever"}
  limited:    {provider: mock, id: "mock-small;status=429;fail_first=1;retry_after=1"}
  shaky:      {provider: mock, id: "mock-small;status=503;fail_first=2"}
  down:       {provider: mock, id: "mock-small;status=503"}
  resetting:  {provider: mock, id: "mock-small;chunks=10;reset_after=3"}
  truncating: {provider: mock, id: "mock-small;truncate=1"}
  hanging:    {provider: quick, id: "mock-small;hang=1"}
  trickle:    {provider: mock, id: "mock-small;chunks=20;chunk_ms=50"}
  endless:    {provider: mock, id: "mock-small;chunks=400;chunk_ms=25"}
  failing:    {provider: flaky, id: "mock-small;status=500"}
routes:
  resilient: {candidates: [gone], fallback: [small], policy: fixed, reference: big}
  outage:    {candidates: [down], fallback: [gone], policy: fixed}
  pricey:    {candidates: [big, small], policy: fixed, reference: big}
  capped:    {candidates: [down], fallback: [big, small], policy: fixed, reference: big}
  redial:    {candidates: [unreachable], policy: fixed}
ledger: {kind: "off"}
`;
}

async function chat(gw, body, headers = {}) {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { res, text, json };
}

const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: USER }], ...extra });

function assertOpenAIError(json, type) {
  assert.ok(json && json.error, `not an OpenAI error body: ${JSON.stringify(json)}`);
  assert.equal(typeof json.error.message, 'string');
  assert.ok(json.error.message.length > 0);
  if (type) assert.equal(json.error.type, type);
}

// Reads an SSE body to the end (or until the server closes); returns the data payloads.
async function sseEvents(res) {
  const text = await res.text();
  return text
    .split('\n\n')
    .map((e) => e.trim())
    .filter((e) => e.startsWith('data:'))
    .map((e) => e.slice(5).trim());
}

describe('gateway under upstream and client faults', () => {
  let mock;
  let gw;

  before(async () => {
    mock = await startMock();
    gw = await startGateway(config(mock.port));
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });
  beforeEach(async () => {
    await mock.reset();
  });

  test('upstream refused: the fallback answers and x-rightsize-attempts is 2', async () => {
    const { res, json } = await chat(gw, ask('resilient'));
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(res.headers.get('x-rightsize-model'), 'small');
    assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    assert.equal(res.headers.get('x-rightsize-route'), 'resilient');
    assert.ok(Number(res.headers.get('x-rightsize-reference-cost-usd')) > Number(res.headers.get('x-rightsize-cost-usd')));
  });

  test('429 with Retry-After: the gateway waits that long, then retries the same provider', async () => {
    const t0 = Date.now();
    const { res, json } = await chat(gw, ask('limited'));
    const waited = Date.now() - t0;
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    assert.ok(waited >= 950, `answered after ${waited} ms: Retry-After: 1 was not honoured`);
    assert.equal((await mock.stats()).count, 2);
  });

  test('5xx before the first byte is retried with backoff', async () => {
    const { res } = await chat(gw, ask('shaky'));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-attempts'), '3');
  });

  test('every attempt failing ends in 502 with an OpenAI error body', async () => {
    const { res, json } = await chat(gw, ask('outage'));
    assert.equal(res.status, 502);
    assertOpenAIError(json);
    assert.match(json.error.message, /attempt/);
    assert.equal(res.headers.get('x-rightsize-attempts'), '4');  // 3 tries of down + 1 of gone
  });

  test('an upstream reset mid-stream becomes an SSE error event and a clean end of stream', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask('resetting', { stream: true })),
    });
    assert.equal(res.status, 200);
    const events = await sseEvents(res);  // rejects if the chunked body is not terminated cleanly
    const last = JSON.parse(events[events.length - 1]);
    assert.ok(last.error, `last event is not an error: ${events[events.length - 1]}`);
    assert.match(last.error.message, /stream/);
    const content = events.slice(0, -1).map((e) => JSON.parse(e)).filter((c) => c.choices?.[0]?.delta?.content);
    assert.equal(content.length, 3);
    assert.ok(!events.includes('[DONE]'));
  });

  test('a truncated upstream body is a 502, not a half answer', async () => {
    const { res, json } = await chat(gw, ask('truncating'));
    assert.equal(res.status, 502, JSON.stringify(json));
    assertOpenAIError(json);
  });

  test('an upstream that never answers times out as 504', async () => {
    const { res, json } = await chat(gw, ask('hanging'));
    assert.equal(res.status, 504);
    assertOpenAIError(json, 'timeout_error');
  });

  test('repeated failures open the circuit: visible in /readyz, then 503 without calling upstream', async () => {
    for (let i = 0; i < 2; i++) assert.equal((await chat(gw, ask('failing'))).res.status, 502);
    const ready = await (await fetch(`http://127.0.0.1:${gw.port}/readyz`)).json();
    assert.equal(ready.providers.flaky.circuit, 'open');
    const before = (await mock.stats()).count;
    const { res, json } = await chat(gw, ask('failing'));
    assert.equal(res.status, 503);
    assertOpenAIError(json);
    assert.equal((await mock.stats()).count, before);
  });

  test('malformed JSON is a 400 with an OpenAI error body', async () => {
    const { res, json } = await chat(gw, '{"model": "small", "messages": [');
    assert.equal(res.status, 400);
    assertOpenAIError(json, 'invalid_request_error');
    assert.ok(res.headers.get('x-request-id'));
  });

  test('a schema error names the field', async () => {
    const { res, json } = await chat(gw, { model: 'small', messages: 'hello' });
    assert.equal(res.status, 400);
    assert.match(json.error.message, /messages/);
  });

  test('a 10 MB body is refused with 413', async () => {
    const big = JSON.stringify(ask('small', { padding: 'x'.repeat(10 * 1024 * 1024) }));
    const { res, json } = await chat(gw, big);
    assert.equal(res.status, 413);
    assertOpenAIError(json);
    assert.equal((await mock.stats()).count, 0);
  });

  test('rightsize.max_cost_usd keeps only candidates that fit, and 429 when none does', async () => {
    // Estimates: ~11 prompt tokens + 256 assumed output tokens: big ≈ $0.0039, small ≈ $0.00005.
    const dflt = await chat(gw, ask('pricey'));
    assert.equal(dflt.res.headers.get('x-rightsize-model'), 'big');
    const capped = await chat(gw, ask('pricey', { rightsize: { max_cost_usd: 0.001 } }));
    assert.equal(capped.res.status, 200);
    assert.equal(capped.res.headers.get('x-rightsize-model'), 'small');
    assert.equal(JSON.parse((await mock.last()).body).rightsize, undefined);
    const none = await chat(gw, ask('pricey', { rightsize: { max_cost_usd: 0.00001 } }));
    assert.equal(none.res.status, 429);
    assertOpenAIError(none.json, 'rate_limit_error');
    assert.match(none.json.error.message, /max_cost_usd/);
  });

  test('max_cost_usd also bounds the fallback chain: an over-budget fallback is never called', async () => {
    // down (free, failing) -> fallbacks big (over the cap) and small (under it).
    const { res } = await chat(gw, ask('capped', { rightsize: { max_cost_usd: 0.001 } }));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-model'), 'small');
    assert.equal((await mock.stats()).by_model['mock-large'] ?? 0, 0);
  });

  test('connect errors are retried on the same provider before giving up', async () => {
    const { res, json } = await chat(gw, ask('redial'));
    assert.equal(res.status, 502);
    assertOpenAIError(json);
    assert.equal(res.headers.get('x-rightsize-attempts'), '3');
    assert.match(json.error.message, /connect/);
  });

  test('a bad x-rightsize-quality header is a 400 naming it', async () => {
    const { res, json } = await chat(gw, ask('pricey'), { 'x-rightsize-quality': '1.5' });
    assert.equal(res.status, 400);
    assert.match(json.error.message, /x-rightsize-quality/);
  });

  test('upstream connections are kept alive and reused across requests', async () => {
    for (let i = 0; i < 20; i++) assert.equal((await chat(gw, ask('small'))).res.status, 200);
    const s = await mock.stats();
    assert.equal(s.count, 20);
    // 20 requests, one at a time: one pooled upstream connection (+ the one asking for these stats).
    assert.ok(s.accepted_connections <= 2, `${s.accepted_connections} upstream connections for 20 requests`);
  });

  test('request headers over max_header_bytes are refused with 431', async () => {
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-filler': 'y'.repeat(20 * 1024) },
      body: JSON.stringify(ask('small')),
    });
    assert.equal(res.status, 431);
    assertOpenAIError(await res.json());
    assert.equal((await mock.stats()).count, 0);
  });

  test('unknown endpoints are 404 and wrong methods 405', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${gw.port}/v1/nothing`)).status, 404);
    assert.equal((await fetch(`${gw.baseURL}/chat/completions`)).status, 405);
  });

  test('a slow client sending its headers is timed out and disconnected', async () => {
    const closedAfter = await new Promise((resolve, reject) => {
      const t0 = Date.now();
      const sock = net.connect(gw.port, '127.0.0.1', () => {
        sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n');
        // ...and never finishes the head.
      });
      sock.on('close', () => resolve(Date.now() - t0));
      sock.on('error', () => {});
      setTimeout(() => reject(new Error('connection still open after 5 s')), 5000);
    });
    assert.ok(closedAfter < 5000);
  });

  test('a client that disconnects mid-stream cancels the upstream request', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask('endless', { stream: true })),
      signal: ctl.signal,
    });
    const reader = res.body.getReader();
    await reader.read();
    ctl.abort();
    const stats = await waitFor(async () => {
      const s = await mock.stats();
      return s.cancelled_streams >= 1 ? s : null;
    }, 5000);
    assert.ok(stats, 'the upstream stream was not cancelled');
  });

  test('healthz and readyz answer', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${gw.port}/healthz`)).status, 200);
    const r = await fetch(`http://127.0.0.1:${gw.port}/readyz`);
    const body = await r.json();
    assert.ok(body.providers.mock);
  });
});

describe('gateway shutdown', () => {
  test('SIGTERM during a stream: the stream completes, then the gateway exits', async () => {
    const mock = await startMock();
    const gw = await startGateway(config(mock.port));
    try {
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ask('trickle', { stream: true })),
      });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      await reader.read();  // the stream is under way (it lasts ~1 s)
      const exited = new Promise((resolve) => gw.proc.once('exit', (code) => resolve(code)));
      gw.proc.kill('SIGTERM');
      let text = '';
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      assert.match(text, /data: \[DONE\]/);
      assert.equal(await exited, 0);
    } finally {
      await stopProcess(gw.proc);
      await mock.stop();
    }
  });
});
