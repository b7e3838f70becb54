// The official openai client against rs_mock_upstream directly: checks that the mock speaks OpenAI the way
// the real client expects (shapes, SSE framing, errors, Retry-After), so gateway tests built on it mean
// something. Needs RS_MOCK_UPSTREAM_BIN (or build/tests/fakes/rs_mock_upstream).

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import OpenAI from 'openai';

import { mockReplyTo, startMock, waitFor } from '../lib/harness.js';

describe('rs_mock_upstream seen by the openai client', () => {
  let mock;
  let client;

  before(async () => {
    mock = await startMock();
    client = new OpenAI({ apiKey: 'sk-test', baseURL: mock.baseURL, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await mock?.stop();
  });
  beforeEach(async () => {
    await mock.reset();
  });

  test('plain chat returns the mock reply, usage and the echoed model name', async () => {
    const user = 'What is the capital of France? Answer in one word, please.';
    const { data, response } = await client.chat.completions
      .create({ model: 'mock-small;latency_ms=1', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: user }] })
      .withResponse();
    assert.equal(response.status, 200);
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'mock-small');
    assert.equal(data.choices.length, 1);
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(data.choices[0].message.content, mockReplyTo(user));
    assert.equal(data.choices[0].finish_reason, 'stop');
    const chars = 'Be brief.'.length + user.length;
    assert.equal(data.usage.prompt_tokens, Math.ceil(chars / 4));
    assert.equal(data.usage.completion_tokens, mockReplyTo(user).split(/\s+/).filter(Boolean).length);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  });

  test('JSON escaping survives quotes, newlines and non-ASCII in the reply', async () => {
    const user = 'say "hi"\n\tthen é€😀 and a backslash \\ ok';
    const res = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: user }] });
    assert.equal(res.choices[0].message.content, mockReplyTo(user));
  });

  test('reply= directive is percent-decoded', async () => {
    const res = await client.chat.completions.create({ model: 'm;reply=a%20b%3Bc', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.choices[0].message.content, 'a b;c');
  });

  test('logprobs: true gets one entry per word with the logprob= value; otherwise null', async () => {
    const messages = [{ role: 'user', content: 'x' }];
    let res = await client.chat.completions.create({ model: 'm;reply=hello%20w%C3%B6rld;logprob=-2.5', messages, logprobs: true });
    assert.deepEqual(res.choices[0].logprobs.content, [
      { token: 'hello', logprob: -2.5, bytes: [...Buffer.from('hello')], top_logprobs: [] },
      { token: 'wörld', logprob: -2.5, bytes: [...Buffer.from('wörld')], top_logprobs: [] },
    ]);
    res = await client.chat.completions.create({ model: 'm;reply=hi', messages, logprobs: true });
    assert.deepEqual(res.choices[0].logprobs.content.map((t) => t.logprob), [-0.05]);
    res = await client.chat.completions.create({ model: 'm;reply=hi;logprob=-2.5', messages });
    assert.equal(res.choices[0].logprobs, null);
    await assert.rejects(
      client.chat.completions.create({ model: 'm;logprob=0.5', messages, logprobs: true }),
      (err) => err instanceof OpenAI.BadRequestError && /logprob/.test(err.message),
    );
  });

  test('streamed chunks reassemble exactly and carry no usage unless asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-small;chunks=6',
      stream: true,
      messages: [{ role: 'user', content: 'count' }],
    });
    let text = '';
    let contentChunks = 0;
    let roles = 0;
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      assert.equal(chunk.model, 'mock-small');
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        if (choice.delta.role) roles++;
        if (choice.delta.content) {
          text += choice.delta.content;
          contentChunks++;
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    }
    assert.equal(text, 'w1 w2 w3 w4 w5 w6');
    assert.equal(contentChunks, 6);
    assert.equal(roles, 1);
    assert.equal(finish, 'stop');
    assert.equal(usage, null);
  });

  test('include_usage adds a final usage chunk with empty choices', async () => {
    const stream = await client.chat.completions.create({
      model: 'mock-small;chunks=3',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'abcdefgh' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    assert.equal(chunks.filter((c) => c.usage).length, 1);
  });

  test('status= gives the matching typed error with an OpenAI error body', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'm;status=429;retry_after=7', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}`);
        assert.equal(err.status, 429);
        assert.equal(err.error.message, 'mock error 429');
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      },
    );
    await assert.rejects(
      client.chat.completions.create({ model: 'm;status=503', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.InternalServerError && err.status === 503,
    );
  });

  test('fail_first fails only the first K requests, and the client retries through it', async () => {
    const retrying = new OpenAI({ apiKey: 'sk-test', baseURL: mock.baseURL, maxRetries: 2, timeout: 10000 });
    const res = await retrying.chat.completions.create({
      model: 'm;status=503;fail_first=2;retry_after=0',
      messages: [{ role: 'user', content: 'retry me' }],
    });
    assert.equal(res.choices[0].message.content, mockReplyTo('retry me'));
    const stats = await mock.stats();
    assert.equal(stats.by_model['m;status=503;fail_first=2;retry_after=0'], 3);
  });

  test('require_key answers 401 unless the bearer key matches', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'm;require_key=other', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.AuthenticationError && err.status === 401 && err.code === 'invalid_api_key',
    );
    const res = await client.chat.completions.create({ model: 'm;require_key=sk-test', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(res.choices[0].message.content, mockReplyTo('x'));
  });

  test('reset_after cuts the stream: the client sees K chunks, then an error', async () => {
    const stream = await client.chat.completions.create({
      model: 'm;chunks=10;reset_after=3',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    let text = '';
    await assert.rejects(async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    });
    assert.equal(text, 'w1 w2 w3 ');
  });

  test('_mock/last shows the raw body, the authorization and lowercase headers', async () => {
    await client.chat.completions.create({
      model: 'mock-large',
      temperature: 0.25,
      messages: [{ role: 'user', content: 'inspect me' }],
    });
    const last = await mock.last();
    assert.equal(last.count, 1);
    assert.equal(last.authorization, 'Bearer sk-test');
    assert.equal(last.headers['content-type'], 'application/json');
    const body = JSON.parse(last.body);
    assert.equal(body.model, 'mock-large');
    assert.equal(body.temperature, 0.25);
    assert.deepEqual(body.messages, [{ role: 'user', content: 'inspect me' }]);
  });

  test('a client that aborts a stream is counted as a cancelled stream', async () => {
    const stream = await client.chat.completions.create({
      model: 'm;chunks=100;chunk_ms=20',
      stream: true,
      messages: [{ role: 'user', content: 'x' }],
    });
    let seen = 0;
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++seen === 2) break; // break aborts the request
    }
    const stats = await waitFor(async () => {
      const s = await mock.stats();
      return s.cancelled_streams === 1 ? s : null;
    });
    assert.ok(stats, 'the mock never saw the client go away');
  });

  test('models list and unknown paths', async () => {
    const models = [];
    for await (const m of client.models.list()) models.push(m.id);
    assert.deepEqual(models, ['mock-small', 'mock-large']);
    await assert.rejects(client.moderations.create({ input: 'y' }), (err) => err instanceof OpenAI.NotFoundError);
    // POST /v1/embeddings exists (the gateway's embeddings tests use it): 8 dimensions by default.
    const emb = await client.embeddings.create({ model: 'x', input: 'y', encoding_format: 'float' });
    assert.equal(emb.data[0].embedding.length, 8);
  });

  test('malformed JSON is a 400 with an OpenAI error body', async () => {
    const res = await fetch(`${mock.baseURL}/chat/completions`, { method: 'POST', body: '{"model": "m", "messages": [' });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.match(body.error.message, /malformed JSON/);
  });
});
