// Session pinning across two gateway replicas sharing a Redis (limits.kind: redis): the model a
// session was first routed to on replica A is the one replica B uses for it too.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/), and redis-server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { startGateway, startMock } from '../lib/harness.js';
import { startRedis } from '../lib/redis.js';

const config = (mockPort, redisUrl) => `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", retry: {max_attempts: 1}}
models:
  small: {provider: mock, id: mock-small, input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  big:   {provider: mock, id: mock-large, input_usd_per_mtok: 5, output_usd_per_mtok: 15}
routes:
  ruled:
    policy: rules
    candidates: [small, big]
    rules:
      - {when: {metadata: {tier: premium}}, model: big}
      - {model: small}
sessions: {ttl_ms: 60000}
ledger: {kind: off}
limits: {kind: redis, url: "${redisUrl}", timeout_ms: 500}
`;

const chat = (gw, body, headers = {}) =>
  fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'ruled', messages: [{ role: 'user', content: 'hi' }], ...body }),
  }).then(async (r) => ({ status: r.status, model: r.headers.get('x-rightsize-model'), text: await r.text() }));

describe('session pins in redis', () => {
  let mock, redis, a, b;

  before(async () => {
    mock = await startMock();
    redis = await startRedis();
    a = await startGateway(config(mock.port, redis.url));
    b = await startGateway(config(mock.port, redis.url));
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.stop();
    await mock?.stop();
  });

  test('a session pinned on replica A stays on its model on replica B', async () => {
    const session = `s-${process.pid}-${Date.now()}`;
    const first = await chat(a, { metadata: { tier: 'premium' } }, { 'x-rightsize-session': session });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.model, 'big');
    // The pin is written off the request path: give it a moment to land.
    let onB;
    for (let i = 0; i < 50; i++) {
      onB = await chat(b, {}, { 'x-rightsize-session': session });
      if (onB.model === 'big') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(onB.status, 200, onB.text);
    assert.equal(onB.model, 'big', 'replica B follows the pin replica A wrote');
    // Without the session, or with another one, the rules decide afresh.
    assert.equal((await chat(b, {})).model, 'small');
    assert.equal((await chat(b, {}, { 'x-rightsize-session': `${session}-x` })).model, 'small');
  });
});
