// https upstreams: certificate verification is on (a self-signed upstream is refused), and a
// provider's `tls_ca_file` makes a private CA trusted — plain and streamed answers then relay.
// The upstream is a tiny OpenAI-shaped https server in this file, with a certificate made by
// the openssl CLI for 127.0.0.1. Needs RIGHTSIZE_BIN (or build/app/rightsize) and openssl.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { startGateway } from '../lib/harness.js';

const REPLY = 'hello over tls';

function completion(model) {
  return JSON.stringify({
    id: 'chatcmpl-tls', object: 'chat.completion', created: 0, model,
    choices: [{ index: 0, message: { role: 'assistant', content: REPLY }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 3, completion_tokens: 3, total_tokens: 6 },
  });
}

describe('https upstreams', () => {
  let dir;
  let server;
  let port;
  let gw;
  let seen = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-tls-'));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        seen++;
        const r = JSON.parse(body);
        if (r.stream) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const w of REPLY.split(' ')) {
            res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: r.model,
              choices: [{ index: 0, delta: { content: w + ' ' }, finish_reason: null }] })}\n\n`);
          }
          res.end('data: [DONE]\n\n');
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(completion(r.model));
        }
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = server.address().port;
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  strict:  {kind: openai, base_url: "https://127.0.0.1:${port}/v1", retry: {max_attempts: 1}}
  private: {kind: openai, base_url: "https://127.0.0.1:${port}/v1", tls_ca_file: "${cert}"}
models:
  untrusted: {provider: strict, id: m1}
  trusted:   {provider: private, id: m2}
ledger: {kind: "off"}
`);
  });
  after(async () => {
    await gw?.stop();
    server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const post = (model, extra = {}) =>
    fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], ...extra }),
    });

  test('a self-signed upstream certificate is refused: 502 naming the TLS failure', async () => {
    const before = seen;
    const res = await post('untrusted');
    assert.equal(res.status, 502);
    const body = await res.json();
    assert.match(body.error.message, /TLS|certificate/i);
    assert.equal(seen, before, 'no request may reach an unverified upstream');
  });

  test('with tls_ca_file the private CA is trusted: plain and streamed answers relay', async () => {
    const res = await post('trusted');
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal((await res.json()).choices[0].message.content, REPLY);
    const s = await post('trusted', { stream: true });
    assert.equal(s.status, 200);
    const text = await s.text();
    const content = text.split('\n\n').filter((e) => e.startsWith('data: {'))
      .map((e) => JSON.parse(e.slice(6)).choices[0]?.delta?.content ?? '').join('');
    assert.equal(content, REPLY.split(' ').map((w) => w + ' ').join(''));
  });
});
