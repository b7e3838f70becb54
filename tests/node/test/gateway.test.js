// The official openai client against the rightsize gateway, with rs_mock_upstream as the only provider.
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

import { mockReplyTo, startGateway, startMock, waitFor } from '../lib/harness.js';

function gatewayConfig(mockPort) {
  return `
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  mock: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream"}
models:
  small:   {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  big:     {provider: mock, id: "mock-large", input_usd_per_mtok: 5, output_usd_per_mtok: 15}
  streamy: {provider: mock, id: "mock-small;chunks=7", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  slow:    {provider: mock, id: "mock-small;chunks=200;chunk_ms=20", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  broken:  {provider: mock, id: "mock-small;require_key=other", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
routes:
  auto: {candidates: [small, big], policy: cheapest, reference: big}
ledger: {kind: "off"}
`;
}

describe('rightsize gateway seen by the openai client', () => {
  let mock;
  let gateway;
  let client;

  before(async () => {
    mock = await startMock();
    gateway = await startGateway(gatewayConfig(mock.port));
    client = new OpenAI({ apiKey: 'sk-client', baseURL: gateway.baseURL, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.stop();
  });
  beforeEach(async () => {
    await mock.reset();
  });
  // A gateway crash otherwise shows up only as "Connection error" in the tests after it.
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 10));
    const { exitCode, signalCode } = gateway.proc;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`the gateway exited (code ${exitCode}, signal ${signalCode}); its output:\n${gateway.output()}`);
    }
  });

  test('plain chat returns the upstream reply and the rightsize headers', async () => {
    const user = 'Summarize the plot of Hamlet in two sentences, please.';
    const { data, response } = await client.chat.completions
      .create({ model: 'small', messages: [{ role: 'user', content: user }] })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.choices[0].message.content, mockReplyTo(user));
    assert.ok(response.headers.get('x-request-id'), 'x-request-id missing');
    assert.equal(response.headers.get('x-rightsize-model'), 'small');
    assert.ok(response.headers.has('x-rightsize-route'), 'x-rightsize-route missing');
    const cost = Number(response.headers.get('x-rightsize-cost-usd'));
    assert.ok(Number.isFinite(cost) && cost >= 0, `bad x-rightsize-cost-usd: ${response.headers.get('x-rightsize-cost-usd')}`);
  });

  test('the upstream gets the provider id, the provider key and the untouched body minus `rightsize`', async () => {
    await client.chat.completions.create({
      model: 'big',
      temperature: 0.3,
      max_tokens: 50,
      user: 'end-user-7',
      rightsize: { quality: 0.9 },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'forward me' },
      ],
    });
    const last = await mock.last();
    assert.equal(last.count, 1);
    assert.equal(last.authorization, 'Bearer sk-upstream');
    const body = JSON.parse(last.body);
    assert.equal(body.model, 'mock-large');
    assert.equal(body.rightsize, undefined);
    assert.equal(body.temperature, 0.3);
    assert.equal(body.max_tokens, 50);
    assert.equal(body.user, 'end-user-7');
    assert.deepEqual(body.messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'forward me' },
    ]);
  });

  test('streamed chunks reassemble exactly; no usage chunk unless the client asks', async () => {
    const read = async (extra) => {
      const stream = await client.chat.completions.create({
        model: 'streamy',
        stream: true,
        messages: [{ role: 'user', content: 'stream please' }],
        ...extra,
      });
      let text = '';
      let contentChunks = 0;
      let finish = null;
      const usages = [];
      for await (const chunk of stream) {
        if (chunk.usage) usages.push(chunk.usage);
        for (const choice of chunk.choices) {
          if (choice.delta?.content) {
            text += choice.delta.content;
            contentChunks++;
          }
          if (choice.finish_reason) finish = choice.finish_reason;
        }
      }
      return { text, contentChunks, finish, usages };
    };

    const plain = await read({});
    assert.equal(plain.text, 'w1 w2 w3 w4 w5 w6 w7');
    assert.equal(plain.contentChunks, 7);
    assert.equal(plain.finish, 'stop');
    assert.deepEqual(plain.usages, [], 'usage chunk sent although the client did not ask for it');

    const withUsage = await read({ stream_options: { include_usage: true } });
    assert.equal(withUsage.text, 'w1 w2 w3 w4 w5 w6 w7');
    assert.equal(withUsage.usages.length, 1);
    assert.equal(withUsage.usages[0].completion_tokens, 7);
    assert.equal(withUsage.usages[0].total_tokens, withUsage.usages[0].prompt_tokens + 7);
  });

  test('a route name as model is answered and named in x-rightsize-route', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'auto', messages: [{ role: 'user', content: 'route me' }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, mockReplyTo('route me'));
    assert.equal(response.headers.get('x-rightsize-route'), 'auto');
    assert.equal(response.headers.get('x-rightsize-model'), 'small', 'cheapest should pick the cheaper candidate');
    const body = JSON.parse((await mock.last()).body);
    assert.equal(body.model, 'mock-small');
  });

  test('an unknown model is a 404 NotFoundError with an OpenAI error body', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 404);
        assert.equal(typeof err.error?.message, 'string');
        assert.match(err.error.message, /no-such-model/);
        return true;
      },
    );
    assert.equal((await mock.stats()).count, 0, 'an unknown model must not reach the upstream');
  });

  test('an upstream 401 reaches the client as 401 with a message naming the upstream', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
        assert.equal(err.status, 401);
        assert.match(err.error?.message ?? '', /upstream/i);
        return true;
      },
    );
  });

  test('a client that abandons a stream cancels the upstream stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'slow',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    let seen = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++seen === 2) break; // break aborts the HTTP request
    }
    const stats = await waitFor(async () => {
      const s = await mock.stats();
      return s.cancelled_streams === 1 ? s : null;
    }, 3000);
    assert.ok(stats, 'the upstream stream kept running after the client went away');
  });

  test('HEAD answers with the head only, and the connection stays usable', async () => {
    const sock = connect(gateway.port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => { data += d.toString('latin1'); });
    await new Promise((r) => sock.once('connect', r));
    const exchange = async (request) => {
      data = '';
      sock.write(request);
      await waitFor(async () => (data.includes('\r\n\r\n') ? true : null), 3000);
      await new Promise((r) => setTimeout(r, 150)); // anything sent after the head arrives by now
      return data;
    };
    const head = await exchange('HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /content-length: 15\r\n/i);
    assert.ok(head.endsWith('\r\n\r\n'), `HEAD response carried a body: ${JSON.stringify(head)}`);
    const get = await exchange('GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    assert.match(get, /^HTTP\/1\.1 200/);
    assert.ok(get.endsWith('{"status":"ok"}'), get);
    sock.destroy();
  });
});
