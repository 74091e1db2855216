//! Settings → API keys (make, list, revoke; the secret shown once) and the API reference page
//! with examples to copy.

use super::{ApiKeyView, CreateKey, CreatedKey, Permission, RevokeKey};
use crate::error::AppError;
use crate::ui::{error_for, use_toasts, ConfirmDialog, CopyField, FormError, SubmitButton, TextField};
use leptos::prelude::*;
use leptos_meta::Title;

fn when(t: Option<chrono::DateTime<chrono::Utc>>, none: &'static str) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| none.into())
}

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let toasts = use_toasts();
    let create = ServerAction::<CreateKey>::new();
    let revoke = ServerAction::<RevokeKey>::new();
    let keys = Resource::new(move || (create.version().get(), revoke.version().get()), |_| super::list_keys());
    let bots = Resource::new(|| (), |_| crate::features::bots::list_bots());
    let created: Signal<Option<Result<CreatedKey, AppError>>> = create.value().into();
    let secret = Signal::derive(move || created.with(|c| c.as_ref().and_then(|r| r.as_ref().ok()).map(|k| k.secret.clone()).unwrap_or_default()));
    let confirming = RwSignal::new(None::<ApiKeyView>);
    let confirm_open = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            confirm_open.set(false);
            toasts.success("Key revoked: it stops working on its next request.");
        }
    });
    view! {
        <Title text="API keys" />
        <div class="flex items-center gap-3 mb-2">
            <a href="/settings" class="btn-ghost">"← Settings"</a>
            <h1 class="text-2xl font-semibold">"API keys"</h1>
        </div>
        <p class="text-sm text-slate-500 max-w-2xl">"Keys let your own programs chat with your bots and manage their knowledge, through the ChatSphere API or any OpenAI client. "
            <a href="/developers" class="underline">"API reference and examples"</a></p>
        <div class="mt-6 grid gap-6 max-w-4xl">
            <section class="card">
                <h2 class="section-title">"Create a key"</h2>
                <ActionForm action=create attr:class="grid gap-4 sm:grid-cols-2">
                    <TextField label="Name" name="name" required=true maxlength=super::KEY_NAME_MAX hint="What will use it, e.g. “Support backend”." error=error_for(create.value(), "name") />
                    <div class="space-y-1">
                        <label for="field-bot" class="block text-sm font-medium">"Bots it may use"</label>
                        <select id="field-bot" name="bot" class="input w-full" aria-describedby="field-bot-error">
                            <option value="">"All my bots"</option>
                            <Suspense>
                                {move || Suspend::new(async move {
                                    bots.await.unwrap_or_default().into_iter().map(|b| view! { <option value=b.public_id.clone()>{b.name.clone()}</option> }).collect_view()
                                })}
                            </Suspense>
                        </select>
                        <p id="field-bot-error" class="text-sm text-red-600 dark:text-red-400" role="alert">{move || error_for(create.value(), "bot").get()}</p>
                    </div>
                    <div class="space-y-1">
                        <label for="field-permission" class="block text-sm font-medium">"Permission"</label>
                        <select id="field-permission" name="permission" class="input w-full">
                            <option value="chat">{Permission::Chat.label()}</option>
                            <option value="manage">{Permission::Manage.label()}</option>
                        </select>
                    </div>
                    <div class="space-y-1">
                        <label for="field-expires_in_days" class="block text-sm font-medium">"Expires"</label>
                        <select id="field-expires_in_days" name="expires_in_days" class="input w-full">
                            <option value="0">"Never"</option>
                            <option value="30">"In 30 days"</option>
                            <option value="90">"In 90 days"</option>
                            <option value="365">"In a year"</option>
                        </select>
                    </div>
                    <div class="sm:col-span-2 space-y-3">
                        <FormError result=created />
                        <SubmitButton label="Create key" pending_label="Creating…" pending=create.pending() class="btn-primary" />
                    </div>
                </ActionForm>
                <Show when=move || !secret.get().is_empty()>
                    <div class="mt-4 rounded-lg border border-amber-300 bg-amber-50 dark:bg-amber-950 dark:border-amber-800 p-4 space-y-2" role="status" data-testid="new-key">
                        <p class="text-sm font-medium">"Copy your new key now: it will not be shown again."</p>
                        <CopyField label="New API key" id="new-key-secret" value=secret />
                    </div>
                </Show>
            </section>
            <section class="card overflow-x-auto">
                <h2 class="section-title">"Your keys"</h2>
                <Transition fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        let keys = keys.await?;
                        Ok::<_, AppError>(if keys.is_empty() {
                            view! { <p class="text-sm text-slate-500">"No keys yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="w-full text-sm" data-testid="api-keys">
                                    <thead class="text-left text-slate-500">
                                        <tr><th scope="col" class="py-2 pr-3">"Name"</th><th scope="col" class="pr-3">"Bots"</th><th scope="col" class="pr-3">"Permission"</th>
                                            <th scope="col" class="pr-3">"Key"</th><th scope="col" class="pr-3">"Created"</th><th scope="col" class="pr-3">"Last used"</th>
                                            <th scope="col" class="pr-3">"Expires"</th><th scope="col" class="pr-3">"Usage"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr>
                                    </thead>
                                    <tbody>
                                        {keys.into_iter().map(|k| {
                                            let active = k.active;
                                            let status = if k.revoked_at.is_some() { "Revoked" } else if !active { "Expired" } else { "" };
                                            let usage = format!("{} requests · {} answers · {} tokens", k.requests, k.answers, k.tokens);
                                            let target = k.clone();
                                            view! {
                                                <tr class="border-t border-slate-200 dark:border-slate-800" data-testid="api-key">
                                                    <td class="py-2 pr-3 font-medium">{k.name.clone()}{(!status.is_empty()).then(|| view! { <span class="ml-2 text-xs rounded bg-slate-200 dark:bg-slate-700 px-1.5">{status}</span> })}</td>
                                                    <td class="pr-3">{k.scope_label()}</td>
                                                    <td class="pr-3">{k.permission.label()}</td>
                                                    <td class="pr-3 font-mono text-xs">{format!("{}…", k.prefix)}</td>
                                                    <td class="pr-3 whitespace-nowrap">{when(Some(k.created_at), "")}</td>
                                                    <td class="pr-3 whitespace-nowrap">{when(k.last_used_at, "Never")}</td>
                                                    <td class="pr-3 whitespace-nowrap">{when(k.expires_at, "Never")}</td>
                                                    <td class="pr-3 text-xs">{usage}</td>
                                                    <td>
                                                        {active.then(|| view! {
                                                            <button type="button" class="btn-ghost text-red-600" aria-label=format!("Revoke the key {}", k.name)
                                                                on:click=move |_| { confirming.set(Some(target.clone())); confirm_open.set(true); }>"Revoke"</button>
                                                        })}
                                                    </td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        })
                    })}
                </Transition>
            </section>
        </div>
        <ConfirmDialog open=confirm_open
            title=Signal::derive(move || confirming.with(|k| k.as_ref().map(|k| format!("Revoke “{}”?", k.name)).unwrap_or_default()))
            body="Programs using this key stop working on their next request. This cannot be undone."
            confirm_label="Revoke key" pending=revoke.pending()
            on_confirm=move |_| if let Some(k) = confirming.get_untracked() { revoke.dispatch(RevokeKey { id: k.id }); } />
    }
}

/// The examples, for `base` (this server's address) and `bot`.
fn examples(base: &str, bot: &str) -> [(&'static str, &'static str, String); 4] {
    [
        ("curl (streamed)", "example-curl", format!(
r#"curl -N {base}/api/v1/bots/{bot}/chat \
  -H "Authorization: Bearer $CHATSPHERE_API_KEY" \
  -H "Content-Type: application/json" \
  -H "Accept: text/event-stream" \
  -d '{{"message": "What are your opening hours?"}}'"#)),
        ("Python with the openai package", "example-openai", format!(
r#"import os
from openai import OpenAI

client = OpenAI(base_url="{base}/v1", api_key=os.environ["CHATSPHERE_API_KEY"])
question = [{{"role": "user", "content": "What are your opening hours?"}}]

reply = client.chat.completions.create(model="{bot}", messages=question)
print(reply.choices[0].message.content)
print(reply.model_extra["citations"])  # the passages it cites, [1], [2], …

for chunk in client.chat.completions.create(model="{bot}", messages=question, stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)"#)),
        ("Python, plain HTTP, streamed", "example-python-http", format!(
r#"import json, os, requests

response = requests.post(
    "{base}/api/v1/bots/{bot}/chat",
    headers={{"Authorization": f"Bearer {{os.environ['CHATSPHERE_API_KEY']}}", "Accept": "text/event-stream"}},
    json={{"message": "What are your opening hours?"}},
    stream=True,
)
response.raise_for_status()
event = None
for line in response.iter_lines(decode_unicode=True):
    if line.startswith("event: "):
        event = line[7:]
    elif line.startswith("data: "):
        data = json.loads(line[6:])
        if event == "delta":
            print(data["text"], end="", flush=True)
        elif event == "done":
            print("\n", [c["document"] for c in data["citations"] if c["cited"]])"#)),
        ("JavaScript (fetch, streamed)", "example-js", format!(
r#"const response = await fetch("{base}/api/v1/bots/{bot}/chat", {{
  method: "POST",
  headers: {{
    Authorization: `Bearer ${{process.env.CHATSPHERE_API_KEY}}`,
    "Content-Type": "application/json",
    Accept: "text/event-stream",
  }},
  body: JSON.stringify({{ message: "What are your opening hours?" }}),
}});
if (!response.ok) throw new Error((await response.json()).error.message);
const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
let buffer = "";
for (;;) {{
  const {{ value, done }} = await reader.read();
  if (done) break;
  buffer += value;
  let end;
  while ((end = buffer.indexOf("\n\n")) >= 0) {{
    const frame = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    const event = frame.match(/^event: (.*)$/m)?.[1];
    const data = frame.match(/^data: (.*)$/m)?.[1];
    if (event === "delta") process.stdout.write(JSON.parse(data).text);
  }}
}}"#)),
    ]
}

const ENDPOINTS: [(&str, &str, &str); 12] = [
    ("GET", "/api/v1/bots", "The bots the key may use"),
    ("POST", "/api/v1/bots/{bot}/chat", "Ask a bot: JSON, or server-sent events (conversation, delta, citations, error, done)"),
    ("GET", "/api/v1/bots/{bot}/conversations", "The bot's API conversations (limit, offset)"),
    ("GET", "/api/v1/bots/{bot}/conversations/{id}", "One conversation with its messages and citations"),
    ("DELETE", "/api/v1/bots/{bot}/conversations/{id}", "Delete a conversation"),
    ("POST", "/api/v1/bots/{bot}/documents", "Add a document: a file (multipart, field file), or JSON {url} or {title, text}"),
    ("GET", "/api/v1/bots/{bot}/documents", "Documents with status, progress and error"),
    ("GET", "/api/v1/bots/{bot}/documents/{id}", "One document"),
    ("DELETE", "/api/v1/bots/{bot}/documents/{id}", "Delete a document"),
    ("GET", "/v1/models", "OpenAI-compatible: the bots as models"),
    ("POST", "/v1/chat/completions", "OpenAI-compatible chat; citations in an extra field"),
    ("GET", "/api/v1/openapi.json", "The OpenAPI 3.1 document"),
];

#[component]
pub fn DevelopersPage() -> impl IntoView {
    let base = Resource::new(|| (), |_| super::api_base_url());
    let bots = Resource::new(|| (), |_| crate::features::bots::list_bots());
    view! {
        <Title text="API reference" />
        <h1 class="text-2xl font-semibold">"API reference"</h1>
        <p class="mt-2 text-sm text-slate-500 max-w-3xl">
            "Every request carries a key from "<a href="/settings/api-keys" class="underline">"Settings → API keys"</a>" as "
            <code>"Authorization: Bearer <key>"</code>". Errors come as "<code>"{\"error\": {\"message\", \"type\", \"param\", \"code\"}}"</code>
            " with the matching status (401 key, 403 scope or permission, 404, 400 naming the parameter, 429 with Retry-After). "
            "The OpenAI-compatible endpoints take a bot's id as the model; the bot's own persona, knowledge and settings apply."
        </p>
        <section class="card mt-6 overflow-x-auto">
            <h2 class="section-title">"Endpoints"</h2>
            <table class="w-full text-sm">
                <thead class="text-left text-slate-500"><tr><th scope="col" class="py-2 pr-3">"Method"</th><th scope="col" class="pr-3">"Path"</th><th scope="col">"What it does"</th></tr></thead>
                <tbody>
                    {ENDPOINTS.into_iter().map(|(method, path, what)| view! {
                        <tr class="border-t border-slate-200 dark:border-slate-800"><td class="py-2 pr-3 font-mono text-xs">{method}</td><td class="pr-3 font-mono text-xs">{path}</td><td>{what}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="mt-3 text-sm"><a href="/api/v1/openapi.json" class="underline" rel="external">"Download the OpenAPI document"</a></p>
        </section>
        <section class="card mt-6 space-y-4">
            <h2 class="section-title">"Examples"</h2>
            <Suspense fallback=|| view! { <p class="text-slate-500">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let base = base.await.unwrap_or_default();
                    let bot = bots.await.ok().and_then(|b| b.into_iter().next()).map(|b| b.public_id).unwrap_or_else(|| "<bot id>".into());
                    examples(&base, &bot).into_iter().map(|(label, id, code)| {
                        let rows = code.lines().count() as u32;
                        view! { <CopyField label id value=Signal::stored(code) multiline=true rows /> }
                    }).collect_view()
                })}
            </Suspense>
        </section>
    }
}
