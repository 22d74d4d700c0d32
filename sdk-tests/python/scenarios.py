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


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print(f"usage: scenarios.py {{{'|'.join(sorted(SCENARIOS))}}}", file=sys.stderr)
        sys.exit(2)
    SCENARIOS[sys.argv[1]]()
    print(f"ok {sys.argv[1]} ({MODEL}, openai {openai.__version__})")


if __name__ == "__main__":
    main()
