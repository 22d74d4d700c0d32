"""Scenarios that drive Hearth with the official `openai` Python SDK.

Run by crates/hearth-testkit/tests/sdk (see there), one scenario per
process: `python scenarios.py NAME`. The Rust test starts Hearth in front of
fake upstreams, scripts what the fakes answer, and passes:

  HEARTH_BASE_URL   http://127.0.0.1:PORT/v1
  HEARTH_API_KEY    a Hearth key
  HEARTH_MODEL      the model id to call (gpt-test, claude-test, ...)
  HEARTH_EXPECT     JSON: what the scripted fake answer must look like
                    through the SDK (text, usage, tool call, ...)

A scenario passes by returning; any failed assert or unexpected exception
exits non-zero with a traceback. Clients use max_retries=0 (except in the
retry scenario) so that an error is seen as Hearth sent it.
"""

import asyncio
import json
import os
import sys

import openai
import pydantic
from openai import AsyncOpenAI, OpenAI

BASE_URL = os.environ["HEARTH_BASE_URL"]
API_KEY = os.environ["HEARTH_API_KEY"]
MODEL = os.environ.get("HEARTH_MODEL", "gpt-test")
EXPECT = json.loads(os.environ.get("HEARTH_EXPECT") or "{}")

USER = [{"role": "user", "content": "Say hello."}]

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "strict": True,
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}


SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


def client(max_retries=0, api_key=None):
    return OpenAI(
        base_url=BASE_URL,
        api_key=api_key or API_KEY,
        max_retries=max_retries,
        timeout=30.0,
    )


def check_usage(usage):
    assert usage is not None, "no usage"
    assert usage.prompt_tokens == EXPECT["prompt_tokens"], usage
    assert usage.completion_tokens == EXPECT["completion_tokens"], usage
    assert usage.total_tokens == EXPECT["prompt_tokens"] + EXPECT["completion_tokens"], usage


def expect_raises(cls, call):
    """Runs `call`, which must raise exactly the SDK's `cls`; returns it."""
    try:
        result = call()
    except openai.APIError as e:
        assert type(e) is cls, f"expected {cls.__name__}, got {type(e).__name__}: {e!r}"
        return e
    raise AssertionError(f"expected {cls.__name__}, got a result: {result!r}")


# --- chat completions -----------------------------------------------------


@scenario
def chat_plain():
    """Non-streamed chat: content, finish_reason, usage, request id."""
    resp = client().chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello."},
        ],
        max_tokens=64,
        temperature=0.2,
    )
    assert resp.object == "chat.completion", resp
    assert resp.id, resp
    assert len(resp.choices) == 1, resp
    choice = resp.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant", choice
    assert choice.message.content == EXPECT["text"], choice.message.content
    assert choice.finish_reason == "stop", choice.finish_reason
    assert not choice.message.tool_calls, choice.message
    check_usage(resp.usage)
    # The SDK reads Hearth's x-request-id header.
    assert resp._request_id, "no x-request-id"


@scenario
def chat_raw_response():
    """`with_raw_response`: status, headers, then the parsed completion."""
    raw = client().chat.completions.with_raw_response.create(model=MODEL, messages=USER)
    assert raw.http_response.status_code == 200
    assert raw.headers.get("x-request-id"), dict(raw.headers)
    assert raw.headers.get("content-type", "").startswith("application/json"), dict(raw.headers)
    resp = raw.parse()
    assert resp.choices[0].message.content == EXPECT["text"], resp


@scenario
def chat_stream():
    """`create(stream=True)`: chunks assembled; no usage chunk unless asked."""
    stream = client().chat.completions.create(model=MODEL, messages=USER, stream=True)
    text = ""
    chunks = 0
    finish = None
    for chunk in stream:
        assert chunk.object == "chat.completion.chunk", chunk
        assert chunk.usage is None, f"usage without include_usage: {chunk}"
        assert len(chunk.choices) == 1, chunk
        chunks += 1
        delta = chunk.choices[0].delta
        if delta.content:
            text += delta.content
        if chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert text == EXPECT["text"], repr(text)
    assert chunks >= EXPECT["min_chunks"], f"only {chunks} chunks: not streamed?"
    assert finish == "stop", finish


@scenario
def chat_stream_usage():
    """`stream_options={"include_usage": True}`: one last chunk, no choices, the usage."""
    stream = client().chat.completions.create(
        model=MODEL,
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks, "no chunks"
    last = chunks[-1]
    assert last.choices == [], last
    check_usage(last.usage)
    for chunk in chunks[:-1]:
        assert chunk.usage is None, f"usage before the last chunk: {chunk}"
    text = "".join(c.choices[0].delta.content or "" for c in chunks[:-1])
    assert text == EXPECT["text"], repr(text)


@scenario
def chat_stream_helper_text():
    """`client.chat.completions.stream(...)`: content events and the final completion."""
    deltas = []
    done = None
    with client().chat.completions.stream(
        model=MODEL,
        messages=USER,
        stream_options={"include_usage": True},
    ) as stream:
        for event in stream:
            if event.type == "content.delta":
                deltas.append(event.delta)
            elif event.type == "content.done":
                done = event.content
        final = stream.get_final_completion()
    assert len(deltas) >= EXPECT["min_chunks"], deltas
    assert "".join(deltas) == EXPECT["text"], deltas
    assert done == EXPECT["text"], done
    assert final.choices[0].message.content == EXPECT["text"], final
    assert final.choices[0].finish_reason == "stop", final
    check_usage(final.usage)


@scenario
def chat_stream_tool_call():
    """A streamed tool call assembled by the SDK's stream helper."""
    want = EXPECT["tool_call"]
    argument_deltas = 0
    arguments_done = None
    with client().chat.completions.stream(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="auto",
    ) as stream:
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                argument_deltas += 1
            elif event.type == "tool_calls.function.arguments.done":
                arguments_done = event
        final = stream.get_final_completion()
    assert argument_deltas >= 2, f"arguments arrived in {argument_deltas} fragment(s)"
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    calls = choice.message.tool_calls
    assert calls and len(calls) == 1, choice.message
    call = calls[0]
    assert call.type == "function", call
    assert call.id == want["id"], call.id
    assert call.function.name == want["name"], call.function
    assert json.loads(call.function.arguments) == want["arguments"], call.function.arguments
    # Strict tools are also parsed by the helper.
    assert call.function.parsed_arguments == want["arguments"], call.function
    assert arguments_done is not None, "no arguments.done event"
    assert arguments_done.name == want["name"], arguments_done
    assert arguments_done.parsed_arguments == want["arguments"], arguments_done


@scenario
def chat_tool_call_plain():
    """A non-streamed tool call, then the tool result sent back."""
    want = EXPECT["tool_call"]
    c = client()
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    resp = c.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.id == want["id"], call
    assert call.function.name == want["name"], call
    assert json.loads(call.function.arguments) == want["arguments"], call
    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "18 C, sunny"})
    resp = c.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert resp.choices[0].message.content == EXPECT["text"], resp


class Weather(pydantic.BaseModel):
    city: str
    temp_c: int


@scenario
def chat_parse_structured():
    """Structured output: `parse()` and `stream()` with a pydantic response_format."""
    want = Weather(**EXPECT["object"])
    messages = [{"role": "user", "content": "Weather in Paris as JSON."}]
    resp = client().chat.completions.parse(model=MODEL, messages=messages, response_format=Weather)
    message = resp.choices[0].message
    assert message.parsed == want, message
    assert json.loads(message.content) == EXPECT["object"], message.content
    with client().chat.completions.stream(
        model=MODEL, messages=messages, response_format=Weather
    ) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.parsed == want, final


@scenario
def chat_stream_async():
    """AsyncOpenAI: a streamed chat with `async for`."""

    async def run():
        c = AsyncOpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=30.0)
        stream = await c.chat.completions.create(
            model=MODEL,
            messages=USER,
            stream=True,
            stream_options={"include_usage": True},
        )
        text = ""
        usage = None
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        await c.close()
        return text, usage

    text, usage = asyncio.run(run())
    assert text == EXPECT["text"], repr(text)
    check_usage(usage)


@scenario
def chat_stream_error():
    """An upstream error after the stream started raises APIError while iterating."""
    stream = client().chat.completions.create(model=MODEL, messages=USER, stream=True)
    text = ""
    try:
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
    except openai.APIStatusError as e:
        raise AssertionError(f"a status error after a 200: {e!r}")
    except openai.APIError as e:
        assert type(e) is openai.APIError, repr(e)
        assert e.code == "stream_error", (e.code, e.body)
        assert e.message, e
    else:
        raise AssertionError(f"the stream ended without an error; text {text!r}")
    # What came before the error was delivered.
    assert text == EXPECT["text_before_error"], repr(text)


# --- legacy completions ---------------------------------------------------


@scenario
def completion_plain():
    resp = client().completions.create(model=MODEL, prompt="Say hello.", max_tokens=32)
    assert resp.object == "text_completion", resp
    assert len(resp.choices) == 1, resp
    assert resp.choices[0].text == EXPECT["text"], resp.choices[0]
    assert resp.choices[0].finish_reason == "stop", resp.choices[0]
    check_usage(resp.usage)


@scenario
def completion_stream():
    stream = client().completions.create(
        model=MODEL,
        prompt="Say hello.",
        max_tokens=32,
        stream=True,
    )
    text = ""
    chunks = 0
    finish = None
    for chunk in stream:
        assert chunk.object == "text_completion", chunk
        chunks += 1
        for choice in chunk.choices:
            text += choice.text
            if choice.finish_reason:
                finish = choice.finish_reason
    assert text == EXPECT["text"], repr(text)
    assert chunks >= EXPECT["min_chunks"], f"only {chunks} chunks"
    assert finish == "stop", finish


# --- models ---------------------------------------------------------------


@scenario
def models():
    c = client()
    page = c.models.list()
    ids = [m.id for m in page]
    for want in EXPECT["ids"]:
        assert want in ids, ids
    for m in page:
        assert m.object == "model", m
        assert isinstance(m.created, int), m
        assert m.owned_by, m
    alias = c.models.retrieve(EXPECT["alias"])
    assert alias.id == EXPECT["alias_of"], alias
    model = c.models.retrieve(EXPECT["ids"][0])
    assert model.id == EXPECT["ids"][0], model
    e = expect_raises(openai.NotFoundError, lambda: c.models.retrieve("no-such-model"))
    assert e.status_code == 404
    assert e.code == "model_not_found", (e.code, e.body)


# --- errors ---------------------------------------------------------------


@scenario
def error_bad_key():
    c = client(api_key="hk-this-key-does-not-exist-0000")
    e = expect_raises(
        openai.AuthenticationError,
        lambda: c.chat.completions.create(model=MODEL, messages=USER),
    )
    assert e.status_code == 401
    assert isinstance(e.body, dict) and e.body.get("message"), e.body
    assert e.request_id, "no x-request-id on the error"
    e = expect_raises(openai.AuthenticationError, lambda: c.models.list())
    assert e.status_code == 401


@scenario
def error_unknown_model():
    c = client()
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.chat.completions.create(model="no-such-model", messages=USER),
    )
    assert e.status_code == 404
    assert e.code == "model_not_found", (e.code, e.body)
    assert e.body["code"] == "model_not_found", e.body
    assert "no-such-model" in e.message, e.message
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.completions.create(model="no-such-model", prompt="hi"),
    )
    assert e.code == "model_not_found", (e.code, e.body)
    # Streamed: the error comes before the stream starts.
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.chat.completions.create(model="no-such-model", messages=USER, stream=True),
    )
    assert e.code == "model_not_found", (e.code, e.body)


@scenario
def error_bad_request():
    c = client()
    # `messages` left out: the SDK requires it, so post the body directly.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.post(
            "/chat/completions",
            body={"model": MODEL},
            cast_to=openai.types.chat.ChatCompletion,
        ),
    )
    assert e.status_code == 400
    assert e.param == "messages", (e.param, e.body)
    assert e.code, e.body
    # Empty messages.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.chat.completions.create(model=MODEL, messages=[]),
    )
    assert e.param == "messages", (e.param, e.body)
    # Wrong type.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.chat.completions.create(model=MODEL, messages="hello"),
    )
    assert e.param == "messages", (e.param, e.body)
    # `model` left out.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.post(
            "/chat/completions",
            body={"messages": USER},
            cast_to=openai.types.chat.ChatCompletion,
        ),
    )
    assert e.param == "model", (e.param, e.body)


@scenario
def error_rate_limited():
    """The first EXPECT["allowed"] calls pass, the next raises RateLimitError."""
    c = client()
    for _ in range(EXPECT["allowed"]):
        resp = c.chat.completions.create(model=MODEL, messages=USER)
        assert resp.choices[0].message.content == EXPECT["text"], resp
    e = expect_raises(
        openai.RateLimitError,
        lambda: c.chat.completions.create(model=MODEL, messages=USER),
    )
    assert e.status_code == 429
    assert e.code, e.body
    retry_after = int(e.response.headers["retry-after"])
    assert 1 <= retry_after <= 60, retry_after
    if "limit_header" in EXPECT:
        assert e.response.headers.get(EXPECT["limit_header"]) == str(EXPECT["limit"]), dict(
            e.response.headers
        )


@scenario
def error_upstream():
    """An upstream error status, relayed: the SDK class for EXPECT["status"],
    for a plain call and for a stream (the error comes before it starts)."""
    cls = getattr(openai, EXPECT["class"])
    c = client()
    for stream in (False, True):
        e = expect_raises(
            cls, lambda: c.chat.completions.create(model=MODEL, messages=USER, stream=stream)
        )
        assert e.status_code == EXPECT["status"], e.status_code
        assert e.message, e
        if "retry_after" in EXPECT:
            assert e.response.headers.get("retry-after") == str(EXPECT["retry_after"]), dict(
                e.response.headers
            )
        for secret in ("upstream-key-fake", "127.0.0.1"):
            assert secret not in json.dumps(e.body), e.body


@scenario
def retry_after_429():
    """The SDK's own retry: a 429 with Retry-After, then the answer."""
    resp = client(max_retries=2).chat.completions.create(model=MODEL, messages=USER)
    assert resp.choices[0].message.content == EXPECT["text"], resp


# --- responses (Chat Actions) and conversations ---------------------------

# A Responses API function tool: name, description and parameters at the
# top level (unlike chat completions).
WEATHER_FUNCTION = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["c", "f"]},
        },
        "required": ["city", "unit"],
        "additionalProperties": False,
    },
}


def field(model, name):
    """A field of an SDK model: the attribute when the SDK's model has it,
    else the extra field the server sent (`model_extra` / `to_dict()`)."""
    value = getattr(model, name, None)
    if value is None:
        value = (model.model_extra or {}).get(name)
    if value is None:
        value = model.to_dict().get(name)
    return value


def conversation_id(response):
    conv = field(response, "conversation")
    assert conv is not None, f"no conversation on {response.id}: {response.to_dict()}"
    conv_id = conv["id"] if isinstance(conv, dict) else conv.id
    assert isinstance(conv_id, str) and conv_id.startswith("conv_"), conv_id
    return conv_id


def check_response_usage(usage):
    assert usage is not None, "no usage"
    assert usage.input_tokens == EXPECT["input_tokens"], usage
    assert usage.output_tokens == EXPECT["output_tokens"], usage
    assert usage.total_tokens == EXPECT["input_tokens"] + EXPECT["output_tokens"], usage


def message_text(item):
    assert item.type == "message", item
    return "".join(part.text for part in item.content if part.type == "output_text")


def check_text_response(resp, status="completed"):
    """A completed text answer: ids, status, the one message, output_text."""
    assert resp.object == "response", resp
    assert resp.id.startswith("resp_"), resp.id
    assert resp.status == status, (resp.status, resp.incomplete_details)
    assert resp.error is None, resp.error
    assert resp.incomplete_details is None, resp.incomplete_details
    assert resp.model == MODEL, resp.model
    assert isinstance(resp.created_at, (int, float)) and resp.created_at > 1_600_000_000, resp.created_at
    messages = [item for item in resp.output if item.type == "message"]
    assert len(messages) == 1, resp.output
    message = messages[0]
    assert message.id.startswith("msg_"), message.id
    assert message.role == "assistant", message
    assert message.status == "completed", message
    assert message_text(message) == EXPECT["text"], message
    assert resp.output_text == EXPECT["text"], repr(resp.output_text)


@scenario
def responses_create():
    """`responses.create`: output_text, ids, conversation, usage, request id."""
    resp = client().responses.create(
        model=MODEL,
        input="Say hello.",
        instructions="You are terse.",
        max_output_tokens=64,
        metadata={"suite": "sdk"},
    )
    check_text_response(resp)
    check_response_usage(resp.usage)
    conversation_id(resp)
    assert resp.store is True, resp.store
    assert resp.instructions == "You are terse.", resp.instructions
    assert resp.max_output_tokens == 64, resp.max_output_tokens
    assert resp.metadata == {"suite": "sdk"}, resp.metadata
    assert resp.previous_response_id is None, resp.previous_response_id
    # Built-in file tools are on by default and listed.
    tool_types = [field(tool, "type") for tool in resp.tools]
    assert "file_operations" in tool_types, tool_types
    assert resp._request_id, "no x-request-id"


@scenario
def responses_stream_helper():
    """`responses.stream(...)`: text events, increasing sequence numbers, and
    `get_final_response()`."""
    deltas = []
    snapshots = []
    types = []
    sequence = []
    done_text = None
    with client().responses.stream(model=MODEL, input="Say hello.") as stream:
        for event in stream:
            types.append(event.type)
            sequence.append(event.sequence_number)
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
                snapshots.append(event.snapshot)
            elif event.type == "response.output_text.done":
                done_text = event.text
        final = stream.get_final_response()
    assert types[0] == "response.created", types
    assert types[1] == "response.in_progress", types
    assert types[-1] == "response.completed", types
    assert sequence == sorted(set(sequence)), f"sequence numbers not strictly increasing: {sequence}"
    for want in (
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert types.count(want) == 1, (want, types)
    assert len(deltas) >= EXPECT["min_chunks"], f"only {len(deltas)} deltas: not streamed?"
    assert "".join(deltas) == EXPECT["text"], deltas
    # The helper's running snapshot grows delta by delta.
    assert snapshots[-1] == EXPECT["text"], snapshots
    assert done_text == EXPECT["text"], done_text
    check_text_response(final)
    check_response_usage(final.usage)
    conversation_id(final)


@scenario
def responses_stream_function_call():
    """A streamed function call ends with `response.incomplete` (reason
    tool_use). The stream helper accepts the sequence; `get_final_response()`
    needs `response.completed`, so the ending is checked from the events."""
    want = EXPECT["tool_call"]
    for helper in (True, False):
        c = client()
        kwargs = dict(model=MODEL, input="Weather in Paris?", tools=[WEATHER_FUNCTION], store=False)
        events = []
        if helper:
            with c.responses.stream(**kwargs) as stream:
                events = list(stream)
        else:
            events = list(c.responses.create(stream=True, **kwargs))
        types = [e.type for e in events]
        assert types[-1] == "response.incomplete", types
        terminal = [t for t in types if t in ("response.completed", "response.incomplete", "response.failed")]
        assert terminal == ["response.incomplete"], terminal
        sequence = [e.sequence_number for e in events]
        assert sequence == sorted(set(sequence)), sequence
        argument_deltas = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
        assert len(argument_deltas) >= 2, f"arguments arrived in {len(argument_deltas)} fragment(s)"
        assert json.loads("".join(argument_deltas)) == want["arguments"], argument_deltas
        done = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert len(done) == 1 and json.loads(done[0].arguments) == want["arguments"], done
        final = events[-1].response
        assert final.status == "incomplete", final.status
        assert final.incomplete_details.reason == "tool_use", final.incomplete_details
        calls = [item for item in final.output if item.type == "function_call"]
        assert len(calls) == 1, final.output
        assert calls[0].call_id == want["id"], calls[0]
        assert calls[0].name == want["name"], calls[0]
        assert calls[0].id.startswith("fc_"), calls[0].id
        assert json.loads(calls[0].arguments) == want["arguments"], calls[0]


@scenario
def responses_retrieve():
    """`responses.retrieve(id)` gives back the stored response; `delete`
    removes it."""
    c = client()
    created = c.responses.create(model=MODEL, input="Say hello.")
    check_text_response(created)
    got = c.responses.retrieve(created.id)
    check_text_response(got)
    assert got.id == created.id, (got.id, created.id)
    assert conversation_id(got) == conversation_id(created)
    assert got.output[0].id == created.output[0].id, (got.output, created.output)
    assert got.usage.total_tokens == created.usage.total_tokens, got.usage
    c.responses.delete(created.id)
    e = expect_raises(openai.NotFoundError, lambda: c.responses.retrieve(created.id))
    assert e.status_code == 404
    # store=False: answered, but not kept.
    unstored = c.responses.create(model=MODEL, input="Say hello.", store=False)
    check_text_response(unstored)
    assert field(unstored, "conversation") is None, unstored.conversation
    expect_raises(openai.NotFoundError, lambda: c.responses.retrieve(unstored.id))


def numbered_input(count):
    """`count` messages, alternating user/assistant, starting and ending
    with a user message; each text names its position."""
    return [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i:02}"}
        for i in range(count)
    ]


def item_text(item):
    return "".join(part.text for part in item.content)


def collect_pages(page):
    """Every page of a listing, following the SDK's own `has_more` cursor."""
    pages = [page]
    while pages[-1].has_next_page():
        pages.append(pages[-1].get_next_page())
        assert len(pages) < 50, "pagination does not end"
    return pages


def check_unique(ids):
    assert len(set(ids)) == len(ids), f"duplicate ids: {ids}"
    for i in ids:
        assert isinstance(i, str) and i, ids


@scenario
def responses_input_items_pages():
    """`responses.input_items.list` auto-pagination over several pages."""
    count = EXPECT["input_count"]
    limit = EXPECT["limit"]
    c = client()
    resp = c.responses.create(model=MODEL, input=numbered_input(count))
    check_text_response(resp)
    texts = [f"message {i:02}" for i in range(count)]

    # Default order: newest first.
    items = list(c.responses.input_items.list(resp.id, limit=limit))
    assert [item_text(i) for i in items] == texts[::-1], [item_text(i) for i in items]
    ids = [i.id for i in items]
    check_unique(ids)
    for item in items:
        assert item.type == "message", item
        assert item.id.startswith("msg_"), item.id

    # Oldest first, page by page.
    first = c.responses.input_items.list(resp.id, limit=limit, order="asc")
    pages = collect_pages(first)
    assert len(pages) == -(-count // limit), f"{len(pages)} pages of {limit} for {count} items"
    for page in pages[:-1]:
        assert len(page.data) == limit and page.has_more is True, page
    assert pages[-1].has_more is False, pages[-1]
    asc = [i for page in pages for i in page.data]
    assert [item_text(i) for i in asc] == texts, [item_text(i) for i in asc]
    assert [i.id for i in asc] == ids[::-1], "asc and desc disagree"
    assert pages[0].first_id == asc[0].id and pages[0].last_id == asc[limit - 1].id, pages[0]
    # The same through auto-pagination.
    assert [i.id for i in c.responses.input_items.list(resp.id, limit=limit, order="asc")] == [
        i.id for i in asc
    ]
    # A bad cursor is a 400.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.responses.input_items.list(resp.id, after="msg_does_not_exist"),
    )
    assert e.param == "after", (e.param, e.body)


@scenario
def conversation_items_pages():
    """`conversations.items.list` auto-pagination: the first response's
    input and output, then a second turn's, in order."""
    count = EXPECT["input_count"]
    limit = EXPECT["limit"]
    c = client()
    first = c.responses.create(model=MODEL, input=numbered_input(count))
    check_text_response(first)
    conv = conversation_id(first)
    second = c.responses.create(model=MODEL, conversation=conv, input="And one more.")
    assert second.output_text == EXPECT["text"], second.output_text
    assert conversation_id(second) == conv

    want = [f"message {i:02}" for i in range(count)]
    want += [EXPECT["text"], "And one more.", EXPECT["text"]]
    page = c.conversations.items.list(conv, limit=limit, order="asc")
    pages = collect_pages(page)
    assert len(pages) == -(-len(want) // limit), f"{len(pages)} pages for {len(want)} items"
    items = list(c.conversations.items.list(conv, limit=limit, order="asc"))
    assert [item_text(i) for i in items] == want, [item_text(i) for i in items]
    ids = [i.id for i in items]
    check_unique(ids)
    assert ids == [i.id for p in pages for i in p.data], "auto-pagination and pages disagree"
    # The output messages are the responses' own items.
    assert ids[count] == first.output[0].id, (ids[count], first.output[0].id)
    assert ids[-1] == second.output[0].id, (ids[-1], second.output[0].id)
    # Newest first by default.
    desc = [i.id for i in c.conversations.items.list(conv, limit=limit)]
    assert desc == ids[::-1], "desc is not asc reversed"
    # One item by id.
    item = c.conversations.items.retrieve(ids[3], conversation_id=conv)
    assert item.id == ids[3] and item_text(item) == want[3], item


@scenario
def conversations_crud():
    """`conversations.create/retrieve/update/delete`, and a response that
    continues a conversation created with items."""
    c = client()
    conv = c.conversations.create(
        metadata={"topic": "sdk"},
        items=[{"type": "message", "role": "user", "content": EXPECT["seed_text"]}],
    )
    assert conv.id.startswith("conv_"), conv.id
    assert conv.object == "conversation", conv
    assert conv.metadata == {"topic": "sdk"}, conv.metadata
    assert isinstance(conv.created_at, int) and conv.created_at > 1_600_000_000, conv.created_at
    got = c.conversations.retrieve(conv.id)
    assert got.id == conv.id and got.metadata == {"topic": "sdk"}, got
    updated = c.conversations.update(conv.id, metadata={"topic": "updated", "n": "2"})
    assert updated.id == conv.id, updated
    assert updated.metadata == {"topic": "updated", "n": "2"}, updated.metadata
    assert c.conversations.retrieve(conv.id).metadata == updated.metadata
    items = list(c.conversations.items.list(conv.id))
    assert len(items) == 1 and item_text(items[0]) == EXPECT["seed_text"], items

    resp = c.responses.create(model=MODEL, conversation=conv.id, input="Continue.")
    check_text_response(resp)
    assert conversation_id(resp) == conv.id
    # The {"id": …} form of `conversation` too.
    resp = c.responses.create(model=MODEL, conversation={"id": conv.id}, input="Again.")
    check_text_response(resp)
    assert len(list(c.conversations.items.list(conv.id))) == 5

    deleted = c.conversations.delete(conv.id)
    assert deleted.id == conv.id and deleted.deleted is True, deleted
    e = expect_raises(openai.NotFoundError, lambda: c.conversations.retrieve(conv.id))
    assert e.status_code == 404
    expect_raises(
        openai.NotFoundError,
        lambda: c.responses.create(model=MODEL, conversation=conv.id, input="Hello?"),
    )
    expect_raises(openai.NotFoundError, lambda: c.conversations.items.list(conv.id).data)


def check_function_call_stop(resp, call_id):
    """Kindo's stop for a client function: incomplete / tool_use."""
    want = EXPECT["tool_call"]
    assert resp.status == "incomplete", (resp.status, resp.output)
    assert resp.incomplete_details is not None, resp
    assert resp.incomplete_details.reason == "tool_use", resp.incomplete_details
    calls = [item for item in resp.output if item.type == "function_call"]
    assert len(calls) == 1, resp.output
    call = calls[0]
    assert call.id.startswith("fc_"), call.id
    assert call.call_id == call_id, (call.call_id, call_id)
    assert call.name == want["name"], call
    assert call.status == "completed", call
    assert json.loads(call.arguments) == want["arguments"], call.arguments
    assert resp.output_text == "", repr(resp.output_text)
    return call


@scenario
def responses_function_round_trip():
    """A client function tool, twice: the output sent back once through
    `conversation=` and once through `previous_response_id=`."""
    c = client()
    first = c.responses.create(model=MODEL, input="Weather in Paris?", tools=[WEATHER_FUNCTION])
    call = check_function_call_stop(first, EXPECT["call_ids"][0])
    conv = conversation_id(first)
    tool_names = [field(t, "name") for t in first.tools if field(t, "type") == "function"]
    assert tool_names == ["get_weather"], first.tools

    # The output through the conversation.
    second = c.responses.create(
        model=MODEL,
        conversation=conv,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": EXPECT["tool_output"]}],
        tools=[WEATHER_FUNCTION],
    )
    check_text_response(second)
    assert conversation_id(second) == conv

    # A second call, answered through previous_response_id.
    third = c.responses.create(
        model=MODEL, conversation=conv, input="And in Oslo?", tools=[WEATHER_FUNCTION]
    )
    call = check_function_call_stop(third, EXPECT["call_ids"][1])
    fourth = c.responses.create(
        model=MODEL,
        previous_response_id=third.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": EXPECT["tool_output"]}],
        tools=[WEATHER_FUNCTION],
    )
    check_text_response(fourth)
    assert fourth.previous_response_id == third.id, fourth.previous_response_id

    # Answering a call nobody made is a 400.
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.responses.create(
            model=MODEL,
            conversation=conv,
            input=[{"type": "function_call_output", "call_id": "call_nobody_made", "output": "x"}],
        ),
    )
    assert "call_id" in (e.param or ""), (e.param, e.body)
    # The whole exchange is in the conversation, in order.
    types = [i.type for i in c.conversations.items.list(conv, order="asc")]
    assert types == [
        "message", "function_call", "function_call_output", "message",
        "message", "function_call", "function_call_output", "message",
    ], types


@scenario
def responses_file_tool_loop():
    """Built-in file tools run by Hearth: write_file, then read_file in the
    next turn of the same conversation, each followed by the model's text."""
    c = client()
    write = EXPECT["write"]
    first = c.responses.create(model=MODEL, input="Save a note.")
    assert first.status == "completed", (first.status, first.incomplete_details)
    assert [i.type for i in first.output] == ["file_operation_call", "message"], first.output
    op = first.output[0]
    assert field(op, "id"), op
    assert field(op, "call_id") == write["id"], op
    assert field(op, "name") == "write_file", op
    assert field(op, "status") == "completed", op
    assert json.loads(field(op, "arguments")) == write["arguments"], op
    assert "wrote" in field(op, "output"), op
    assert first.output_text == EXPECT["text"], first.output_text
    check_response_usage(first.usage)
    conv = conversation_id(first)

    second = c.responses.create(model=MODEL, conversation=conv, input="Read it back.")
    assert second.status == "completed", second.status
    op = second.output[0]
    assert field(op, "name") == "read_file", op
    assert field(op, "status") == "completed", op
    assert write["arguments"]["content"] in field(op, "output"), op
    assert second.output_text == EXPECT["text"], second.output_text

    # The tool items are conversation items like any other.
    types = [i.type for i in c.conversations.items.list(conv, order="asc")]
    assert types == [
        "message", "file_operation_call", "message",
        "message", "file_operation_call", "message",
    ], types


@scenario
def responses_stream_file_tool():
    """A built-in tool call streamed through `responses.stream(...)`."""
    write = EXPECT["write"]
    with client().responses.stream(model=MODEL, input="Save a note.") as stream:
        events = list(stream)
        final = stream.get_final_response()
    types = [e.type for e in events]
    assert types[-1] == "response.completed", types
    sequence = [e.sequence_number for e in events]
    assert sequence == sorted(set(sequence)), sequence
    added = [e.item for e in events if e.type == "response.output_item.added"]
    assert [field(i, "type") for i in added] == ["file_operation_call", "message"], added
    assert [i.type for i in final.output] == ["file_operation_call", "message"], final.output
    op = final.output[0]
    assert field(op, "status") == "completed", op
    assert field(op, "call_id") == write["id"], op
    assert final.output_text == EXPECT["text"], final.output_text


@scenario
def responses_errors():
    """Errors of /v1/responses as the SDK's classes."""
    c = client()
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.responses.create(model="no-such-model", input="hi"),
    )
    assert e.status_code == 404
    assert e.code == "model_not_found", (e.code, e.body)
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.responses.create(model="no-such-model", input="hi", stream=True),
    )
    assert e.code == "model_not_found", (e.code, e.body)

    e = expect_raises(
        openai.BadRequestError,
        lambda: c.responses.create(
            model=MODEL, input="hi", conversation="conv_abc", previous_response_id="resp_abc"
        ),
    )
    assert e.status_code == 400
    assert e.code == "mutually_exclusive_parameters", (e.code, e.body)

    expect_raises(
        openai.NotFoundError,
        lambda: c.responses.create(model=MODEL, input="hi", conversation="conv_does_not_exist"),
    )
    expect_raises(openai.NotFoundError, lambda: c.responses.retrieve("resp_does_not_exist"))
    e = expect_raises(
        openai.NotFoundError,
        lambda: c.responses.create(model=MODEL, input="hi", previous_response_id="resp_nope"),
    )
    assert e.code == "previous_response_not_found", (e.code, e.body)
    e = expect_raises(
        openai.BadRequestError,
        lambda: c.responses.create(model=MODEL, input="hi", tools=[{"type": "no_such_tool"}]),
    )
    assert e.param and e.param.startswith("tools"), (e.param, e.body)

    bad = client(api_key="hk-this-key-does-not-exist-0000")
    e = expect_raises(
        openai.AuthenticationError, lambda: bad.responses.create(model=MODEL, input="hi")
    )
    assert e.status_code == 401
    e = expect_raises(openai.AuthenticationError, lambda: bad.conversations.retrieve("conv_x"))
    assert e.status_code == 401


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f"usage: scenarios.py {{{'|'.join(sorted(SCENARIOS))}}}", file=sys.stderr)
        sys.exit(2)
    SCENARIOS[sys.argv[1]]()
    print(f"ok {sys.argv[1]} ({MODEL}, openai {openai.__version__})")


if __name__ == "__main__":
    main()
