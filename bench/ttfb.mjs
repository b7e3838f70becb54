// Streaming time to first byte, for bench/run.sh: sends N sequential POSTs of BODY_FILE to URL over one
// keep-alive TCP connection (raw socket, TCP_NODELAY) and times each from the request write to the first
// response byte. Each response is read to its end (last chunk and trailers, Content-Length, or close,
// which reconnects) before the next request. Prints "p50_us p99_us" (nearest rank) on stdout; the first WARMUP
// requests are not counted. Exits non-zero on a non-200 answer or a socket error. Chunked responses are
// parsed (trailers included) to find their end.
//
//   node bench/ttfb.mjs URL BODY_FILE N [WARMUP=10]

import { readFileSync } from 'node:fs';
import net from 'node:net';

const [url, bodyFile, nArg, warmupArg] = process.argv.slice(2);
if (!url || !bodyFile || !nArg) {
  console.error('usage: node ttfb.mjs URL BODY_FILE N [WARMUP]');
  process.exit(2);
}
const n = Number(nArg);
const warmup = Number(warmupArg ?? 10);
const target = new URL(url);
const body = readFileSync(bodyFile);
const request = Buffer.concat([
  Buffer.from(
    `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
      'Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\nAccept: text/event-stream\r\n' +
      `Content-Length: ${body.length}\r\n\r\n`,
  ),
  body,
]);

function connect() {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: target.hostname, port: Number(target.port) }, () => resolve(sock));
    sock.setNoDelay(true);
    sock.once('error', reject);
  });
}

// True when buf[start..] holds a whole chunked body: chunks, the last (size 0) chunk, trailers, CRLF.
function chunkedComplete(buf, start) {
  let pos = start;
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return false;
    const size = parseInt(buf.toString('latin1', pos, eol).split(';')[0], 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size line: ${buf.toString('latin1', pos, eol)}`);
    pos = eol + 2;
    if (size === 0) break;
    pos += size + 2;
    if (pos > buf.length) return false;
  }
  for (;;) {  // trailer fields, then an empty line
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return false;
    if (eol === pos) return true;
    pos = eol + 2;
  }
}

// Resolves with {ttfbNs, keepAlive} once the whole response has arrived.
function exchange(sock) {
  return new Promise((resolve, reject) => {
    let t0 = 0n;
    let ttfb = -1n;
    let buf = Buffer.alloc(0);
    let headEnd = -1;
    let status = 0;
    let chunked = false;
    let length = -1;
    let keepAlive = true;
    const done = (err) => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onError);
      if (err) reject(err);
      else resolve({ ttfbNs: ttfb, keepAlive });
    };
    const onData = (chunk) => {
      if (ttfb < 0n) ttfb = process.hrtime.bigint() - t0;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      if (headEnd < 0) {
        headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = buf.subarray(0, headEnd).toString('latin1');
        status = Number(head.split(' ', 2)[1]);
        chunked = /\r\ntransfer-encoding:\s*chunked/i.test(head);
        const cl = head.match(/\r\ncontent-length:\s*(\d+)/i);
        if (cl) length = Number(cl[1]);
        keepAlive = !/\r\nconnection:\s*close/i.test(head);
        if (status !== 200) return done(new Error(`HTTP ${status}: ${buf.toString('latin1', 0, 300)}`));
      }
      if (chunked ? chunkedComplete(buf, headEnd + 4) : length >= 0 && buf.length - headEnd - 4 >= length) done();
    };
    const onEnd = () => {
      keepAlive = false;
      if (headEnd >= 0 && !chunked && length < 0) done();
      else done(new Error('connection closed mid-response'));
    };
    const onError = (err) => done(err);
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onError);
    t0 = process.hrtime.bigint();
    sock.write(request);
  });
}

const samples = [];
let sock = await connect();
for (let i = 0; i < warmup + n; i++) {
  const { ttfbNs, keepAlive } = await exchange(sock);
  if (i >= warmup) samples.push(Number(ttfbNs) / 1000);
  if (!keepAlive) {
    sock.destroy();
    sock = await connect();
  }
}
sock.destroy();
samples.sort((a, b) => a - b);
const rank = (p) => samples[Math.min(samples.length, Math.max(1, Math.ceil(p * samples.length))) - 1];
console.log(`${Math.round(rank(0.5))} ${Math.round(rank(0.99))}`);
