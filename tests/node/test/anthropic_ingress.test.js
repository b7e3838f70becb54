// The official @anthropic-ai/sdk client against the gateway's POST /v1/messages, routed like
// /v1/chat/completions: to rs_mock_upstream's OpenAI endpoint (translated both ways), and to its
// Anthropic endpoint through a `kind: anthropic` provider (the tool use round trip).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';

import { mockReplyTo, startGateway, startMock } from '../lib/harness.js';

function gatewayConfig(mockPort) {
  return `
server: {listen: "127.0.0.1:0", threads: 1, max_body_bytes: 65536}
providers:
  mock:   {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream"}
  claude: {kind: anthropic, base_url: "http://127.0.0.1:${mockPort}", api_key: "sk-ant-upstream"}
models:
  small:   {provider: mock, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  big:     {provider: mock, id: "mock-large", input_usd_per_mtok: 5, output_usd_per_mtok: 15}
  broken:  {provider: mock, id: "mock-small;status=500", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  cut:     {provider: mock, id: "mock-small;reset_after=2", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
  haiku:   {provider: claude, id: "claude-mock", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
routes:
  auto: {candidates: [small, big], policy: cheapest, reference: big}
ledger: {kind: "off"}
`;
}

// ceil(code points / 4): the mock's prompt_tokens over every message content.
const promptTokens = (...texts) => Math.ceil(texts.reduce((n, t) => n + [...t].length, 0) / 4);
const words = (s) => s.split(/\s+/).filter(Boolean).length;

describe('POST /v1/messages seen by the @anthropic-ai/sdk client', () => {
  let mock;
  let gateway;
  let client;

  before(async () => {
    mock = await startMock();
    gateway = await startGateway(gatewayConfig(mock.port));
    client = new Anthropic({ apiKey: 'sk-client', baseURL: `http://127.0.0.1:${gateway.port}`, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await gateway?.stop();
    await mock?.stop();
  });
  beforeEach(async () => {
    await mock.reset();
  });
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 10));
    const { exitCode, signalCode } = gateway.proc;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`the gateway exited (code ${exitCode}, signal ${signalCode}); its output:\n${gateway.output()}`);
    }
  });

  test('messages.create: text, usage, stop_reason and the rightsize headers, routed like chat completions', async () => {
    const user = 'Summarize the plot of Hamlet in two sentences, please.';
    const system = 'You are terse.';
    const { data, response } = await client.messages
      .create({ model: 'auto', max_tokens: 300, system, messages: [{ role: 'user', content: user }] })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.match(data.id, /^msg_/);
    assert.deepEqual(data.content, [{ type: 'text', text: mockReplyTo(user) }]);
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(data.usage.input_tokens, promptTokens(system, user));
    assert.equal(data.usage.output_tokens, words(mockReplyTo(user)));
    assert.equal(response.headers.get('x-rightsize-route'), 'auto');
    assert.equal(response.headers.get('x-rightsize-model'), 'small');
    assert.ok(Number(response.headers.get('x-rightsize-cost-usd')) > 0);
    // The upstream got an OpenAI request: system first, max_tokens carried.
    const sent = JSON.parse((await mock.last()).body);
    assert.equal(sent.model, 'mock-small');
    assert.equal(sent.max_tokens, 300);
    assert.deepEqual(sent.messages, [
      { role: 'system', content: system },
      { role: 'user', content: user },
    ]);
  });

  test('multi-turn with tools: the upstream gets OpenAI tools, tool_calls and tool messages', async () => {
    const msg = await client.messages.create({
      model: 'big',
      max_tokens: 100,
      tools: [{ name: 'get_weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'auto' },
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '18C and sunny' }, { type: 'text', text: 'And tomorrow?' }] },
      ],
    });
    assert.equal(msg.content[0].text, mockReplyTo('And tomorrow?'));
    const sent = JSON.parse((await mock.last()).body);
    assert.deepEqual(sent.tools, [
      { type: 'function', function: { name: 'get_weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ]);
    assert.equal(sent.tool_choice, 'auto');
    assert.deepEqual(sent.messages.slice(1), [
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '18C and sunny' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
  });

  test('messages.stream: text events, final message with stop_reason and usage', async () => {
    const user = 'Stream me a short answer about rivers';
    const stream = client.messages.stream({ model: 'small', max_tokens: 50, messages: [{ role: 'user', content: user }] });
    const seen = [];
    const texts = [];
    stream.on('streamEvent', (e) => seen.push(e.type));
    stream.on('text', (t) => texts.push(t));
    const final = await stream.finalMessage();
    assert.equal(texts.join(''), mockReplyTo(user));
    assert.ok(texts.length > 3, `expected several text deltas, got ${texts.length}`);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].type, 'text');
    assert.equal(final.content[0].text, mockReplyTo(user));
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.input_tokens, promptTokens(user));
    assert.equal(final.usage.output_tokens, words(mockReplyTo(user)));
    assert.equal(seen[0], 'message_start');
    assert.equal(seen[1], 'content_block_start');
    assert.deepEqual(seen.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
  });

  test('tool use round trip through a kind: anthropic provider, plain and streamed', async () => {
    const tools = [{ name: 'lookup', description: 'Looks things up', input_schema: { type: 'object', properties: { query: { type: 'string' } } } }];
    const first = await client.messages.create({ model: 'haiku', max_tokens: 200, tools, messages: [{ role: 'user', content: 'capital of France' }] });
    assert.equal(first.stop_reason, 'tool_use');
    const call = first.content.find((b) => b.type === 'tool_use');
    assert.ok(call, JSON.stringify(first.content));
    assert.equal(call.name, 'lookup');
    assert.deepEqual(call.input, { query: 'capital of France' });

    const history = [
      { role: 'user', content: 'capital of France' },
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Paris' }] },
    ];
    const second = await client.messages.create({ model: 'haiku', max_tokens: 200, tools, messages: history });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].text, 'tool results: Paris');

    // Streamed: the tool_use block arrives as input_json_delta pieces and parses to the same input.
    const stream = client.messages.stream({ model: 'haiku', max_tokens: 200, tools, messages: [{ role: 'user', content: 'capital of Peru' }] });
    const jsonDeltas = [];
    stream.on('inputJson', (partial) => jsonDeltas.push(partial));
    const streamed = await stream.finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    const sc = streamed.content.find((b) => b.type === 'tool_use');
    assert.deepEqual(sc.input, { query: 'capital of Peru' });
    assert.ok(jsonDeltas.length >= 2, `expected input_json deltas, got ${jsonDeltas.length}`);
    assert.ok(streamed.usage.output_tokens > 0 && streamed.usage.input_tokens > 0, JSON.stringify(streamed.usage));
  });

  test('messages.countTokens: an Anthropic model is counted upstream, others estimated (ceil(chars / 4))', async () => {
    const system = 'You are terse.';
    const user = 'How many tokens is this question?';
    // Route auto's first candidate is an OpenAI-kind model: the gateway's estimate, nothing sent upstream.
    const { data: r, response } = await client.messages
      .countTokens({ model: 'auto', system, messages: [{ role: 'user', content: user }] })
      .withResponse();
    assert.deepEqual(r, { input_tokens: promptTokens(system, user) });
    assert.equal(response.headers.get('x-rightsize-token-count'), 'estimated');
    assert.equal((await mock.stats()).count, 0, 'an estimate sends nothing upstream');
    // haiku is served by a kind: anthropic provider: its count_tokens answers (the mock: 1000 + messages).
    const { data: up, response: upRes } = await client.messages
      .countTokens({ model: 'haiku', system, messages: [{ role: 'user', content: [{ type: 'text', text: user }] }] })
      .withResponse();
    assert.deepEqual(up, { input_tokens: 1001 });
    assert.equal(upRes.headers.get('x-rightsize-token-count'), 'upstream');
    const sent = await mock.last();
    const sentBody = JSON.parse(sent.body);
    assert.equal(sentBody.model, 'claude-mock');
    assert.equal(sentBody.system, system);
    await assert.rejects(client.messages.countTokens({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), (err) => err.status === 404);
    await assert.rejects(client.messages.countTokens({ model: 'auto', messages: [] }), (err) => err.status === 400);
  });

  test('errors come back in Anthropic shape with the right status', async () => {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.NotFoundError, String(err));
        assert.equal(err.status, 404);
        assert.equal(err.error.type, 'error');
        assert.equal(err.error.error.type, 'not_found_error');
        assert.match(err.error.error.message, /no-such-model/);
        return true;
      },
    );
    const res = await fetch(`http://127.0.0.1:${gateway.port}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { type: 'error', error: { type: 'invalid_request_error', message: 'max_tokens: required' } });
    assert.equal((await mock.stats()).count, 0, 'a rejected request must not reach the upstream');

    await assert.rejects(
      client.messages.create({ model: 'broken', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.equal(err.status, 502);
        assert.equal(err.error.error.type, 'api_error');
        return true;
      },
    );
    const get = await fetch(`http://127.0.0.1:${gateway.port}/v1/messages`);
    assert.equal(get.status, 405);
    assert.equal((await get.json()).error.type, 'invalid_request_error');

    // Refused by the HTTP layer before routing (body over server.max_body_bytes): still Anthropic's shape.
    const upstreamCalls = (await mock.stats()).count;
    await assert.rejects(
      client.messages.create({ model: 'small', max_tokens: 5, messages: [{ role: 'user', content: 'y'.repeat(70000) }] }),
      (err) => {
        assert.equal(err.status, 413);
        assert.equal(err.error.type, 'error');
        assert.equal(err.error.error.type, 'request_too_large');
        assert.match(err.error.error.message, /65536/);
        return true;
      },
    );
    const chatTooBig = await fetch(`http://127.0.0.1:${gateway.port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'small', messages: [{ role: 'user', content: 'y'.repeat(70000) }] }),
    });
    assert.equal(chatTooBig.status, 413);
    assert.equal((await chatTooBig.json()).error.code, 'payload_too_large');
    assert.equal((await mock.stats()).count, upstreamCalls, 'a refused body must not reach the upstream');
  });

  test('a stream that breaks after it started ends with an Anthropic error event', async () => {
    const stream = client.messages.stream({ model: 'cut', max_tokens: 50, messages: [{ role: 'user', content: 'one two three four five six' }] });
    const texts = [];
    stream.on('text', (t) => texts.push(t));
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.match(String(err.message), /upstream stream failed after the response started/);
      return true;
    });
    assert.ok(texts.length >= 1, 'text before the break is delivered');
  });
});
