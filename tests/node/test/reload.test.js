// Live reload, end to end (docs/reload.md): SIGHUP and POST /admin/reload swap the config and the
// router files under continuous load (plain and streaming) with zero failed requests; a request in
// flight finishes on the config it started on; an invalid config (YAML error, unknown model) and a
// change that needs a restart (the listen address) keep the old config serving and are counted.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';

import { gatewayBinary, startGateway, startMock, waitFor } from '../lib/harness.js';

const ADMIN = 'admin-secret-for-reload';
const HARD = ['prove the theorem about', 'write a rigorous proof that', 'derive formally why', 'prove by induction that'];
const EASY = ['what is the weather like in', 'is it sunny today in', 'will it rain tomorrow in', 'how cold is it in'];
const WORDS = ['primes', 'graphs', 'groups', 'rings', 'fields', 'sets', 'series', 'limits', 'lattices', 'knots',
               'Paris', 'Oslo', 'Lima', 'Cairo', 'Tokyo', 'Quito', 'Perth', 'Dakar', 'Hanoi', 'Riga'];

// Trains a router into `out`. `hardNeedsBig` false: the small model is as good on every prompt.
function trainRouter(dir, out, hardNeedsBig) {
  const lines = [];
  let id = 0;
  for (const h of HARD) for (const w of WORDS)
    lines.push({ id: `s${id++}`, prompt: `${h} ${w} are infinite`,
      outcomes: { 'mock-small': { score: hardNeedsBig ? 0 : 1, cost_usd: 0.0001 }, 'mock-large': { score: 1, cost_usd: 0.01 } } });
  for (const e of EASY) for (const w of WORDS)
    lines.push({ id: `s${id++}`, prompt: `${e} ${w}`,
      outcomes: { 'mock-small': { score: 1, cost_usd: 0.0001 }, 'mock-large': { score: 1, cost_usd: 0.01 } } });
  const data = join(dir, `outcomes-${hardNeedsBig}.jsonl`);
  writeFileSync(data, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const train = spawnSync(gatewayBinary(), ['train', '--data', data, '--out', out], { encoding: 'utf8' });
  assert.equal(train.status, 0, `rightsize train failed:\n${train.stderr}`);
}

function config({ mockPort, router, auto = 'a', listen = '127.0.0.1:0', extraModel = '' }) {
  return `
server: {listen: "${listen}", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1"}
models:
  a:     {provider: mock, id: "mock-small;chunks=4", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  b:     {provider: mock, id: "mock-large;chunks=4", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  slowa: {provider: mock, id: "mock-small;chunks=40;chunk_ms=10", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 10, output_usd_per_mtok: 30}
${extraModel}
routes:
  auto:  {candidates: [${auto}], policy: fixed}
  slow:  {candidates: [${auto === 'a' ? 'slowa' : 'b'}], policy: fixed}
  smart: {candidates: [small, big], policy: learned, router: "${router}", quality: 0.95, reference: big}
ledger: {kind: "off"}
`;
}

// Replaces `path` atomically, so a reload never reads half a file.
function replaceFile(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe('live reload', () => {
  let dir;
  let router;
  let mock;
  let gw;
  let url;

  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const reloads = async (result) => {
    const m = (await metrics()).match(new RegExp(`^rightsize_config_reloads_total\\{result="${result}"\\} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  };
  // Sends SIGHUP and waits until the reload counter of `result` reaches `count`.
  async function hup(result, count) {
    gw.proc.kill('SIGHUP');
    const reached = await waitFor(async () => (await reloads(result)) >= count, 10000);
    assert.ok(reached, `no reload counted as ${result} (#${count}); gateway output:\n${gw.output()}`);
  }
  async function chat(model, content, stream = false) {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream, messages: [{ role: 'user', content }] }),
    });
    const body = await res.text();
    return { status: res.status, model: res.headers.get('x-rightsize-model'), body };
  }
  const adminReload = (headers = {}, method = 'POST') =>
    fetch(`${url}/admin/reload`, { method, headers });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rightsize-reload-'));
    router = join(dir, 'router.rsr');
    trainRouter(dir, router, false);
    mock = await startMock();
    gw = await startGateway(config({ mockPort: mock.port, router }), {
      env: { ...process.env, RIGHTSIZE_ADMIN_KEY: ADMIN },
    });
    url = `http://127.0.0.1:${gw.port}`;
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    if (!gw) return;
    const { exitCode, signalCode } = gw.proc;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`the gateway exited (code ${exitCode}, signal ${signalCode}); its output:\n${gw.output()}`);
    }
  });

  test('under load, SIGHUP swaps a route and a router file, refuses bad configs, and no request fails', async () => {
    let stop = false;
    const failures = [];
    const seen = { plain: new Set(), stream: new Set() };
    let answered = 0;
    async function loop(i, stream) {
      let n = 0;
      while (!stop) {
        const r = await chat('auto', `loop ${i} request ${n++}`, stream);
        const ok = r.status === 200 && (!stream || r.body.trimEnd().endsWith('data: [DONE]'));
        if (!ok) failures.push(`${stream ? 'stream' : 'plain'} ${r.status} ${r.body.slice(0, 300)}`);
        else {
          seen[stream ? 'stream' : 'plain'].add(r.model);
          answered++;
        }
      }
    }
    const loops = [loop(0, false), loop(1, true), loop(2, false), loop(3, true)];
    const servedBy = (kind, model) => waitFor(() => seen[kind].has(model), 10000);
    try {
      assert.ok(await servedBy('plain', 'a'), 'the loops never got an answer from a');

      // A route's candidates change: a → b.
      replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'b' }));
      await hup('ok', 1);
      seen.plain.clear();
      seen.stream.clear();
      assert.ok(await servedBy('plain', 'b'), 'plain requests did not move to b');
      assert.ok(await servedBy('stream', 'b'), 'streaming requests did not move to b');

      // The router file changes under the same config: the hard ask moves from small to big.
      const before = await chat('smart', 'prove the theorem about knots are infinite');
      assert.equal(before.model, 'small');
      const next = join(dir, 'router-next.rsr');
      trainRouter(dir, next, true);
      renameSync(next, router);
      await hup('ok', 2);
      const hard = await chat('smart', 'prove the theorem about knots are infinite');
      assert.equal(hard.model, 'big', hard.body);
      assert.equal((await chat('smart', 'what is the weather like in Oslo')).model, 'small');

      // A YAML error, an unknown model, a new listen address: refused, b keeps serving.
      replaceFile(gw.configPath, 'server: {listen: "127.0.0.1:0"\nroutes: [\n');
      await hup('invalid', 1);
      replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'nosuchmodel' }));
      await hup('invalid', 2);
      replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'a', listen: '127.0.0.1:9' }));
      await hup('refused', 1);
      seen.plain.clear();
      seen.stream.clear();
      assert.ok(await servedBy('plain', 'b'), 'b stopped serving after refused reloads');
      assert.ok(await servedBy('stream', 'b'), 'b stopped serving streams after refused reloads');
      assert.ok(!seen.plain.has('a') && !seen.stream.has('a'), 'a refused config took over');
      assert.equal(await reloads('ok'), 2);
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    assert.deepEqual(failures, []);
    assert.ok(answered > 0);
    const out = gw.output();
    assert.match(out, /config reload \(SIGHUP\): .* loaded/);
    assert.match(out, /config reload \(SIGHUP\) invalid, the current configuration keeps serving: /);
    assert.match(out, /config reload \(SIGHUP\) refused, the current configuration keeps serving: server\.listen cannot change without a restart/);
  });

  test('a request in flight finishes on the config it started on', async () => {
    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'a' }));
    const auth = { authorization: `Bearer ${ADMIN}` };
    assert.equal((await adminReload(auth)).status, 200);
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', stream: true, messages: [{ role: 'user', content: 'take your time' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-rightsize-model'), 'slowa');
    const reader = res.body.getReader();
    const first = await reader.read();  // the stream is under way on the old config
    assert.ok(!first.done);
    // The new config drops the model the stream is using.
    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'b' }).replace(/\n  slowa: .*\n/, '\n'));
    const swapped = await adminReload(auth);
    assert.equal(swapped.status, 200, await swapped.clone().text());
    let text = new TextDecoder().decode(first.value);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    assert.ok(text.trimEnd().endsWith('data: [DONE]'), text.slice(-300));
    assert.equal((text.match(/"content":"/g) || []).length >= 40, true, 'chunks missing from the in-flight stream');
    assert.equal((await chat('slow', 'now')).model, 'b');
  });

  test('POST /admin/reload needs the admin key and answers the outcome', async () => {
    assert.equal((await adminReload()).status, 401);
    assert.equal((await adminReload({ authorization: 'Bearer wrong' })).status, 401);
    const auth = { authorization: `Bearer ${ADMIN}` };
    assert.equal((await adminReload(auth, 'GET')).status, 405);

    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'a' }));
    let res = await adminReload(auth);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).result, 'ok');
    assert.equal((await chat('auto', 'hi')).model, 'a');

    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'nosuchmodel' }));
    res = await adminReload(auth);
    assert.equal(res.status, 400);
    const invalid = await res.json();
    assert.equal(invalid.result, 'invalid');
    assert.match(invalid.message, /nosuchmodel/);

    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'b', listen: '127.0.0.1:9' }));
    res = await adminReload(auth);
    assert.equal(res.status, 409);
    assert.match((await res.json()).message, /server\.listen/);

    replaceFile(gw.configPath, config({ mockPort: mock.port, router, auto: 'b' }).replace('threads: 2', 'threads: 3'));
    res = await adminReload(auth);
    assert.equal(res.status, 409);
    assert.match((await res.json()).message, /server\.threads/);
    assert.equal((await chat('auto', 'still a')).model, 'a');
  });

  // Last: the gateways retired by the reloads above are torn down with the current one.
  test('SIGTERM after reloads stops cleanly', async () => {
    const proc = gw.proc;
    await gw.stop();
    gw = null;
    assert.equal(proc.exitCode, 0, `exit code ${proc.exitCode}, signal ${proc.signalCode}`);
  });
});

describe('live reload without RIGHTSIZE_ADMIN_KEY', () => {
  let mock;
  let gw;
  before(async () => {
    mock = await startMock();
    const env = { ...process.env };
    delete env.RIGHTSIZE_ADMIN_KEY;
    gw = await startGateway(`
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mock.port}/v1"}
models:
  a: {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
ledger: {kind: "off"}
`, { env });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });

  test('/admin/reload is off (404), SIGHUP still reloads', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.port}/admin/reload`, {
      method: 'POST', headers: { authorization: 'Bearer anything' },
    });
    assert.equal(res.status, 404);
    gw.proc.kill('SIGHUP');
    const ok = await waitFor(async () => /rightsize_config_reloads_total\{result="ok"\} 1\b/.test(
      await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text()), 10000);
    assert.ok(ok, gw.output());
  });
});
