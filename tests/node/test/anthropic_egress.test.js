// The official openai client → gateway → `kind: anthropic` provider → rs_mock_upstream's Anthropic
// endpoint (POST /v1/messages), which rejects any request shape the Messages API would reject, so
// these tests check the translation both ways. Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN.

import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

import { startGateway, startMock } from '../lib/harness.js';

function gatewayConfig(mockPort) {
  return `
server: {listen: "127.0.0.1:0", threads: 1}
providers:
  claude: {kind: anthropic, base_url: "http://127.0.0.1:${mockPort}", api_key: "sk-ant-upstream", retry: {max_attempts: 1}}
  backup: {kind: openai, base_url: "http://127.0.0.1:${mockPort}/v1", api_key: "sk-upstream"}
models:
  haiku:      {provider: claude, id: "claude-mock", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  overloaded: {provider: claude, id: "claude-mock;status=529", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  flaky:      {provider: claude, id: "claude-mock;stream_error=1", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  garbled:    {provider: claude, id: "claude-mock;bad_event=1", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  cut:        {provider: claude, id: "claude-mock;cut_stream=1", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  junk:       {provider: claude, id: "claude-mock;garbage=1", input_usd_per_mtok: 1, output_usd_per_mtok: 5}
  gpt:        {provider: backup, id: "mock-small", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.2}
routes:
  safe: {candidates: [overloaded], fallback: [gpt], policy: cheapest}
ledger: {kind: "off"}
`;
}

const PNG_1PX = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe('kind: anthropic egress seen by the openai client', () => {
  let mock;
  let gateway;
  let client;

  const lastSent = async () => {
    const last = await mock.last();
    return { body: JSON.parse(last.body), headers: last.headers };
  };

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
  afterEach(async () => {
    await new Promise((r) => setTimeout(r, 10));
    const { exitCode, signalCode } = gateway.proc;
    if (exitCode !== null || signalCode !== null) {
      throw new Error(`the gateway exited (code ${exitCode}, signal ${signalCode}); its output:\n${gateway.output()}`);
    }
  });

  test('the mock Anthropic endpoint really rejects wrong shapes', async () => {
    const post = (body, headers = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' }) =>
      fetch(`${mock.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const user = { role: 'user', content: 'hi' };
    const cases = [
      [{ model: 'm', messages: [user] }, /max_tokens: Field required/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'system', content: 's' }, user] }, /role/],
      [{ model: 'm', max_tokens: 5, messages: [user, user] }, /alternate/],
      [{ model: 'm', max_tokens: 5, messages: [user, { role: 'assistant', content: 'a' }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'nope', content: 'x' }] }] }, /tool_result must answer a tool_use/],
      [{ model: 'm', max_tokens: 5, messages: [user, { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {} }] }, user] }, /needs a tool_result/],
      [{ model: 'm', max_tokens: 5, messages: [user], stream_options: { include_usage: true } }, /stream_options: Extra inputs/],
      [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: '' }] }, /non-empty/],
      [{ model: 'm', max_tokens: 5, messages: [user], tools: [{ type: 'function', function: { name: 'f' } }] }, /tools\.0\.function: Extra inputs/],
      [{ model: 'm', max_tokens: 5, messages: [user], temperature: 1.5 }, /temperature/],
    ];
    for (const [body, pattern] of cases) {
      const res = await post(body);
      const json = await res.json();
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(json.type, 'error');
      assert.match(json.error.message, pattern, JSON.stringify(body));
    }
    assert.equal((await post({ model: 'm', max_tokens: 5, messages: [user] }, { 'anthropic-version': '2023-06-01' })).status, 401);
    assert.equal((await post({ model: 'm', max_tokens: 5, messages: [user] })).status, 200);
  });

  test('plain chat: system, multi-turn, stop, usage and the provider headers', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'haiku',
        temperature: 1.5,
        stop: ['never'],
        user: 'end-user-1',
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'first answer' },
          { role: 'system', content: 'Answer in French.' },
          { role: 'user', content: 'second question' },
        ],
      })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, 'mock reply to: second question');
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(data.usage.completion_tokens, 5);
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    assert.equal(response.headers.get('x-rightsize-model'), 'haiku');
    const { body, headers } = await lastSent();
    assert.equal(headers['x-api-key'], 'sk-ant-upstream');
    assert.equal(headers['anthropic-version'], '2023-06-01');
    assert.equal(headers.authorization, undefined, 'no Bearer key to Anthropic');
    assert.deepEqual(body, {
      model: 'claude-mock',
      max_tokens: 4096,
      system: 'Be brief.\n\nAnswer in French.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'first question' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'first answer' }] },
        { role: 'user', content: [{ type: 'text', text: 'second question' }] },
      ],
      temperature: 1,
      stop_sequences: ['never'],
      metadata: { user_id: 'end-user-1' },
    });
  });

  test('max_tokens and stop sequences come back as finish_reason length and stop', async () => {
    const cut = await client.chat.completions.create({ model: 'haiku', max_tokens: 2, messages: [{ role: 'user', content: 'a b c d' }] });
    assert.equal(cut.choices[0].finish_reason, 'length');
    assert.equal(cut.choices[0].message.content, 'mock reply ');
    assert.equal((await lastSent()).body.max_tokens, 2);
    const stopped = await client.chat.completions.create({ model: 'haiku', stop: 'to:', messages: [{ role: 'user', content: 'xyz' }] });
    assert.equal(stopped.choices[0].finish_reason, 'stop');
    assert.equal(stopped.choices[0].message.content, 'mock reply ');
  });

  test('images: data URLs become base64 sources, http URLs url sources', async () => {
    const res = await client.chat.completions.create({
      model: 'haiku',
      max_completion_tokens: 100,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'compare these' },
            { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_1PX}` } },
            { type: 'image_url', image_url: { url: 'https://example.test/cat.jpg', detail: 'low' } },
          ],
        },
      ],
    });
    assert.equal(res.choices[0].message.content, 'mock reply to: compare these (2 images)');
    const { body } = await lastSent();
    assert.equal(body.max_tokens, 100);
    assert.deepEqual(body.messages[0].content, [
      { type: 'text', text: 'compare these' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_1PX } },
      { type: 'image', source: { type: 'url', url: 'https://example.test/cat.jpg' } },
    ]);
  });

  test('tools: tool_calls out, tool results back in as tool_result blocks', async () => {
    const tools = [{ type: 'function', function: { name: 'search', description: 'Web search', parameters: { type: 'object', properties: { query: { type: 'string' } } } } }];
    const messages = [{ role: 'user', content: 'who wrote Hamlet' }];
    const first = await client.chat.completions.create({ model: 'haiku', tools, tool_choice: 'required', parallel_tool_calls: false, messages });
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.function.name, 'search');
    assert.deepEqual(JSON.parse(call.function.arguments), { query: 'who wrote Hamlet' });
    let { body } = await lastSent();
    assert.deepEqual(body.tools, [{ name: 'search', description: 'Web search', input_schema: { type: 'object', properties: { query: { type: 'string' } } } }]);
    assert.deepEqual(body.tool_choice, { type: 'any', disable_parallel_tool_use: true });

    messages.push(choice.message, { role: 'tool', tool_call_id: call.id, content: 'Shakespeare' });
    const second = await client.chat.completions.create({ model: 'haiku', tools, messages });
    assert.equal(second.choices[0].finish_reason, 'stop');
    assert.equal(second.choices[0].message.content, 'tool results: Shakespeare');
    ({ body } = await lastSent());
    assert.deepEqual(body.messages[2], { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Shakespeare' }] });
  });

  test('streaming: text deltas, finish_reason and a usage chunk', async () => {
    const stream = await client.chat.completions.create({
      model: 'haiku',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'sys' }, { role: 'user', content: 'stream this please' }],
    });
    let text = '';
    let finish = null;
    let usage = null;
    let contentChunks = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (!c) continue;
      if (c.delta?.content) {
        text += c.delta.content;
        contentChunks++;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(text, 'mock reply to: stream this please');
    assert.ok(contentChunks >= 5, `one delta per word expected, got ${contentChunks}`);
    assert.equal(finish, 'stop');
    assert.equal(usage.completion_tokens, 6);
    assert.ok(usage.prompt_tokens > 0);
    const { body } = await lastSent();
    assert.equal(body.stream, true);
    assert.equal(body.system, 'sys');

    // A finished stream hands its upstream connection back to the pool: three more streams, one connection.
    await mock.reset();
    for (let i = 0; i < 3; i++) {
      const again = await client.chat.completions.create({ model: 'haiku', stream: true, messages: [{ role: 'user', content: `n${i}` }] });
      for await (const _ of again);
    }
    const stats = await mock.stats();
    assert.equal(stats.count, 3);
    assert.ok(stats.accepted_connections <= 2, `upstream connections not reused: ${JSON.stringify(stats)}`);
  });

  test('streaming tools: the tool call arrives as argument deltas', async () => {
    const tools = [{ type: 'function', function: { name: 'search', parameters: { type: 'object' } } }];
    const stream = await client.chat.completions.create({ model: 'haiku', stream: true, tools, messages: [{ role: 'user', content: 'find cats' }] });
    const calls = {};
    let finish = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c) continue;
      for (const tc of c.delta?.tool_calls ?? []) {
        calls[tc.index] ??= { id: '', name: '', args: '', pieces: 0 };
        if (tc.id) calls[tc.index].id = tc.id;
        if (tc.function?.name) calls[tc.index].name = tc.function.name;
        if (tc.function?.arguments) {
          calls[tc.index].args += tc.function.arguments;
          calls[tc.index].pieces++;
        }
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, 'tool_calls');
    assert.equal(Object.keys(calls).length, 1);
    assert.match(calls[0].id, /^toolu_mock_/);
    assert.equal(calls[0].name, 'search');
    assert.equal(calls[0].pieces, 2);
    assert.deepEqual(JSON.parse(calls[0].args), { query: 'find cats' });
  });

  test('upstream errors: 529 falls back, an error event mid-stream and a garbled event end the stream cleanly', async () => {
    const { data, response } = await client.chat.completions.create({ model: 'safe', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    assert.equal(response.headers.get('x-rightsize-model'), 'gpt');
    assert.equal(data.choices[0].message.content, 'mock reply to: hello');
    assert.equal(response.headers.get('x-rightsize-attempts'), '2');

    await assert.rejects(client.chat.completions.create({ model: 'overloaded', messages: [{ role: 'user', content: 'x' }] }), (err) => {
      assert.equal(err.status, 502);
      assert.match(err.message, /mock error 529/);
      return true;
    });

    await assert.rejects(client.chat.completions.create({ model: 'junk', messages: [{ role: 'user', content: 'x' }] }), (err) => {
      assert.equal(err.status, 502);
      assert.match(err.message, /not a JSON object/);
      return true;
    });

    for (const model of ['flaky', 'garbled', 'cut']) {
      const res = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'one two three' }] }),
      });
      const text = await res.text();
      assert.equal(res.status, 200, model);
      assert.ok(!text.includes('[DONE]'), `${model}: a broken stream must not end with [DONE]:\n${text}`);
      const lastEvent = text.trim().split('\n\n').pop();
      const err = JSON.parse(lastEvent.replace(/^data: /, '')).error;
      assert.ok(err, `${model}: last event is an error:\n${text}`);
      const expected = { flaky: /Overloaded/, garbled: /not JSON/, cut: /ended before message_stop/ }[model];
      assert.match(err.message, expected);
    }
  });

  test('requests Anthropic cannot take are refused with 400 before any upstream call', async () => {
    await assert.rejects(
      client.chat.completions.create({
        model: 'haiku',
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }],
      }),
      (err) => {
        assert.equal(err.status, 400);
        assert.match(err.message, /input_audio/);
        return true;
      },
    );
    assert.equal((await mock.stats()).count, 0);
  });
});
