"""Calls the ai-router HTTP door with the official `openai` package and
prints what came back as one JSON line, for the Rust tests to check.

usage: openai_sdk.py CASE BASE_URL MODEL [ARG]

Any error the SDK raises that the case does not expect fails the script
(non-zero exit, traceback on stderr).
"""

import json
import sys

import openai


def client(base_url):
    # max_retries=0: a test sees the router's answer, not the SDK's retries.
    return openai.OpenAI(base_url=base_url, api_key="sk-test-key", max_retries=0, timeout=60)


def chat(c, model, _arg):
    r = c.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello"},
        ],
        max_tokens=5,
    )
    choice = r.choices[0]
    return {
        "id": r.id,
        "object": r.object,
        "model": r.model,
        "content": choice.message.content,
        "role": choice.message.role,
        "finish_reason": choice.finish_reason,
        "usage": r.usage.model_dump(exclude_none=True),
    }


def stream(c, model, _arg):
    chunks = c.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Count"}],
        max_tokens=6,
        stream=True,
        stream_options={"include_usage": True},
    )
    content, finish, usage, roles, ids, count = "", None, None, [], set(), 0
    for chunk in chunks:
        count += 1
        ids.add(chunk.id)
        if chunk.usage is not None:
            usage = chunk.usage.model_dump(exclude_none=True)
        for choice in chunk.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            content += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return {
        "content": content,
        "finish_reason": finish,
        "usage": usage,
        "roles": roles,
        "ids": len(ids),
        "chunks": count,
    }


def stream_error(c, model, _arg):
    """A stream whose upstream fails after some text: the SDK must raise."""
    content = ""
    try:
        for chunk in c.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], max_tokens=8, stream=True
        ):
            for choice in chunk.choices:
                content += choice.delta.content or ""
    except openai.APIError as e:
        return {"raised": type(e).__name__, "message": e.message, "content": content}
    return {"raised": None, "content": content}


def completion(c, model, _arg):
    r = c.completions.create(model=model, prompt="Once upon a time", max_tokens=4)
    return {
        "object": r.object,
        "text": r.choices[0].text,
        "finish_reason": r.choices[0].finish_reason,
        "usage": r.usage.model_dump(exclude_none=True),
    }


def completion_stream(c, model, _arg):
    text, finish = "", None
    for chunk in c.completions.create(
        model=model, prompt="Once", max_tokens=3, stream=True
    ):
        for choice in chunk.choices:
            text += choice.text
            finish = choice.finish_reason or finish
    return {"text": text, "finish_reason": finish}


def models(c, _model, _arg):
    return {"ids": [m.id for m in c.models.list()]}


def error(c, model, _arg):
    """A call the router refuses: the SDK's typed error, status and body."""
    try:
        c.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "x"}], max_tokens=2
        )
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {
            "class": type(e).__name__,
            "status": e.status_code,
            "type": body.get("type"),
            "code": body.get("code"),
            "message": body.get("message"),
            "retry_after": e.response.headers.get("retry-after"),
        }
    return {"class": None}


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def tools(c, model, _arg):
    """An agent loop: the model calls a tool, gets its result, answers."""
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = c.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER], tool_choice="auto", max_tokens=3
    )
    call = first.choices[0].message.tool_calls[0]
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"})
    second = c.chat.completions.create(
        model=model, messages=messages, tools=[WEATHER], max_tokens=3
    )
    return {
        "finish_reason": first.choices[0].finish_reason,
        "content": first.choices[0].message.content,
        "call": {"id": call.id, "type": call.type, "name": call.function.name,
                 "arguments": json.loads(call.function.arguments)},
        "answer": second.choices[0].message.content,
        "answer_finish": second.choices[0].finish_reason,
    }


def tools_stream(c, model, _arg):
    calls, finish, content = {}, None, ""
    for chunk in c.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=4,
        stream=True,
    ):
        for choice in chunk.choices:
            content += choice.delta.content or ""
            finish = choice.finish_reason or finish
            for d in choice.delta.tool_calls or []:
                call = calls.setdefault(d.index, {"id": None, "name": "", "arguments": "", "pieces": 0})
                call["id"] = d.id or call["id"]
                call["name"] += (d.function.name or "") if d.function else ""
                call["arguments"] += (d.function.arguments or "") if d.function else ""
                call["pieces"] += 1
    return {"calls": [calls[i] for i in sorted(calls)], "finish_reason": finish, "content": content}


def json_schema(c, model, _arg):
    """Structured output through the SDK's own parse() with a pydantic model."""
    from pydantic import BaseModel

    class Answer(BaseModel):
        text: str

    parsed = c.chat.completions.parse(
        model=model, messages=[{"role": "user", "content": "Answer in JSON"}],
        response_format=Answer, max_tokens=50,
    )
    plain = c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Answer in JSON"}],
        response_format={"type": "json_object"}, max_tokens=2,
    )
    return {
        "parsed": parsed.choices[0].message.parsed.text,
        "json_object": json.loads(plain.choices[0].message.content),
    }


def schema_local(c, model, _arg):
    """A real llama-server constrains its output to the schema by grammar."""
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    r = c.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Is the sky blue?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "yes_no", "schema": schema}},
        max_tokens=200,
        temperature=0,
    )
    return {"content": r.choices[0].message.content, "finish_reason": r.choices[0].finish_reason}


def reasoning(c, model, _arg):
    whole = c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Think"}], max_tokens=2
    )
    reasoning_streamed, content_streamed = "", ""
    for chunk in c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Think"}], max_tokens=2, stream=True
    ):
        for choice in chunk.choices:
            extra = choice.delta.model_extra or {}
            reasoning_streamed += extra.get("reasoning_content") or ""
            content_streamed += choice.delta.content or ""
    message = whole.choices[0].message
    return {
        "content": message.content,
        "reasoning": (message.model_extra or {}).get("reasoning_content"),
        "content_streamed": content_streamed,
        "reasoning_streamed": reasoning_streamed,
    }


def penalties(c, model, _arg):
    r = c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], max_tokens=2,
        presence_penalty=0.5, frequency_penalty=-0.25, seed=7,
    )
    return {"content": r.choices[0].message.content}


def embeddings(c, model, _arg):
    """Default (the SDK asks for base64 and decodes it) and float encodings."""
    default = c.embeddings.create(model=model, input=["hello world", "a"])
    floats = c.embeddings.create(model=model, input="hello world", encoding_format="float")
    return {
        "vectors": [d.embedding for d in default.data],
        "indexes": [d.index for d in default.data],
        "float": floats.data[0].embedding,
        "usage": default.usage.model_dump(),
        "model": default.model,
    }


def logprobs(c, model, _arg):
    whole = c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], max_tokens=3,
        logprobs=True, top_logprobs=2,
    )
    streamed = []
    for chunk in c.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x"}], max_tokens=3,
        logprobs=True, top_logprobs=2, stream=True,
    ):
        for choice in chunk.choices:
            if choice.logprobs and choice.logprobs.content:
                streamed += [t.token for t in choice.logprobs.content]
    content = whole.choices[0].logprobs.content
    return {
        "tokens": [t.token for t in content],
        "logprobs": [t.logprob for t in content],
        "top": [[a.token for a in t.top_logprobs] for t in content],
        "streamed_tokens": streamed,
        "text": whole.choices[0].message.content,
    }


CASES = {
    f.__name__: f
    for f in [
        chat, stream, stream_error, completion, completion_stream, models, error,
        tools, tools_stream, json_schema, schema_local, reasoning, penalties, embeddings,
        logprobs,
    ]
}

if __name__ == "__main__":
    case, base_url, model = sys.argv[1], sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    print(json.dumps(CASES[case](client(base_url), model, arg)))
