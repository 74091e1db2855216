"""The developer API through the clients people really use: the official `openai` package
(pinned in setup.sh) against a running ChatSphere, and the OpenAPI document through an
independent validator. Run by tests/openai_sdk.rs, which starts the server and passes:
BASE, BOT, OTHER_BOT, KEY (manage, all bots), REVOKED, SCOPED (BOT only), CHAT_ONLY, LIMITED."""

import json
import os
import sys

import urllib.request
import openai
from openai import OpenAI
from openapi_spec_validator import validate

env = os.environ
base, bot, other_bot = env["BASE"], env["BOT"], env["OTHER_BOT"]
question = [{"role": "user", "content": "Where are berth fees paid?"}]


def client(key, **kw):
    return OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=60, **kw)


def check(condition, what):
    if not condition:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    print(f"ok: {what}")


c = client(env["KEY"])

# Models: the bots the key may use.
ids = [m.id for m in c.models.list().data]
check(bot in ids and other_bot in ids, f"models.list() lists the bots ({ids})")
check(c.models.retrieve(bot).id == bot, "models.retrieve() finds a bot")

# A whole completion: the answer cites the document, and the raw JSON carries `citations`.
raw = c.chat.completions.with_raw_response.create(model=bot, messages=question)
completion = raw.parse()
answer = completion.choices[0].message.content
check("harbour office" in answer and "[1]" in answer, f"the answer cites its source: {answer!r}")
check(completion.choices[0].finish_reason == "stop" and completion.choices[0].index == 0, "finish_reason stop, index 0")
check(completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens > 0, "usage adds up")
body = json.loads(raw.http_response.text)
check(body["citations"][0]["document"] == "guide.md" and body["citations"][0]["cited"], "the raw JSON carries citations")
check(completion.model_extra["citations"][0]["passage"].startswith("Berth fees"), "the SDK keeps the extra field")

# Streamed, with usage: the text arrives in pieces, the finish chunk carries the citations.
text, finish, usage, cited = "", None, None, None
stream = c.chat.completions.create(model=bot, messages=question, stream=True, stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage:
        usage = chunk.usage
    for choice in chunk.choices:
        text += choice.delta.content or ""
        if choice.finish_reason:
            finish = choice.finish_reason
            cited = (chunk.model_extra or {}).get("citations")
check(text == answer, f"the stream says what the whole answer said: {text!r}")
check(finish == "stop" and cited and cited[0]["document"] == "guide.md", "the finish chunk carries the citations")
check(usage is not None and usage.total_tokens > 0, "stream_options.include_usage gives a usage chunk")

# History: earlier turns travel with the request.
follow = c.chat.completions.create(model=bot, messages=question + [{"role": "assistant", "content": answer}, {"role": "user", "content": "When do ferries leave?"}])
check("every hour" in follow.choices[0].message.content, "a follow-up with history is answered")


def raises(kind, call, what):
    try:
        call()
    except kind as e:
        check(True, f"{what} raises {kind.__name__} ({e.status_code}: {e.message[:80]})")
        return e
    except openai.APIError as e:
        check(False, f"{what} raised {type(e).__name__} instead of {kind.__name__}: {e}")
    check(False, f"{what} did not raise {kind.__name__}")


raises(openai.AuthenticationError, lambda: client(env["REVOKED"]).models.list(), "a revoked key")
raises(openai.AuthenticationError, lambda: client("csk_" + "0" * 64).models.list(), "an unknown key")
e = raises(openai.NotFoundError, lambda: c.chat.completions.create(model="no-such-bot", messages=question), "an unknown bot")
check(e.body.get("param") == "model" and e.code == "model_not_found", "the unknown model is named")
raises(openai.PermissionDeniedError, lambda: client(env["SCOPED"]).chat.completions.create(model=other_bot, messages=question), "a key scoped to another bot")
native = OpenAI(base_url=f"{base}/api/v1", api_key=env["CHAT_ONLY"], max_retries=0)
raises(openai.PermissionDeniedError, lambda: native.post(f"/bots/{bot}/documents", body={"title": "x", "text": "y"}, cast_to=object), "a chat-only key adding knowledge")
e = raises(openai.BadRequestError, lambda: c.chat.completions.create(model=bot, messages=[{"role": "assistant", "content": "Hi"}]), "a conversation not ending with the user")
check(e.body.get("param") == "messages[0].role", f"the bad parameter is named ({e.body.get('param')})")
e = raises(openai.RateLimitError, lambda: client(env["LIMITED"]).models.list(), "a key over its limit")
check(int(e.response.headers["retry-after"]) >= 1, "429 says when to retry")

# The OpenAPI document validates with an independent validator.
with urllib.request.urlopen(f"{base}/api/v1/openapi.json") as r:
    document = json.load(r)
validate(document)
check(document["openapi"].startswith("3.1") and "/v1/chat/completions" in document["paths"], "the OpenAPI document is valid 3.1")
print("all SDK checks passed")
