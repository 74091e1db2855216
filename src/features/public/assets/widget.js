/* ChatSphere widget loader: <script src="https://chat.example/widget.js" data-bot="…" async></script>
   Draws a launcher button in a shadow root and loads the chat panel (an iframe from
   ChatSphere's origin) only when it is first opened. Host pages can drive it through
   window.ChatSphere: open(), close(), reset(), on(event, handler) for "open", "close", "message". */
(function () {
  "use strict";
  var script = document.currentScript, w = window;
  var bot = script && script.getAttribute("data-bot");
  if (!bot) return;
  var base = new URL(script.src, location.href).origin;
  var cs = w.ChatSphere = w.ChatSphere || { _w: [], _h: {} };
  if (!cs.open) {
    var pick = function (id) { for (var i = 0; i < cs._w.length; i++) if (!id || cs._w[i].bot === id) return cs._w[i]; };
    cs.open = function (id) { var x = pick(id); if (x) x.open(); };
    cs.close = function (id) { var x = pick(id); if (x) x.close(); };
    cs.reset = function (id) { var x = pick(id); if (x) x.reset(); };
    cs.on = function (ev, fn) { (cs._h[ev] = cs._h[ev] || []).push(fn); };
    cs._emit = function (ev, detail) { (cs._h[ev] || []).forEach(function (fn) { try { fn(detail); } catch (e) { /* a host handler's error is its own */ } }); };
  }
  var z = parseInt(script.getAttribute("data-z-index") || "2147483000", 10) || 2147483000;
  // The owner's settings, and whether this website may show the bot at all: nothing is drawn
  // when it may not.
  fetch(base + "/visitor/" + encodeURIComponent(bot) + "/config", { credentials: "omit" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) { if (c) draw(c); })
    .catch(function () { /* not allowed here, or unreachable */ });

  function draw(c) {
    var side = c.position === "left" ? "left" : "right", accent = /^#[0-9a-fA-F]{6}$/.test(c.accent) ? c.accent : "#4f46e5";
    // An element of our own name with !important inline styles: host-page rules for div, *
    // or [style] cannot reach it, and nothing inside the shadow root leaks out.
    var host = document.createElement("chatsphere-widget");
    host.setAttribute("data-bot", bot);
    host.style.cssText = "all:initial!important;display:block!important;position:fixed!important;z-index:" + z + "!important;";
    var root = host.attachShadow({ mode: "open" });
    root.innerHTML = "<style>:host{all:initial}" +
      ".b{position:fixed;" + side + ":20px;bottom:calc(20px + env(safe-area-inset-bottom));width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;background:" + accent + ";color:#fff;box-shadow:0 6px 20px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;padding:0;margin:0}" +
      ".b:focus-visible{outline:3px solid " + accent + ";outline-offset:3px}.b svg{width:28px;height:28px;fill:currentColor}" +
      ".p{position:fixed;" + side + ":20px;bottom:88px;width:400px;max-width:calc(100vw - 40px);height:min(640px,calc(100vh - 110px));border:0;border-radius:16px;overflow:hidden;box-shadow:0 12px 40px rgba(0,0,0,.3);background:#fff}" +
      ".p iframe{width:100%;height:100%;border:0;display:block}[hidden]{display:none!important}" +
      "@media (max-width:520px){.p{inset:0;width:100%;max-width:none;height:100%;border-radius:0}.open .b{display:none}}</style>" +
      "<div class=w><div class=p hidden></div><button class=b type=button aria-expanded=false>" +
      "<svg viewBox='0 0 24 24' aria-hidden=true><path d='M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'/></svg></button></div>";
    var wrap = root.querySelector(".w"), panel = root.querySelector(".p"), button = root.querySelector(".b"), frame = null;
    button.setAttribute("aria-label", "Chat with " + (c.name || "us"));
    var post = function (type) { if (frame && frame.contentWindow) frame.contentWindow.postMessage({ type: type }, base); };
    var me = {
      bot: bot,
      open: function () {
        if (!frame) {
          frame = document.createElement("iframe");
          frame.title = "Chat with " + (c.name || "us");
          frame.src = base + "/embed/" + encodeURIComponent(bot) + "?site=" + encodeURIComponent(location.origin) + "&page=" + encodeURIComponent(location.href.slice(0, 2000));
          frame.addEventListener("load", function () { post("chatsphere:focus"); });
          panel.appendChild(frame);
        } else post("chatsphere:focus");
        panel.hidden = false; wrap.className = "w open"; button.setAttribute("aria-expanded", "true");
        cs._emit("open", { bot: bot });
      },
      close: function () {
        if (panel.hidden) return;
        panel.hidden = true; wrap.className = "w"; button.setAttribute("aria-expanded", "false");
        button.focus();
        cs._emit("close", { bot: bot });
      },
      reset: function () { if (frame) post("chatsphere:reset"); },
    };
    button.addEventListener("click", function () { if (panel.hidden) me.open(); else me.close(); });
    w.addEventListener("message", function (e) {
      var m = e.data;
      if (e.origin !== base || !m || m.source !== "chatsphere" || m.bot !== bot) return;
      if (m.type === "close") me.close();
      else cs._emit(m.type, m.detail);
    });
    cs._w.push(me);
    document.body.appendChild(host);
    if (c.open_on_load) me.open();
  }
})();
