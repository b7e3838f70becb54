// The gateway's HTTP I/O fast paths, seen on the wire (src/http/write_now.h, parseBuffered in
// src/http/server.cc): a request that arrives whole is parsed without another read, and a write the
// kernel takes at once skips Asio; what does not fit goes the slow way. These tests drive the server
// with raw sockets: pipelined requests in one segment, a request in pieces (the slow read path), and a
// long stream to a client that stops reading for a while. Loopback buffers grow to tens of MB, so the
// kernel may still take that stream whole: the write's slow path is forced in
// tests/unit/http/write_now_test.cc with small socket buffers.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { mockReplyTo, startGateway, startMock } from '../lib/harness.js';

function config(mockPort) {
  return `
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream"}
models:
  small: {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  long:  {provider: mock, id: "mock-small;chunks=60000", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
ledger: {kind: "off"}
privacy: {pii_detection: false}
`;
}

function requestBytes(port, body) {
  const json = JSON.stringify(body);
  return (
    `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`
  );
}

// Reads from `sock` until `done(tail)` says the bytes so far are complete (or 20 s pass); `done` sees the
// last 64 KB at most, the promise resolves with everything read.
function readUntil(sock, done) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let size = 0;
    let tail = Buffer.alloc(0);
    const timer = setTimeout(
      () => reject(new Error(`timed out; got ${size} bytes: ${Buffer.concat(parts).toString('latin1', 0, 300)}`)),
      20000,
    );
    const onData = (d) => {
      parts.push(d);
      size += d.length;
      tail = Buffer.concat([tail, d]);
      if (tail.length > 65536) tail = tail.subarray(tail.length - 65536);
      if (done(tail)) {
        clearTimeout(timer);
        sock.off('data', onData);
        resolve(Buffer.concat(parts).toString('utf8'));
      }
    };
    sock.on('data', onData);
    sock.once('error', reject);
  });
}

// Complete non-chunked responses in `text`, each as {status, body}; null when the last is incomplete.
function splitResponses(text) {
  const out = [];
  let pos = 0;
  while (pos < text.length) {
    const end = text.indexOf('\r\n\r\n', pos);
    if (end < 0) return null;
    const head = text.slice(pos, end);
    const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? NaN);
    if (Number.isNaN(len)) throw new Error(`no Content-Length in ${head}`);
    const bodyBytes = Buffer.from(text.slice(end + 4), 'utf8');
    if (bodyBytes.length < len) return null;
    const body = bodyBytes.subarray(0, len).toString('utf8');
    out.push({ status: Number(head.split(' ')[1]), body });
    pos = end + 4 + body.length;
  }
  return out;
}

function connect(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port }, () => resolve(sock));
    sock.setNoDelay(true);
    sock.once('error', reject);
  });
}

describe('HTTP I/O fast paths', () => {
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

  test('two requests pipelined in one segment: both answered, in order', async () => {
    const sock = await connect(gw.port);
    const a = requestBytes(gw.port, { model: 'small', messages: [{ role: 'user', content: 'first question' }] });
    const b = requestBytes(gw.port, { model: 'small', messages: [{ role: 'user', content: 'second question' }] });
    sock.write(a + b);
    const text = await readUntil(sock, (buf) => splitResponses(buf.toString('utf8'))?.length === 2);
    sock.destroy();
    const [r1, r2] = splitResponses(text);
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200);
    assert.equal(JSON.parse(r1.body).choices[0].message.content, mockReplyTo('first question'));
    assert.equal(JSON.parse(r2.body).choices[0].message.content, mockReplyTo('second question'));
  });

  test('a request in pieces (head split, body later) is read the slow way and answered', async () => {
    const sock = await connect(gw.port);
    const req = requestBytes(gw.port, { model: 'small', messages: [{ role: 'user', content: 'in pieces' }] });
    const headEnd = req.indexOf('\r\n\r\n') + 4;
    const cuts = [0, 10, headEnd - 3, headEnd + 5, req.length];
    const reply = readUntil(sock, (buf) => splitResponses(buf.toString('utf8'))?.length === 1);
    for (let i = 0; i + 1 < cuts.length; i++) {
      sock.write(req.slice(cuts[i], cuts[i + 1]));
      await new Promise((r) => setTimeout(r, 30));
    }
    const [r] = splitResponses(await reply);
    sock.destroy();
    assert.equal(r.status, 200);
    assert.equal(JSON.parse(r.body).choices[0].message.content, mockReplyTo('in pieces'));
  });

  test('a long stream to a client that stops reading arrives whole once it reads again', async () => {
    const sock = await connect(gw.port);
    sock.pause();  // read nothing: the kernel buffers fill and the gateway's writes must wait
    sock.write(
      requestBytes(gw.port, { model: 'long', stream: true, messages: [{ role: 'user', content: 'say a lot' }] }),
    );
    await new Promise((r) => setTimeout(r, 500));
    const text = await new Promise((resolve, reject) => {
      const p = readUntil(sock, (buf) => buf.includes('\r\n0\r\n'));  // the last chunk, maybe with trailers
      p.then(resolve, reject);
      sock.resume();
    });
    sock.destroy();
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    const events = [];
    const raw = Buffer.from(text, 'utf8');
    // De-chunk (on bytes: chunk sizes count bytes), then split the SSE events.
    let pos = raw.indexOf('\r\n\r\n') + 4;
    const pieces = [];
    for (;;) {
      const eol = raw.indexOf('\r\n', pos);
      const size = parseInt(raw.toString('latin1', pos, eol), 16);
      if (size === 0) break;
      pieces.push(raw.subarray(eol + 2, eol + 2 + size));
      pos = eol + 2 + size + 2;
    }
    const sse = Buffer.concat(pieces).toString('utf8');
    for (const block of sse.split('\n\n')) if (block.startsWith('data: ')) events.push(block.slice(6));
    assert.equal(events.at(-1), '[DONE]');
    const content = events
      .slice(0, -1)
      .map((e) => JSON.parse(e))
      .map((c) => c.choices?.[0]?.delta?.content ?? '')
      .join('');
    const words = content.trim().split(/\s+/);
    assert.equal(words.length, 60000);
    assert.equal(words[0], 'w1');
    assert.equal(words.at(-1), 'w60000');
  });
});
