// Scenarios that drive Hearth with the official `openai` npm package.
//
// Run by crates/hearth-testkit/tests/sdk, one scenario per process:
// `node scenarios.mjs NAME`, with the same environment as the Python
// scenarios (HEARTH_BASE_URL, HEARTH_API_KEY, HEARTH_MODEL, HEARTH_EXPECT).
// A scenario passes by returning; a failed assertion or an unexpected
// error exits non-zero.

import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

const BASE_URL = process.env.HEARTH_BASE_URL;
const API_KEY = process.env.HEARTH_API_KEY;
const MODEL = process.env.HEARTH_MODEL || 'gpt-test';
const EXPECT = JSON.parse(process.env.HEARTH_EXPECT || '{}');

const USER = [{ role: 'user', content: 'Say hello.' }];

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
    },
  },
};

function client() {
  return new OpenAI({ baseURL: BASE_URL, apiKey: API_KEY, maxRetries: 0, timeout: 30_000 });
}

function checkUsage(usage) {
  assert.ok(usage, 'no usage');
  assert.equal(usage.prompt_tokens, EXPECT.prompt_tokens);
  assert.equal(usage.completion_tokens, EXPECT.completion_tokens);
  assert.equal(usage.total_tokens, EXPECT.prompt_tokens + EXPECT.completion_tokens);
}

const scenarios = {
  // `client.chat.completions.stream(...)`: content events, finalContent,
  // finalChatCompletion with the usage of include_usage.
  async stream_helper_text() {
    const deltas = [];
    let contentDone = null;
    const stream = client().chat.completions.stream({
      model: MODEL,
      messages: USER,
      stream_options: { include_usage: true },
    });
    stream.on('content', (delta) => deltas.push(delta));
    stream.on('content.done', (event) => {
      contentDone = event.content;
    });
    const final = await stream.finalChatCompletion();
    assert.ok(deltas.length >= EXPECT.min_chunks, `only ${deltas.length} deltas`);
    assert.equal(deltas.join(''), EXPECT.text);
    assert.equal(contentDone, EXPECT.text);
    assert.equal(await stream.finalContent(), EXPECT.text);
    assert.equal(final.choices[0].message.content, EXPECT.text);
    assert.equal(final.choices[0].message.role, 'assistant');
    assert.equal(final.choices[0].finish_reason, 'stop');
    checkUsage(final.usage);
  },

  // A streamed tool call assembled by the stream helper.
  async stream_helper_tool_call() {
    const want = EXPECT.tool_call;
    let argumentDeltas = 0;
    let argumentsDone = null;
    const stream = client().chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [WEATHER_TOOL],
      tool_choice: 'auto',
    });
    stream.on('tool_calls.function.arguments.delta', () => {
      argumentDeltas += 1;
    });
    stream.on('tool_calls.function.arguments.done', (event) => {
      argumentsDone = event;
    });
    const final = await stream.finalChatCompletion();
    assert.ok(argumentDeltas >= 2, `arguments arrived in ${argumentDeltas} fragment(s)`);
    const choice = final.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1, JSON.stringify(choice.message));
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.equal(call.id, want.id);
    assert.equal(call.function.name, want.name);
    assert.deepEqual(JSON.parse(call.function.arguments), want.arguments);
    assert.ok(argumentsDone, 'no arguments.done event');
    assert.equal(argumentsDone.name, want.name);
    assert.deepEqual(JSON.parse(argumentsDone.arguments), want.arguments);
    const toolCall = await stream.finalFunctionToolCall();
    assert.equal(toolCall.name, want.name);
  },

  // `for await` over `create({stream: true})`, with include_usage.
  async for_await_create() {
    const stream = await client().chat.completions.create({
      model: MODEL,
      messages: USER,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let finish = null;
    let usage = null;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.usage) {
        assert.deepEqual(chunk.choices, [], 'the usage chunk has choices');
        usage = chunk.usage;
        continue;
      }
      assert.equal(usage, null, 'a chunk after the usage chunk');
      chunks += 1;
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    assert.equal(text, EXPECT.text);
    assert.ok(chunks >= EXPECT.min_chunks, `only ${chunks} chunks`);
    assert.equal(finish, 'stop');
    checkUsage(usage);
  },

  // An upstream error after the stream started throws APIError in `for await`.
  async stream_error() {
    const stream = await client().chat.completions.create({ model: MODEL, messages: USER, stream: true });
    let text = '';
    let caught = null;
    try {
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
      }
    } catch (e) {
      caught = e;
    }
    assert.ok(caught, `the stream ended without an error; text ${JSON.stringify(text)}`);
    assert.ok(caught instanceof OpenAI.APIError, `not an APIError: ${caught}`);
    assert.equal(caught.code, 'stream_error', JSON.stringify(caught.error));
    assert.equal(text, EXPECT.text_before_error);
  },

  // Errors before a stream starts reject with the SDK's classes.
  async errors() {
    const bad = new OpenAI({ baseURL: BASE_URL, apiKey: 'hk-this-key-does-not-exist-0000', maxRetries: 0 });
    await assert.rejects(
      bad.chat.completions.create({ model: MODEL, messages: USER, stream: true }),
      (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
    );
    await assert.rejects(
      client().chat.completions.create({ model: 'no-such-model', messages: USER, stream: true }),
      (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
    );
    await assert.rejects(
      client().chat.completions.create({ model: MODEL, messages: [], stream: true }),
      (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages',
    );
  },
};

const name = process.argv[2];
if (!Object.hasOwn(scenarios, name)) {
  console.error(`usage: scenarios.mjs {${Object.keys(scenarios).join('|')}}`);
  process.exit(2);
}
await scenarios[name]();
console.log(`ok ${name} (${MODEL}, openai ${VERSION})`);
