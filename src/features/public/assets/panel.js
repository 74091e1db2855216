// The visitor panel: a session from the page's ticket, answers streamed as lines of JSON, the
// conversation kept across reloads (its id and the visitor token in this origin's storage, per
// bot and website). Answers' HTML comes rendered and sanitised from the server.
(() => {
  "use strict";
  const d = document, cfg = d.body.dataset, $ = (id) => d.getElementById(id);
  const log = $("cs-log"), form = $("cs-form"), input = $("cs-input"), sendBtn = $("cs-send"), stopBtn = $("cs-stop"), err = $("cs-error");
  const api = "/visitor/" + cfg.bot, key = "chatsphere:" + cfg.bot + ":" + cfg.channel + ":" + cfg.site;
  const framed = window.parent !== window;
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(key) || "{}") || {}; } catch (e) { saved = {}; }
  const save = () => { try { localStorage.setItem(key, JSON.stringify(saved)); } catch (e) { /* private mode: this page only */ } };
  const tell = (type, detail) => { if (framed) parent.postMessage({ source: "chatsphere", bot: cfg.bot, type, detail }, cfg.site); };
  const showError = (m) => { err.textContent = m || ""; err.hidden = !m; };

  const request = (path, body, method) => fetch(api + path, {
    method: method || "POST",
    headers: Object.assign({ "Content-Type": "application/json" }, saved.token ? { Authorization: "Bearer " + saved.token } : {}),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const reason = async (r) => { try { return (await r.json()).error || "Something went wrong; try again."; } catch (e) { return "Something went wrong; try again."; } };

  let session = null;
  const ensureSession = () => session || (session = (async () => {
    const r = await request("/session", { ticket: cfg.ticket, channel: cfg.channel, site: cfg.site, token: saved.token || null });
    if (!r.ok) { session = null; throw new Error(await reason(r)); }
    const j = await r.json();
    if (j.renewed) { saved = { token: j.token }; save(); }
  })());

  const add = (role, cls) => {
    const m = d.createElement("div"); m.className = "cs-msg " + (role === "user" ? "cs-user" : "cs-bot") + (cls ? " " + cls : "");
    const b = d.createElement("div"); b.className = "cs-bubble"; m.appendChild(b);
    log.appendChild(m); log.scrollTop = log.scrollHeight; return m;
  };
  const hideSuggestions = () => { const s = log.querySelector(".cs-suggestions"); if (s) s.hidden = true; };

  const sourcesOf = (list) => {
    const ul = d.createElement("ul"); ul.className = "cs-sources"; ul.setAttribute("aria-label", "Sources");
    list.forEach((s) => {
      const li = d.createElement("li"), det = d.createElement("details"), sum = d.createElement("summary"), p = d.createElement("p");
      sum.textContent = "[" + s.n + "] " + s.location; p.textContent = s.text;
      det.append(sum, p); li.appendChild(det); ul.appendChild(li);
    });
    return ul;
  };
  const rating = (m, msg) => {
    const box = d.createElement("div"); box.className = "cs-rate";
    [[1, "👍", "Helpful"], [-1, "👎", "Not helpful"]].forEach(([value, icon, label]) => {
      const b = d.createElement("button"); b.type = "button"; b.textContent = icon; b.setAttribute("aria-label", label);
      b.setAttribute("aria-pressed", String(msg.feedback === value));
      b.onclick = async () => {
        const next = msg.feedback === value ? 0 : value;
        const r = await request("/rate", { message: msg.id, rating: next });
        if (!r.ok) return showError(await reason(r));
        msg.feedback = next || null;
        box.querySelectorAll("button").forEach((x, i) => x.setAttribute("aria-pressed", String(msg.feedback === (i ? -1 : 1))));
      };
      box.appendChild(b);
    });
    m.appendChild(box);
  };
  // A finished message: the server's sanitised HTML, its sources, its reason if it failed.
  const finish = (m, msg) => {
    m.classList.remove("cs-streaming"); m.classList.add("cs-done");
    const b = m.querySelector(".cs-bubble");
    if (msg.html || msg.role === "user") b.innerHTML = msg.html; else b.remove();
    if (msg.role !== "assistant") return;
    if (msg.status === "failed") { const p = d.createElement("p"); p.className = "cs-failed"; p.textContent = msg.error || "The answer failed; try again."; m.appendChild(p); }
    if (msg.sources && msg.sources.length) m.appendChild(sourcesOf(msg.sources));
    if (msg.status !== "failed") rating(m, msg);
  };

  let current = null;
  const busy = (on) => { sendBtn.hidden = on; stopBtn.hidden = !on; if (!on) current = null; };

  const ask = async (text) => {
    showError("");
    try { await ensureSession(); } catch (e) { return showError(e.message); }
    hideSuggestions();
    const q = add("user"); q.querySelector(".cs-bubble").textContent = text;
    const a = add("assistant", "cs-streaming"), bubble = a.querySelector(".cs-bubble");
    busy(true); current = {};
    let r;
    try {
      r = await request("/messages", { conversation: saved.conversation || null, text, page_url: cfg.page || null });
    } catch (e) { a.remove(); busy(false); return showError("Could not reach the assistant; check your connection and try again."); }
    if (!r.ok) {
      a.remove(); busy(false); showError(await reason(r));
      if (r.status === 401) { saved = {}; save(); session = null; }
      return;
    }
    const reader = r.body.getReader(), decoder = new TextDecoder();
    let buffer = "", written = "";
    const handle = (ev) => {
      if (ev.t === "start") { saved.conversation = ev.conversation; save(); current = { answer: ev.answer }; }
      else if (ev.t === "delta") { written += ev.text; bubble.textContent = written; log.scrollTop = log.scrollHeight; }
      else if (ev.t === "done") { finish(a, ev.message); tell("message", { question: text, answer: written }); }
    };
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let i;
        while ((i = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, i); buffer = buffer.slice(i + 1);
          if (line.trim()) handle(JSON.parse(line));
        }
      }
    } catch (e) { showError("The connection broke; what was written is kept."); }
    busy(false);
    input.focus();
  };

  const restore = async () => {
    if (!saved.token || !saved.conversation) return;
    try { await ensureSession(); } catch (e) { return; }
    if (!saved.conversation) return;
    const r = await request("/conversations/" + saved.conversation, undefined, "GET");
    if (!r.ok) { delete saved.conversation; save(); return; }
    const c = await r.json();
    if (c.messages.length) hideSuggestions();
    c.messages.forEach((msg) => finish(add(msg.role), msg));
  };

  const fresh = async () => {
    showError("");
    try { await ensureSession(); } catch (e) { return showError(e.message); }
    const r = await request("/conversations", { page_url: cfg.page || null });
    if (!r.ok) return showError(await reason(r));
    saved.conversation = (await r.json()).id; save();
    log.querySelectorAll(".cs-msg:not(.cs-welcome)").forEach((m) => m.remove());
    const s = log.querySelector(".cs-suggestions"); if (s) s.hidden = false;
    tell("reset", { conversation: saved.conversation });
    input.focus();
  };

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text || current) return;
    input.value = "";
    ask(text);
  });
  input.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); } });
  stopBtn.addEventListener("click", () => { if (current && current.answer) request("/stop", { message: current.answer }); });
  $("cs-new").addEventListener("click", fresh);
  const close = $("cs-close"); if (close) close.addEventListener("click", () => tell("close"));
  d.addEventListener("keydown", (e) => { if (e.key === "Escape") tell("close"); });
  log.addEventListener("click", (e) => { const b = e.target.closest(".cs-suggestion"); if (b && !current) ask(b.textContent); });
  window.addEventListener("message", (e) => {
    if (e.origin !== cfg.site || !e.data) return;
    if (e.data.type === "chatsphere:reset") fresh();
    if (e.data.type === "chatsphere:focus") input.focus();
  });
  restore().finally(() => { d.body.dataset.ready = "true"; });
})();
