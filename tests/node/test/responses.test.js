// POST /v1/responses (the OpenAI Responses API) driven by real clients — the official openai SDK,
// the Vercel AI SDK's default OpenAI provider and LangChain's ChatOpenAI with useResponsesApi —
// routed like /v1/chat/completions: to rs_mock_upstream's OpenAI endpoint (translated both ways),
// and to its Anthropic endpoint through a `kind: anthropic` provider (the function call round trip).
// Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or the binaries in build/).

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { ChatOpenAI } from '@langchain/openai';

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

describe('POST /v1/responses seen by real Responses API clients', () => {
  let mock;
  let gateway;
  let client;
  let base;

  before(async () => {
    mock = await startMock();
    gateway = await startGateway(gatewayConfig(mock.port));
    base = `http://127.0.0.1:${gateway.port}/v1`;
    client = new OpenAI({ apiKey: 'sk-client', baseURL: base, maxRetries: 0, timeout: 10000 });
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

  test('responses.create: instructions, output_text, usage and the rightsize headers, routed like chat', async () => {
    const user = 'Summarize the plot of Hamlet in two sentences, please.';
    const instructions = 'You are terse.';
    const { data, response } = await client.responses
      .create({ model: 'auto', instructions, input: user, max_output_tokens: 300, temperature: 0.3 })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'response');
    assert.match(data.id, /^resp_/);
    assert.equal(data.status, 'completed');
    assert.equal(data.output_text, mockReplyTo(user));
    assert.equal(data.output.length, 1);
    assert.equal(data.output[0].type, 'message');
    assert.equal(data.output[0].role, 'assistant');
    assert.deepEqual(data.output[0].content.map((c) => c.type), ['output_text']);
    assert.equal(data.usage.input_tokens, promptTokens(instructions, user));
    assert.equal(data.usage.output_tokens, words(mockReplyTo(user)));
    assert.equal(data.usage.total_tokens, data.usage.input_tokens + data.usage.output_tokens);
    assert.equal(data.usage.input_tokens_details.cached_tokens, 0);
    assert.equal(data.usage.output_tokens_details.reasoning_tokens, 0);
    assert.equal(response.headers.get('x-rightsize-route'), 'auto');
    assert.equal(response.headers.get('x-rightsize-model'), 'small');
    assert.ok(Number(response.headers.get('x-rightsize-cost-usd')) > 0);
    const sent = JSON.parse((await mock.last()).body);
    assert.equal(sent.model, 'mock-small');
    assert.equal(sent.max_completion_tokens, 300);
    assert.equal(sent.temperature, 0.3);
    assert.deepEqual(sent.messages, [
      { role: 'system', content: instructions },
      { role: 'user', content: user },
    ]);
  });

  test('responses.create with stream: the event sequence, deltas, and response.completed with usage', async () => {
    const user = 'Stream me a short answer about rivers';
    const stream = await client.responses.create({ model: 'small', input: [{ role: 'user', content: user }], stream: true });
    const types = [];
    const deltas = [];
    let completed;
    let seq = 0;
    for await (const ev of stream) {
      types.push(ev.type);
      assert.equal(ev.sequence_number, seq++);
      if (ev.type === 'response.output_text.delta') deltas.push(ev.delta);
      if (ev.type === 'response.completed') completed = ev.response;
    }
    assert.deepEqual(types.slice(0, 4), ['response.created', 'response.in_progress', 'response.output_item.added', 'response.content_part.added']);
    assert.deepEqual(types.slice(-4), ['response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'response.completed']);
    assert.ok(deltas.length > 3, `expected several deltas, got ${deltas.length}`);
    assert.equal(deltas.join(''), mockReplyTo(user));
    assert.equal(completed.status, 'completed');
    assert.equal(completed.output[0].content[0].text, mockReplyTo(user));
    assert.equal(completed.usage.input_tokens, promptTokens(user));
    assert.equal(completed.usage.output_tokens, words(mockReplyTo(user)));

    // The SDK's stream helper assembles the same final response.
    const helper = client.responses.stream({ model: 'small', input: user });
    const final = await helper.finalResponse();
    assert.equal(final.output_text, mockReplyTo(user));
  });

  test('function tool round trip (function_call → function_call_output) through a kind: anthropic provider', async () => {
    const tools = [{ type: 'function', name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { query: { type: 'string' } } }, strict: false }];
    const first = await client.responses.create({ model: 'haiku', max_output_tokens: 200, tools, input: 'capital of France' });
    const call = first.output.find((i) => i.type === 'function_call');
    assert.ok(call, JSON.stringify(first.output));
    assert.equal(call.name, 'lookup');
    assert.deepEqual(JSON.parse(call.arguments), { query: 'capital of France' });
    assert.ok(call.call_id);

    const second = await client.responses.create({
      model: 'haiku',
      max_output_tokens: 200,
      tools,
      input: [{ role: 'user', content: 'capital of France' }, ...first.output, { type: 'function_call_output', call_id: call.call_id, output: 'Paris' }],
    });
    assert.equal(second.output_text, 'tool results: Paris');

    // Streamed: the call arrives as function_call_arguments deltas.
    const stream = await client.responses.create({ model: 'haiku', max_output_tokens: 200, tools, input: 'capital of Peru', stream: true });
    let argDeltas = 0;
    let doneItem;
    for await (const ev of stream) {
      if (ev.type === 'response.function_call_arguments.delta') argDeltas++;
      if (ev.type === 'response.output_item.done' && ev.item.type === 'function_call') doneItem = ev.item;
    }
    assert.ok(argDeltas >= 1, 'expected function_call_arguments deltas');
    assert.deepEqual(JSON.parse(doneItem.arguments), { query: 'capital of Peru' });
  });

  test('the Vercel AI SDK default OpenAI provider (Responses API): generateText and streamText', async () => {
    const openai = createOpenAI({ apiKey: 'sk-client', baseURL: base });
    const user = 'Tell me about the Vercel AI SDK please';
    const r = await generateText({ model: openai('small'), prompt: user, maxRetries: 0 });
    assert.equal(r.text, mockReplyTo(user));
    assert.equal(r.usage.inputTokens, promptTokens(user));
    assert.equal(r.usage.outputTokens, words(mockReplyTo(user)));
    assert.equal(r.finishReason, 'stop');
    assert.ok(JSON.parse((await mock.last()).body).messages, 'the upstream got a chat completions body');

    const s = streamText({ model: openai('small'), system: 'Be brief.', prompt: user, maxRetries: 0 });
    let text = '';
    for await (const t of s.textStream) text += t;
    assert.equal(text, mockReplyTo(user));
    const usage = await s.usage;
    assert.equal(usage.inputTokens, promptTokens('Be brief.', user));
    assert.equal(await s.finishReason, 'stop');
  });

  test('the Vercel AI SDK runs a multi-step tool loop through a kind: anthropic provider (items replayed, or item_reference)', async () => {
    const openai = createOpenAI({ apiKey: 'sk-client', baseURL: base });
    // store: false → the SDK replays the items; by default it sends item_reference items, resolved
    // from the gateway's recent output items.
    for (const providerOptions of [{ openai: { store: false } }, {}]) {
      const r = await generateText({
        model: openai('haiku'),
        prompt: 'capital of France',
        maxRetries: 0,
        stopWhen: stepCountIs(3),
        tools: { lookup: tool({ description: 'Looks things up', inputSchema: z.object({ query: z.string() }), execute: async ({ query }) => `Paris (${query})` }) },
        providerOptions,
      });
      assert.equal(r.steps.length, 2, JSON.stringify(providerOptions));
      assert.equal(r.steps[0].toolCalls[0].toolName, 'lookup');
      assert.deepEqual(r.steps[0].toolCalls[0].input, { query: 'capital of France' });
      assert.equal(r.text, 'tool results: Paris (capital of France)');
    }
    const res = await fetch(`${base}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'haiku', input: [{ type: 'item_reference', id: 'fc_never_seen' }] }),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.param, 'input[0].id');
  });

  test('LangChain ChatOpenAI with useResponsesApi: invoke and stream', async () => {
    const model = new ChatOpenAI({ model: 'small', apiKey: 'sk-client', useResponsesApi: true, maxRetries: 0, configuration: { baseURL: base } });
    const user = 'What does LangChain do?';
    const msg = await model.invoke(user);
    assert.equal(msg.text, mockReplyTo(user));
    assert.equal(msg.usage_metadata.input_tokens, promptTokens(user));
    let streamed = '';
    for await (const chunk of await model.stream(user)) streamed += chunk.text;
    assert.equal(streamed, mockReplyTo(user));
  });

  test('malformed or untranslatable requests: a 400 in OpenAI shape naming the field, nothing sent upstream', async () => {
    const post = (body) =>
      fetch(`${base}/responses`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body });
    const cases = [
      ['{"model":"small","input":', null],
      [JSON.stringify({ model: 'small', input: 42 }), 'input'],
      [JSON.stringify({ model: 'small', input: [{ type: 'computer_call_output', call_id: 'c' }] }), 'input[0].type'],
      [JSON.stringify({ model: 'small', input: 'x', tools: [{ type: 'web_search' }] }), 'tools[0].type'],
      [JSON.stringify({ model: 'small', input: 'x', previous_response_id: 'resp_1' }), 'previous_response_id'],
    ];
    for (const [body, param] of cases) {
      const res = await post(body);
      assert.equal(res.status, 400, body);
      const err = (await res.json()).error;
      assert.equal(err.type, 'invalid_request_error', body);
      assert.equal(err.param, param, body);
      assert.ok(err.message.length > 0);
    }
    await assert.rejects(
      client.responses.create({ model: 'small', input: 'x', tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.match(err.message, /file_search/);
        return true;
      },
    );
    assert.equal((await mock.stats()).count, 0, 'a rejected request must not reach the upstream');
    await assert.rejects(client.responses.create({ model: 'no-such-model', input: 'x' }), (err) => err.status === 404);
    const get = await fetch(`${base}/responses/resp_1`);
    assert.equal(get.status, 404);
  });

  test('an upstream that breaks mid-stream ends the stream with an error event', async () => {
    const res = await fetch(`${base}/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cut', input: 'a long enough question to get several chunks back', stream: true }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^event: response\.created\n/);
    assert.match(text, /event: error\ndata: \{"code":"upstream_error"/);
    assert.doesNotMatch(text, /response\.completed/);
  });
});
