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

// A Responses API function tool (name and parameters at the top level).
const WEATHER_FUNCTION = {
  type: 'function',
  name: 'get_weather',
  description: 'The current weather in a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
};

const TERMINAL = ['response.completed', 'response.incomplete', 'response.failed'];

function checkResponseUsage(usage) {
  assert.ok(usage, 'no usage');
  assert.equal(usage.input_tokens, EXPECT.input_tokens);
  assert.equal(usage.output_tokens, EXPECT.output_tokens);
  assert.equal(usage.total_tokens, EXPECT.input_tokens + EXPECT.output_tokens);
}

// Every event of a `responses.stream()` helper, by `for await`.
async function collectEvents(stream) {
  const events = [];
  for await (const event of stream) {
    events.push(event);
  }
  return events;
}

// Typed events with strictly increasing sequence numbers, opening with
// created/in_progress and closing with exactly one terminal event.
function checkSequence(events, terminal) {
  assert.ok(events.length >= 3, `only ${events.length} events`);
  let last = -1;
  for (const event of events) {
    assert.equal(typeof event.type, 'string', JSON.stringify(event));
    assert.ok(Number.isInteger(event.sequence_number), JSON.stringify(event));
    assert.ok(event.sequence_number > last, `sequence ${event.sequence_number} after ${last}`);
    last = event.sequence_number;
  }
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', types.join(','));
  assert.equal(types[1], 'response.in_progress', types.join(','));
  assert.deepEqual(types.filter((t) => TERMINAL.includes(t)), [terminal], types.join(','));
  assert.equal(types.at(-1), terminal, types.join(','));
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

  // --- responses (Chat Actions) ----------------------------------------

  // `client.responses.stream(...)` with text: events, then finalResponse().
  async responses_stream_text() {
    const stream = client().responses.stream({ model: MODEL, input: 'Say hello.' });
    const deltas = [];
    const snapshots = [];
    stream.on('response.output_text.delta', (event) => snapshots.push(event.snapshot));
    const events = await collectEvents(stream);
    for (const event of events) {
      if (event.type === 'response.output_text.delta') deltas.push(event.delta);
    }
    checkSequence(events, 'response.completed');
    assert.ok(deltas.length >= EXPECT.min_chunks, `only ${deltas.length} deltas`);
    assert.equal(deltas.join(''), EXPECT.text);
    assert.equal(snapshots.at(-1), EXPECT.text);
    const final = await stream.finalResponse();
    assert.equal(final.object, 'response');
    assert.match(final.id, /^resp_/);
    assert.equal(final.status, 'completed');
    assert.equal(final.output_text, EXPECT.text);
    assert.equal(final.output.length, 1, JSON.stringify(final.output));
    assert.equal(final.output[0].type, 'message');
    assert.match(final.output[0].id, /^msg_/);
    assert.equal(final.output[0].content[0].text, EXPECT.text);
    assert.match(final.conversation?.id ?? '', /^conv_/, JSON.stringify(final.conversation));
    checkResponseUsage(final.usage);
  },

  // A streamed client function call: the helper accepts a stream that ends
  // with `response.incomplete` (Kindo's tool_use stop), and finalResponse()
  // gives that response.
  async responses_stream_function_call() {
    const want = EXPECT.tool_call;
    const stream = client().responses.stream({
      model: MODEL,
      input: 'Weather in Oslo?',
      tools: [WEATHER_FUNCTION],
    });
    const argumentSnapshots = [];
    stream.on('response.function_call_arguments.delta', (event) => argumentSnapshots.push(event.snapshot));
    const events = await collectEvents(stream);
    checkSequence(events, 'response.incomplete');
    assert.ok(argumentSnapshots.length >= 2, `arguments arrived in ${argumentSnapshots.length} fragment(s)`);
    assert.deepEqual(JSON.parse(argumentSnapshots.at(-1)), want.arguments);
    const done = events.filter((e) => e.type === 'response.function_call_arguments.done');
    assert.equal(done.length, 1);
    assert.deepEqual(JSON.parse(done[0].arguments), want.arguments);
    const final = await stream.finalResponse();
    assert.equal(final.status, 'incomplete');
    assert.equal(final.incomplete_details?.reason, 'tool_use', JSON.stringify(final.incomplete_details));
    assert.equal(final.output_text, '');
    const calls = final.output.filter((item) => item.type === 'function_call');
    assert.equal(calls.length, 1, JSON.stringify(final.output));
    assert.match(calls[0].id, /^fc_/);
    assert.equal(calls[0].call_id, want.id);
    assert.equal(calls[0].name, want.name);
    assert.equal(calls[0].status, 'completed');
    assert.deepEqual(JSON.parse(calls[0].arguments), want.arguments);
  },

  // Built-in file tools that Hearth runs (one succeeds, one fails), then
  // the model's text, through the stream helper.
  async responses_stream_file_tool() {
    const { write, failing } = EXPECT;
    const stream = client().responses.stream({ model: MODEL, input: 'Save a note.' });
    const events = await collectEvents(stream);
    checkSequence(events, 'response.completed');
    const added = events.filter((e) => e.type === 'response.output_item.added').map((e) => e.item);
    assert.deepEqual(
      added.map((item) => [item.type, item.status]),
      [
        ['file_operation_call', 'in_progress'],
        ['file_operation_call', 'in_progress'],
        ['message', 'in_progress'],
      ],
    );
    const done = events.filter((e) => e.type === 'response.output_item.done').map((e) => e.item);
    assert.deepEqual(
      done.map((item) => [item.type, item.status]),
      [
        ['file_operation_call', 'completed'],
        ['file_operation_call', 'failed'],
        ['message', 'completed'],
      ],
    );
    const final = await stream.finalResponse();
    assert.equal(final.status, 'completed');
    assert.deepEqual(
      final.output.map((item) => item.type),
      ['file_operation_call', 'file_operation_call', 'message'],
    );
    const [op, failed] = final.output;
    assert.equal(op.call_id, write.id);
    assert.equal(op.name, 'write_file');
    assert.equal(op.status, 'completed');
    assert.deepEqual(JSON.parse(op.arguments), write.arguments);
    assert.match(op.output, /wrote/);
    assert.equal(failed.call_id, failing.id);
    assert.equal(failed.name, 'read_file');
    assert.equal(failed.status, 'failed');
    assert.ok(typeof failed.error === 'string' && failed.error.length > 0, JSON.stringify(failed));
    assert.equal(final.output_text, EXPECT.text);
    checkResponseUsage(final.usage);
  },

  // `for await` over `responses.create({stream: true})`: every event typed,
  // sequence numbers strictly increasing, exactly one terminal event, last.
  async responses_for_await_create() {
    const stream = await client().responses.create({ model: MODEL, input: 'Say hello.', stream: true });
    const events = [];
    for await (const event of stream) {
      events.push(event);
    }
    checkSequence(events, 'response.completed');
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('');
    assert.equal(text, EXPECT.text);
    const final = events.at(-1).response;
    assert.equal(final.output_text, EXPECT.text);
    assert.equal(events[0].response.id, final.id);
    assert.equal(events[0].response.status, 'in_progress');
    checkResponseUsage(final.usage);
  },
};

const name = process.argv[2];
if (!Object.hasOwn(scenarios, name)) {
  console.error(`usage: scenarios.mjs {${Object.keys(scenarios).join('|')}}`);
  process.exit(2);
}
await scenarios[name]();
console.log(`ok ${name} (${MODEL}, openai ${VERSION})`);
