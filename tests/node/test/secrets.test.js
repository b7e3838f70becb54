// Secrets and upstream selection.
//  1. Provider API keys and client keys never appear in the gateway's logs (every line it printed,
//     at log level debug) or in any response it sent (status line, headers, body), even when an
//     upstream echoes the credentials it received back in its error messages.
//  2. The upstream host comes only from the configuration: nothing in a request (model id, Host,
//     absolute-form target, forwarding headers, body fields) makes the gateway call another host.
//     A second mock plays the attacker's host and must receive nothing.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { startGateway, startMock } from '../lib/harness.js';

const PROVIDER_KEY = `sk-provsecret-${randomBytes(8).toString('hex')}`;
const CLIENT_KEY = `sk-clientsecret-${randomBytes(8).toString('hex')}`;
// Parts of the keys, so that a truncated or partly masked echo is caught too.
const MARKERS = [PROVIDER_KEY, CLIENT_KEY, PROVIDER_KEY.slice(-16), CLIENT_KEY.slice(-16)];

// An upstream that echoes every request header (Authorization included) in its error messages,
// as careless servers do. Model "echo-401", "echo-500", "echo-429", "echo-stream" pick the answer.
function startEchoUpstream() {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      let model = '';
      try {
        model = JSON.parse(body).model;
      } catch {}
      const echo = `headers received: ${JSON.stringify(req.headers)}`;
      const error = (status) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-echo-auth': req.headers.authorization ?? '' });
        res.end(JSON.stringify({ error: { message: `bad request (${echo})`, type: 'echo', code: status } }));
      };
      if (model === 'echo-401') return error(401);
      if (model === 'echo-429') return error(429);
      if (model === 'echo-400') return error(400);
      if (model === 'echo-plain') {  // a non-JSON error body, which the gateway quotes raw
        res.writeHead(503, { 'content-type': 'text/plain' });
        return res.end(`unavailable; you sent ${req.headers.authorization}`);
      }
      return error(500);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function assertNoSecret(where, text) {
  for (const m of MARKERS) assert.ok(!text.includes(m), `${where} contains a secret (${m.slice(0, 14)}...):\n${text.slice(0, 2000)}`);
}

async function call(gw, body, headers = {}) {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const head = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
  return { res, status: res.status, text, all: `${res.status} ${res.statusText}\n${head}\n\n${text}` };
}
const ask = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hello there' }], ...extra });

function raw(port, bytes) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('close', () => resolve(data));
    sock.on('error', () => resolve(data));
    setTimeout(() => { sock.destroy(); resolve(data); }, 5000);
  });
}

describe('secrets never leak, and upstream hosts come only from configuration', () => {
  let mock;
  let evil;
  let echo;
  let gw;
  const responses = [];

  before(async () => {
    mock = await startMock();
    evil = await startMock();
    echo = await startEchoUpstream();
    const echoUrl = `http://127.0.0.1:${echo.address().port}/v1`;
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 2, log_level: debug}
providers:
  mock:  {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1", api_key: "${PROVIDER_KEY}",
          retry: {max_attempts: 2, base_backoff_ms: 5, max_backoff_ms: 10, max_retry_after_ms: 20}}
  echo:  {kind: openai, base_url: "${echoUrl}", api_key: "${PROVIDER_KEY}",
          retry: {max_attempts: 2, base_backoff_ms: 5, max_backoff_ms: 10, max_retry_after_ms: 20}}
  echoh: {kind: openai, base_url: "${echoUrl}", api_key: "${PROVIDER_KEY}", headers: {x-api-key: "${PROVIDER_KEY}"},
          retry: {max_attempts: 1}}
  dead:  {kind: openai, base_url: "http://127.0.0.1:1/v1", api_key: "${PROVIDER_KEY}", retry: {max_attempts: 1}}
models:
  small:     {provider: mock, id: "mock-small"}
  badkey:    {provider: mock, id: "mock-small;require_key=not-the-configured-key"}
  goodkey:   {provider: mock, id: "mock-small;require_key=${PROVIDER_KEY}"}
  up401:     {provider: mock, id: "mock-small;status=401"}
  up500:     {provider: mock, id: "mock-small;status=500"}
  streamreset: {provider: mock, id: "mock-small;chunks=6;reset_after=2"}
  e401:      {provider: echo, id: "echo-401"}
  e429:      {provider: echo, id: "echo-429"}
  e400:      {provider: echo, id: "echo-400"}
  e500:      {provider: echo, id: "echo-500"}
  eplain:    {provider: echo, id: "echo-plain"}
  eheaders:  {provider: echoh, id: "echo-500"}
  gone:      {provider: dead, id: "x"}
routes:
  chain: {candidates: [e401], fallback: [e500, badkey], policy: fixed}
ledger: {kind: "off"}
`);
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await evil?.stop();
    await new Promise((r) => (echo ? echo.close(r) : r()));
  });

  test('the configured key goes upstream; the client key does not', async () => {
    const r = await call(gw, ask('goodkey'));
    assert.equal(r.status, 200, r.text);
    const last = await mock.last();
    assert.equal(last.authorization, `Bearer ${PROVIDER_KEY}`);
    assert.ok(!JSON.stringify(last.headers).includes(CLIENT_KEY), 'the client key was forwarded upstream');
    responses.push(r.all);
  });

  test('no error body or header carries a key, whatever the upstream echoes', async () => {
    const cases = [
      ask('badkey'), ask('up401'), ask('up500'), ask('e401'), ask('e429'), ask('e400'), ask('e500'),
      ask('eplain'), ask('eheaders'), ask('gone'), ask('chain'), ask('no-such-model'),
      ask('e500', { stream: true }), ask('e401', { stream: true }), ask('streamreset', { stream: true }),
      ask(`model-${CLIENT_KEY}`),
      { model: 'small', messages: 'not a list' },
      { model: 'small', messages: [{ role: 'user', content: 'x' }], rightsize: { quality: 7 } },
    ];
    for (const body of cases) {
      const r = await call(gw, body);
      responses.push(r.all);
      if (r.status >= 400) assert.ok(JSON.parse(r.text).error, `${body.model}: not an error body: ${r.text}`);
      // The gateway's own error messages for echoed upstream errors say something useful anyway.
      if (body.model === 'e401' && !body.stream) assert.match(r.text, /upstream echo returned 401/);
      const shown = r.all.replaceAll(`model-${CLIENT_KEY}`, '');  // the client's own model string may be echoed
      assertNoSecret(`response to ${JSON.stringify(body).slice(0, 60)}`, shown);
    }
    // Keys sent in other client headers are not reflected either.
    const r = await call(gw, ask('e500'), { 'x-api-key': CLIENT_KEY, 'api-key': CLIENT_KEY, cookie: `k=${CLIENT_KEY}` });
    responses.push(r.all);
    assertNoSecret('response with keys in extra client headers', r.all);
    // Malformed HTTP with a key in the head: the 400 does not quote the head back.
    const bad = await raw(gw.port, `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CLIENT_KEY}\r\nContent-Length: zz\r\n\r\n`);
    assert.match(bad, /^HTTP\/1\.1 400/);
    assertNoSecret('400 for a malformed head', bad);
  });

  test('upstream hosts come only from configuration: request fields cannot redirect the gateway', async () => {
    await mock.reset();
    await evil.reset();
    const evilHost = `127.0.0.1:${evil.port}`;
    const evilUrl = `http://${evilHost}/v1`;
    const attempts = [
      [ask(evilUrl), {}],
      [ask(`${evilUrl}/chat/completions`), {}],
      [ask(`small@${evilHost}`), {}],
      [ask(`//${evilHost}/v1`), {}],
      [ask('small', { base_url: evilUrl, api_base: evilUrl, url: evilUrl }), {}],
      [ask('small', { rightsize: { base_url: evilUrl } }), {}],
      [ask('small', { provider: { base_url: evilUrl } }), {}],
      [ask('small'), { host: evilHost }],
      [ask('small'), { 'x-forwarded-host': evilHost, forwarded: `host=${evilHost}`, 'x-original-url': evilUrl }],
      [ask('small'), { 'x-rightsize-base-url': evilUrl, 'x-rightsize-provider': evilUrl, 'x-rightsize-upstream': evilUrl }],
    ];
    let served = 0;
    for (const [body, headers] of attempts) {
      const r = await call(gw, body, headers);
      responses.push(r.all);
      if (r.status === 200) served++;
    }
    // Absolute-form request target naming the evil host.
    const body = JSON.stringify(ask('small'));
    const absolute = await raw(gw.port, `POST ${evilUrl}/chat/completions HTTP/1.1\r\nHost: ${evilHost}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    assert.match(absolute, /^HTTP\/1\.1 \d{3}/);
    // CONNECT-style proxying is not a thing the gateway does.
    const connect = await raw(gw.port, `CONNECT ${evilHost} HTTP/1.1\r\nHost: ${evilHost}\r\nConnection: close\r\n\r\n`);
    assert.doesNotMatch(connect, /^HTTP\/1\.1 200/);

    const evilStats = await evil.stats();
    assert.equal(evilStats.count, 0, 'the gateway sent a chat request to a host named only in a request');
    assert.ok(evilStats.accepted_connections <= 1, 'the gateway connected to a host named only in a request');  // 1 = our stats call
    // The requests that were valid went to the configured upstream.
    assert.ok(served >= 4, `only ${served} of the valid requests were served`);
    assert.equal((await mock.stats()).count, served);
  });

  test('no log line the gateway printed contains a key', async () => {
    assert.ok(responses.length > 20);
    await gw.stop();  // flush and collect everything, shutdown messages included
    const log = gw.output();
    assert.ok(log.split('\n').length > 5, `the gateway printed almost nothing: ${log}`);
    assertNoSecret('gateway log', log);
  });
});
