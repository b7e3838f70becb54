// Routing policies end to end (docs/routing-policies.md): cascade escalation with each check
// (a judge that replies garbage included), streamed cascades, privacy routing that fails closed,
// rules, session pinning and per-route budgets. The mock upstream's `reply=` directive lets a
// model id choose its answer. Needs RIGHTSIZE_BIN and RS_MOCK_UPSTREAM_BIN (or build/).

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import { startGateway, startMock } from '../lib/harness.js';

const enc = encodeURIComponent;

function config(mockPort) {
  const base = `http://127.0.0.1:${mockPort}/v1`;
  return `
server: {listen: "127.0.0.1:0", threads: 2}
providers:
  cloud: {kind: openai, base_url: "${base}", retry: {max_attempts: 1}}
  local: {kind: openai, base_url: "${base}", locality: on_prem, retry: {max_attempts: 1}}
models:
  tiny-refuses: {provider: cloud, id: "tiny-refuses;reply=${enc("I can't help with that.")}", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  tiny-text:    {provider: cloud, id: "tiny-text;reply=Paris", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  tiny-json:    {provider: cloud, id: "tiny-json;reply=${enc('{"city":"Paris"}')}", input_usd_per_mtok: 0.2, output_usd_per_mtok: 0.2}
  mid:          {provider: cloud, id: "mid;reply=42", input_usd_per_mtok: 1, output_usd_per_mtok: 1}
  big:          {provider: cloud, id: "big;reply=${enc('the big answer')}", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  judge-nine:   {provider: cloud, id: "judge-nine;reply=9", input_usd_per_mtok: 0.5, output_usd_per_mtok: 0.5}
  judge-seven:  {provider: cloud, id: "judge-seven;reply=7", input_usd_per_mtok: 0.5, output_usd_per_mtok: 0.5}
  judge-garbage: {provider: cloud, id: "judge-garbage;reply=${enc('what a lovely answer')}", input_usd_per_mtok: 0.5, output_usd_per_mtok: 0.5}
  lp-unsure:    {provider: cloud, id: "lp-unsure;reply=${enc('maybe Paris')};logprob=-2.5", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  lp-fairly:    {provider: cloud, id: "lp-fairly;reply=${enc('Paris it is')};logprob=-0.2", input_usd_per_mtok: 0.1, output_usd_per_mtok: 0.1}
  lp-sure:      {provider: cloud, id: "lp-sure;reply=${enc('Paris for sure')};logprob=-0.1", input_usd_per_mtok: 10, output_usd_per_mtok: 30}
  local-llm:    {provider: local, id: "local-llm;reply=${enc('local answer')}", input_usd_per_mtok: 0.01, output_usd_per_mtok: 0.01}
  local-small:  {provider: local, id: "local-small;reply=Paris", input_usd_per_mtok: 0.001, output_usd_per_mtok: 0.001}
  local-judge:  {provider: local, id: "local-judge;reply=9", input_usd_per_mtok: 0.001, output_usd_per_mtok: 0.001}
routes:
  casc-refusal: {policy: cascade, candidates: [big, tiny-refuses], cascade: {checks: [{kind: not_refusal}]}}
  casc-regex:   {policy: cascade, candidates: [tiny-text, mid, big], cascade: {checks: [{kind: regex, pattern: '^\\d+$'}]}}
  casc-schema:
    policy: cascade
    candidates: [tiny-text, tiny-json, big]
    cascade:
      checks:
        - kind: json_schema
          schema: '{"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}'
  casc-never:   {policy: cascade, candidates: [tiny-text, tiny-json], cascade: {checks: [{kind: regex, pattern: '^\\d+$'}]}}
  casc-judge-ok:  {policy: cascade, candidates: [tiny-text, big], cascade: {checks: [{kind: judge, model: judge-nine, min_score: 0.8}]}}
  casc-judge-low: {policy: cascade, candidates: [tiny-text, big], cascade: {checks: [{kind: judge, model: judge-seven, min_score: 0.8}]}}
  casc-judge-garbage: {policy: cascade, candidates: [tiny-text, big], cascade: {checks: [{kind: judge, model: judge-garbage}]}}
  casc-logprob: {policy: cascade, candidates: [tiny-text, big], cascade: {checks: [{kind: logprob, min_mean_logprob: -1.5}]}}
  casc-lp-low:  {policy: cascade, candidates: [lp-unsure, lp-sure], cascade: {checks: [{kind: logprob, min_mean_logprob: -1.0}]}}
  casc-lp-ok:   {policy: cascade, candidates: [lp-fairly, lp-sure], cascade: {checks: [{kind: logprob, min_mean_logprob: -1.0}]}}
  casc-local-remote-judge: {policy: cascade, candidates: [local-small, local-llm], cascade: {checks: [{kind: judge, model: judge-nine, min_score: 0.8}]}}
  casc-local-local-judge:  {policy: cascade, candidates: [local-small, local-llm], cascade: {checks: [{kind: judge, model: local-judge, min_score: 0.8}]}}
  cloud-only:   {policy: fixed, candidates: [big]}
  cloud-no-scan: {policy: fixed, candidates: [big], pii_detection: false}
  mixed:        {policy: cheapest, candidates: [tiny-text, big], fallback: [local-llm]}
  ruled:
    policy: rules
    candidates: [tiny-text, big]
    rules:
      - {when: {metadata: {tier: premium}}, model: big}
      - {when: {headers: {x-team: ml}}, route: casc-regex}
      - {when: {ask: "(?i)\\\\bprove\\\\b", min_tokens: 2}, model: big}
      - {model: tiny-text}
  budgeted:
    policy: fixed
    candidates: [big]
    budget: {max_completion_tokens: 64}
    model_budgets: {big: {reasoning_effort: low}}
sessions: {ttl_ms: 60000, use_openai_user: true}
ledger: {kind: "off"}
`;
}

async function chat(gw, body, headers = {}) {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { res, text, json };
}

const ask = (model, content = 'What is the capital of France?', extra = {}) => ({
  model,
  messages: [{ role: 'user', content }],
  ...extra,
});
const answer = (json) => json?.choices?.[0]?.message?.content;
const cost = (res) => Number(res.headers.get('x-rightsize-cost-usd'));

async function metric(gw, name) {
  const text = await (await fetch(`http://127.0.0.1:${gw.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

describe('routing policies', () => {
  let mock;
  let gw;
  let client;

  before(async () => {
    mock = await startMock();
    gw = await startGateway(config(mock.port));
    client = new OpenAI({ apiKey: 'sk-client', baseURL: gw.baseURL, maxRetries: 0, timeout: 10000 });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
  });
  beforeEach(async () => {
    await mock.reset();
  });

  describe('cascade', () => {
    test('a refusal from the cheap model escalates to the next; both attempts are counted and paid', async () => {
      const { res, json } = await chat(gw, ask('casc-refusal'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'big');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
      assert.equal(answer(json), 'the big answer');
      const stats = await mock.stats();
      assert.equal(stats.count, 2);
      // The cheap attempt was a non-streaming call even though it was rejected.
      assert.equal(stats.by_model[`tiny-refuses;reply=${enc("I can't help with that.")}`], 1);
    });

    test('regex: the first answer that matches is accepted; the rejected one is in the cost', async () => {
      const { res, json } = await chat(gw, ask('casc-regex'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'mid');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
      assert.equal(answer(json), '42');
      // The same answer from mid named directly costs less: the rejected tiny answer is real spend.
      const direct = await chat(gw, ask('mid'));
      assert.equal(direct.res.status, 200);
      assert.ok(cost(res) > cost(direct.res), `${cost(res)} should exceed ${cost(direct.res)}`);
      const body = JSON.parse((await mock.last()).body);
      assert.equal(body.model, 'mid;reply=42');
    });

    test('json_schema: a non-JSON answer escalates, a valid object is accepted', async () => {
      const { res, json } = await chat(gw, ask('casc-schema'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'tiny-json');
      assert.deepEqual(JSON.parse(answer(json)), { city: 'Paris' });
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    });

    test("json_schema with no schema of its own uses the request's response_format schema", async () => {
      // tiny-text answers "Paris": valid for a string schema only if it were JSON; it is not.
      const extra = {
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'x', schema: { type: 'object', required: ['city'] } },
        },
      };
      const { res, json } = await chat(gw, ask('casc-schema', 'Where?', extra));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'tiny-json');
    });

    test('no answer passes: the last (most capable) answer is sent, every attempt counted', async () => {
      const { res, json } = await chat(gw, ask('casc-never'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'tiny-json');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    });

    test('judge score >= threshold: the cheap answer is accepted; the judge call is paid for', async () => {
      const { res, json } = await chat(gw, ask('casc-judge-ok'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'tiny-text');
      assert.equal(res.headers.get('x-rightsize-attempts'), '1');
      const stats = await mock.stats();
      assert.equal(stats.by_model['judge-nine;reply=9'], 1);
      // The judge was shown the answer and asked for a number.
      const judged = JSON.parse((await mock.last()).body);
      assert.match(judged.messages[0].content, /<ANSWER>\nParis\n<\/ANSWER>/);
      const direct = await chat(gw, ask('tiny-text'));
      assert.ok(cost(res) > cost(direct.res), 'judge cost included');
    });

    test('judge score below threshold escalates', async () => {
      const { res } = await chat(gw, ask('casc-judge-low'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-rightsize-model'), 'big');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
    });

    test('a judge that replies garbage fails the check: escalate, and it is recorded', async () => {
      const before = await metric(gw, 'rightsize_cascade_attempts_total{route="casc-judge-garbage",model="tiny-text",result="judge"}');
      const { res } = await chat(gw, ask('casc-judge-garbage'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-rightsize-model'), 'big');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
      const afterCount = await metric(gw, 'rightsize_cascade_attempts_total{route="casc-judge-garbage",model="tiny-text",result="judge"}');
      assert.equal(afterCount, before + 1);
    });

    test('logprob check: the upstream is asked (non-streaming) for logprobs', async () => {
      const { res } = await chat(gw, ask('casc-logprob'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-rightsize-model'), 'tiny-text');
      const body = JSON.parse((await mock.last()).body);
      assert.equal(body.logprobs, true);
      assert.equal(body.stream, undefined);
    });

    test('logprob check: a cheap answer with a low mean logprob escalates; the failed check is "logprob"', async () => {
      const metricName = 'rightsize_cascade_attempts_total{route="casc-lp-low",model="lp-unsure",result="logprob"}';
      const before = await metric(gw, metricName);
      const { res, json } = await chat(gw, ask('casc-lp-low'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'lp-sure');
      assert.equal(res.headers.get('x-rightsize-attempts'), '2');
      assert.equal(answer(json), 'Paris for sure');
      assert.equal(await metric(gw, metricName), before + 1, 'the first attempt failed the logprob check');
      const stats = await mock.stats();
      assert.equal(stats.by_model[`lp-unsure;reply=${enc('maybe Paris')};logprob=-2.5`], 1);
      assert.equal(stats.by_model[`lp-sure;reply=${enc('Paris for sure')};logprob=-0.1`], 1);
      assert.equal(JSON.parse((await mock.last()).body).logprobs, true);
    });

    test('logprob check: a cheap answer with a mean logprob above the threshold is accepted', async () => {
      const accepted = 'rightsize_cascade_attempts_total{route="casc-lp-ok",model="lp-fairly",result="accepted"}';
      const before = await metric(gw, accepted);
      const { res, json } = await chat(gw, ask('casc-lp-ok'));
      assert.equal(res.status, 200, JSON.stringify(json));
      assert.equal(res.headers.get('x-rightsize-model'), 'lp-fairly');
      assert.equal(res.headers.get('x-rightsize-attempts'), '1');
      assert.equal(answer(json), 'Paris it is');
      assert.equal(await metric(gw, accepted), before + 1);
      assert.equal((await mock.stats()).count, 1);
      const body = JSON.parse((await mock.last()).body);
      assert.equal(body.model, `lp-fairly;reply=${enc('Paris it is')};logprob=-0.2`);
      assert.equal(body.logprobs, true);
      // The gateway asked for logprobs for its own check: the client, who did not, gets none;
      // a client that asks gets them.
      assert.equal(json.choices[0].logprobs, null);
      const asked = await chat(gw, { ...ask('casc-lp-ok'), logprobs: true });
      assert.equal(asked.json.choices[0].logprobs.content[0].logprob, -0.2);
    });

    test('a streamed request buffers the cheap attempts and streams the accepted answer', async () => {
      const stream = await client.chat.completions.create({ ...ask('casc-regex'), stream: true, stream_options: { include_usage: true } });
      let text = '';
      let usage = null;
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
        if (chunk.usage) usage = chunk.usage;
      }
      assert.equal(text, '42');
      assert.ok(usage && usage.completion_tokens >= 1);
      // Both upstream calls were non-streaming.
      const last = JSON.parse((await mock.last()).body);
      assert.equal(last.stream, false);
      assert.equal(last.stream_options, undefined);
      assert.equal((await mock.stats()).count, 2);
    });
  });

  describe('cascade through the Anthropic Messages API', () => {
    test('messages.create and messages.stream get the accepted answer', async () => {
      const anthropic = new Anthropic({ apiKey: 'sk-client', baseURL: `http://127.0.0.1:${gw.port}`, maxRetries: 0, timeout: 10000 });
      const req = { model: 'casc-regex', max_tokens: 100, messages: [{ role: 'user', content: 'How many?' }] };
      const msg = await anthropic.messages.create(req);
      assert.equal(msg.content[0].text, '42');
      const stream = anthropic.messages.stream(req);
      let text = '';
      stream.on('text', (t) => (text += t));
      const final = await stream.finalMessage();
      assert.equal(text, '42');
      assert.equal(final.content[0].text, '42');
      assert.ok(final.usage.output_tokens >= 1);
    });
  });

  describe('privacy', () => {
    test('a request flagged sensitive never reaches a remote model: 403 PermissionDeniedError', async () => {
      await assert.rejects(
        client.chat.completions.create({ ...ask('cloud-only'), rightsize: { sensitive: true } }),
        (err) => {
          assert.ok(err instanceof OpenAI.PermissionDeniedError, `got ${err?.constructor?.name}: ${err?.message}`);
          assert.equal(err.status, 403);
          assert.match(err.message, /on-prem/);
          return true;
        },
      );
      assert.equal((await mock.stats()).count, 0, 'nothing was sent upstream');
    });

    test('personal data in the prompt restricts the request too; the prompt is not in the error', async () => {
      const before = await metric(gw, 'rightsize_pii_detections_total{kind="payment_card"}');
      const prompt = 'Refund card 4111 1111 1111 1111 please';
      const { res, json } = await chat(gw, ask('cloud-only', prompt));
      assert.equal(res.status, 403, JSON.stringify(json));
      assert.match(json.error.message, /payment_card/);
      assert.ok(!json.error.message.includes('4111'));
      assert.equal((await mock.stats()).count, 0);
      assert.equal(await metric(gw, 'rightsize_pii_detections_total{kind="payment_card"}'), before + 1);
      assert.ok(!gw.output().includes('4111'), 'the prompt is never logged');
    });

    test('the header flag works on a model named directly', async () => {
      const { res } = await chat(gw, ask('big'), { 'x-rightsize-sensitive': 'true' });
      assert.equal(res.status, 403);
      assert.equal((await mock.stats()).count, 0);
    });

    test('a sensitive request goes to the on-prem model (here a fallback); others use the policy', async () => {
      const sensitive = await chat(gw, ask('mixed', 'mail jane.doe@example.com about it'));
      assert.equal(sensitive.res.status, 200, JSON.stringify(sensitive.json));
      assert.equal(sensitive.res.headers.get('x-rightsize-model'), 'local-llm');
      assert.equal(answer(sensitive.json), 'local answer');
      const plain = await chat(gw, ask('mixed'));
      assert.equal(plain.res.headers.get('x-rightsize-model'), 'tiny-text');
    });

    test('a cascade never shows a sensitive request to a remote judge: unjudged, it escalates', async () => {
      const sensitive = await chat(gw, ask('casc-local-remote-judge', 'mail jane.doe@example.com about it'));
      assert.equal(sensitive.res.status, 200, JSON.stringify(sensitive.json));
      assert.equal(sensitive.res.headers.get('x-rightsize-model'), 'local-llm');
      assert.equal(sensitive.res.headers.get('x-rightsize-attempts'), '2');
      let stats = await mock.stats();
      assert.equal(stats.by_model['judge-nine;reply=9'] ?? 0, 0, 'the remote judge was not called');
      assert.equal(stats.count, 2);
      // The same route without personal data: the remote judge is asked and accepts the cheap answer.
      const plain = await chat(gw, ask('casc-local-remote-judge'));
      assert.equal(plain.res.headers.get('x-rightsize-model'), 'local-small');
      stats = await mock.stats();
      assert.equal(stats.by_model['judge-nine;reply=9'], 1);
      // An on-prem judge sees sensitive requests.
      const local = await chat(gw, ask('casc-local-local-judge', 'mail jane.doe@example.com about it'));
      assert.equal(local.res.headers.get('x-rightsize-model'), 'local-small');
      assert.equal((await mock.stats()).by_model['local-judge;reply=9'], 1);
    });

    test('pii_detection: false on a route leaves unflagged requests alone', async () => {
      const { res } = await chat(gw, ask('cloud-no-scan', 'mail jane.doe@example.com about it'));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-rightsize-model'), 'big');
    });

    test('a look-alike (a card number failing Luhn) is not personal data', async () => {
      const { res } = await chat(gw, ask('cloud-only', 'order 4111 1111 1111 1112 shipped'));
      assert.equal(res.status, 200);
    });
  });

  describe('rules', () => {
    test('metadata, headers, ask regex and a default pick the model or hand off to a route', async () => {
      let r = await chat(gw, ask('ruled', 'hi', { metadata: { tier: 'premium' } }));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big');
      r = await chat(gw, ask('ruled', 'hi'), { 'x-team': 'ml' });
      assert.equal(r.res.status, 200, r.text);
      assert.equal(r.res.headers.get('x-rightsize-route'), 'casc-regex');
      assert.equal(r.res.headers.get('x-rightsize-model'), 'mid');
      r = await chat(gw, ask('ruled', 'Please prove that sqrt(2) is irrational'));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big');
      r = await chat(gw, ask('ruled', 'hi'));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'tiny-text');
      assert.equal(r.res.headers.get('x-rightsize-route'), 'ruled');
    });
  });

  describe('session pinning', () => {
    test('a session stays on the model first chosen; other sessions are routed afresh', async () => {
      const s = `s-${Date.now()}`;
      let r = await chat(gw, ask('ruled', 'hi', { metadata: { tier: 'premium' } }), { 'x-rightsize-session': s });
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big');
      r = await chat(gw, ask('ruled', 'hi'), { 'x-rightsize-session': s });
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big', 'pinned by the header');
      r = await chat(gw, ask('ruled', 'hi', { rightsize: { session: s } }));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big', 'pinned by rightsize.session');
      r = await chat(gw, ask('ruled', 'hi'), { 'x-rightsize-session': `${s}-other` });
      assert.equal(r.res.headers.get('x-rightsize-model'), 'tiny-text');
    });

    test("the OpenAI user field names a session when sessions.use_openai_user is on", async () => {
      const user = `u-${Date.now()}`;
      let r = await chat(gw, ask('ruled', 'hi', { user, metadata: { tier: 'premium' } }));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big');
      r = await chat(gw, ask('ruled', 'hi', { user }));
      assert.equal(r.res.headers.get('x-rightsize-model'), 'big');
    });
  });

  describe('budgets', () => {
    test('max_completion_tokens and reasoning_effort are capped on the way out', async () => {
      let r = await chat(gw, ask('budgeted', 'hi', { max_tokens: 1000, reasoning_effort: 'high' }));
      assert.equal(r.res.status, 200, r.text);
      let body = JSON.parse((await mock.last()).body);
      assert.equal(body.max_tokens, 64);
      assert.equal(body.reasoning_effort, 'low');
      r = await chat(gw, ask('budgeted', 'hi', { max_completion_tokens: 10, reasoning_effort: 'minimal' }));
      body = JSON.parse((await mock.last()).body);
      assert.equal(body.max_completion_tokens, 10, 'a lower request value stays');
      assert.equal(body.reasoning_effort, 'minimal');
      r = await chat(gw, ask('budgeted', 'hi'));
      body = JSON.parse((await mock.last()).body);
      assert.equal(body.max_completion_tokens, 64, 'added when absent');
      assert.equal(body.reasoning_effort, 'low');
    });
  });
});
