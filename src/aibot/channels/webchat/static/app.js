/* ai-bot web chat — plain ES2020, no build step.
 *
 * Talks to the gateway over one WebSocket at ./ws (JSON text frames):
 *   client → server  hello {session_id, key} · message {id, text, attachments: [token]} · new
 *                    rate {request_id, score: 1 | -1}
 *   server → client  ready {session_id, history, model, problems}
 *                    start {id} · delta {id, text} · done {id, text, model, request_id}
 *                    error {id, message} · rated {request_id, score (null: refused)}
 *                    error {code: "unauthorized", message}, then close 4401
 * Model and user text only ever reach the DOM as textContent, or through markdown-it
 * (html: false, default link validation) for assistant answers.
 */
(() => {
  "use strict";

  const SESSION_KEY = "aibot.session";
  const ACCESS_KEY = "aibot.key";
  const AUTH_CLOSE_CODE = 4401;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;

  const $ = (id) => document.getElementById(id);
  // The page's words in its language: the server renders them from the gettext catalog
  // (aibot/i18n) into a JSON block; t("msgid", {name}) fills {name} placeholders.
  const CATALOG = (() => {
    try { return JSON.parse(($("i18n") || {}).textContent || "{}"); } catch (_) { return {}; }
  })();
  const t = (msgid, params) => String(CATALOG[msgid] || msgid).replace(
    /\{(\w+)\}/g, (whole, name) => (params && name in params ? String(params[name]) : whole));
  const ui = {
    title: $("title"),
    model: $("model"),
    newChat: $("new-chat"),
    bannerConn: $("banner-conn"),
    bannerProblems: $("banner-problems"),
    problemsList: $("problems-list"),
    scroller: $("scroller"),
    empty: $("empty"),
    messages: $("messages"),
    composer: $("composer"),
    input: $("input"),
    send: $("send"),
    keyOverlay: $("key-overlay"),
    keyForm: $("key-form"),
    keyInput: $("key-input"),
    keyMessage: $("key-message"),
    keyError: $("key-error"),
    keySubmit: $("key-submit"),
  };

  // localStorage can throw (disabled storage, some private modes): degrade to "not stored".
  const store = {
    get(name) {
      try { return window.localStorage.getItem(name); } catch { return null; }
    },
    set(name, value) {
      try {
        if (value == null) window.localStorage.removeItem(name);
        else window.localStorage.setItem(name, value);
      } catch { /* not persisted */ }
    },
  };

  // ---------------------------------------------------------------- Markdown
  const md = window.markdownit({ html: false, linkify: true, breaks: true });
  const esc = md.utils.escapeHtml;
  const renderToken = (tokens, idx, options, env, self) => self.renderToken(tokens, idx, options);
  const defaultLinkOpen = md.renderer.rules.link_open || renderToken;
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    tokens[idx].attrSet("target", "_blank");
    tokens[idx].attrSet("rel", "noopener noreferrer");
    return defaultLinkOpen(tokens, idx, options, env, self);
  };
  // Remote images are not fetched (a reply must not be able to beacon data out through an
  // image URL); they become links. Inline data: images (already vetted by validateLink) show.
  const defaultImage = md.renderer.rules.image;
  md.renderer.rules.image = (tokens, idx, options, env, self) => {
    const token = tokens[idx];
    const src = token.attrGet("src") || "";
    if (/^data:image\//i.test(src)) return defaultImage(tokens, idx, options, env, self);
    const alt = self.renderInlineAsText(token.children || [], options, env) || src;
    return `<a href="${esc(src)}" target="_blank" rel="noopener noreferrer">[image: ${esc(alt)}]</a>`;
  };

  // ---------------------------------------------------------------- state
  let ws = null;               // the live socket, or null
  let ready = false;           // hello answered with ready on the live socket
  let everReady = false;       // at least one ready since page load
  let attempt = 0;             // reconnect attempts since the last ready
  let reconnectTimer = null;
  let authError = null;        // message of an "unauthorized" error on the live socket
  let sentKey = false;         // the hello on the live socket carried a key
  let awaitingKey = false;     // the key prompt is up; no automatic reconnects
  let pendingNew = false;      // "new" sent, its ready not yet received
  let current = null;          // the assistant answer being streamed: {id, row, body, text}
  let renderQueued = false;
  let composing = false;
  const finePointer = window.matchMedia && window.matchMedia("(pointer: fine)").matches;

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function nearBottom() {
    const s = ui.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  function scrollToBottom() {
    ui.scroller.scrollTop = ui.scroller.scrollHeight;
  }

  function updateEmpty() {
    ui.empty.hidden = ui.messages.childElementCount > 0;
  }

  function addUser(text) {
    const row = el("div", "msg user");
    row.appendChild(el("div", "bubble", text));
    ui.messages.appendChild(row);
    updateEmpty();
    return row;
  }

  function addAssistant() {
    const row = el("div", "msg assistant");
    const bubble = el("div", "bubble");
    const body = el("div", "md");
    bubble.appendChild(body);
    row.appendChild(bubble);
    ui.messages.appendChild(row);
    updateEmpty();
    return { id: null, row, bubble, body, text: "" };
  }

  function showTyping(entry) {
    const dots = el("div", "typing");
    dots.setAttribute("aria-label", t("Assistant is typing"));
    dots.append(el("span"), el("span"), el("span"));
    entry.body.replaceChildren(dots);
  }

  function renderMarkdown(entry) {
    entry.body.innerHTML = md.render(entry.text); // markdown-it output only (html: false)
  }

  function addCopyButtons(entry) {
    if (!(navigator.clipboard && window.isSecureContext)) return;
    for (const pre of entry.body.querySelectorAll("pre")) {
      const code = pre.querySelector("code") || pre;
      const btn = el("button", "copy-btn", t("Copy"));
      btn.type = "button";
      btn.title = t("Copy");
      btn.addEventListener("click", () => {
        navigator.clipboard.writeText(code.textContent).then(
          () => { btn.textContent = t("Copied"); setTimeout(() => { btn.textContent = t("Copy"); }, 1500); },
          () => { btn.textContent = t("Failed"); },
        );
      });
      pre.appendChild(btn);
    }
  }

  function finishAssistant(entry, text) {
    entry.text = text;
    if (text) {
      renderMarkdown(entry);
      addCopyButtons(entry);
    } else {
      entry.body.replaceChildren(el("em", "muted", "(empty answer)"));
    }
    entry.row.dataset.state = "done";
    entry.bubble.removeAttribute("aria-busy");
  }

  // 👍/👎 under an answer; the server keeps one rating per answer, the last one given.
  function addRating(entry, requestId) {
    if (typeof requestId !== "string" || !requestId) return;
    const bar = el("div", "rating");
    bar.dataset.requestId = requestId;
    for (const [score, label, title] of [[1, "👍", t("Good answer")], [-1, "👎", t("Bad answer")]]) {
      const btn = el("button", "rate-btn", label);
      btn.type = "button";
      btn.title = title;
      btn.dataset.score = String(score);
      btn.setAttribute("aria-pressed", "false");
      btn.addEventListener("click", () => sendFrame({ type: "rate", request_id: requestId, score }));
      bar.appendChild(btn);
    }
    entry.row.appendChild(bar);
  }

  function onRated(frame) {
    for (const bar of ui.messages.querySelectorAll(".rating")) {
      if (bar.dataset.requestId !== frame.request_id) continue;
      for (const btn of bar.querySelectorAll(".rate-btn")) {
        btn.setAttribute("aria-pressed", String(Number(btn.dataset.score) === frame.score));
      }
    }
  }

  function failAssistant(entry, message) {
    if (entry.text) renderMarkdown(entry);
    else entry.body.replaceChildren();
    entry.bubble.appendChild(el("div", "err", `⚠ ${message || t("Something went wrong.")}`));
    entry.row.classList.add("error");
    entry.row.dataset.state = "error";
    entry.bubble.removeAttribute("aria-busy");
  }

  function showNotice(message) {
    const stick = nearBottom();
    failAssistant(addAssistant(), message);
    if (stick) scrollToBottom();
  }

  function renderHistory(history) {
    ui.messages.replaceChildren();
    for (const item of Array.isArray(history) ? history : []) {
      if (!item || typeof item.content !== "string") continue;
      if (item.role === "user") addUser(item.content);
      else if (item.role === "assistant") {
        const entry = addAssistant();
        finishAssistant(entry, item.content);
        addRating(entry, item.request_id);
      }
    }
    updateEmpty();
    scrollToBottom();
  }

  // ready names the session's model ("fake (fake-model)"); done names the one that answered
  // ("fake-model", or a fallback). A done model already in the label leaves the label alone.
  function setModel(name, { answered = false } = {}) {
    if (typeof name !== "string" || !name) return;
    if (answered && ui.model.textContent.includes(name)) return;
    ui.model.textContent = name;
    ui.model.title = t("Model: {name}", { name });
    ui.model.hidden = false;
  }

  function setProblems(problems) {
    const lines = Array.isArray(problems) ? problems.filter((p) => typeof p === "string" && p) : [];
    ui.problemsList.replaceChildren(...lines.map((line) => el("li", null, line)));
    ui.bannerProblems.hidden = lines.length === 0;
  }

  function setConnBanner(text) {
    ui.bannerConn.textContent = text || "";
    ui.bannerConn.hidden = !text;
  }

  function setConnState(state) {
    document.body.dataset.conn = state;
  }

  function syncControls() {
    const canType = ready && !current && !pendingNew;
    ui.input.disabled = !canType;
    const files = window.aibotAttach ? window.aibotAttach.count() : 0;
    ui.send.disabled = !canType || (!ui.input.value.trim() && files === 0);
    ui.newChat.disabled = !ready || pendingNew;
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${ui.input.scrollHeight}px`;
  }

  // ---------------------------------------------------------------- streaming
  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      if (!current || current.row.dataset.state !== "streaming" || !current.text) return;
      const stick = nearBottom();
      renderMarkdown(current);
      if (stick) scrollToBottom();
    });
  }

  function failCurrent(message) {
    if (!current) return;
    const stick = nearBottom();
    failAssistant(current, message);
    current = null;
    if (stick) scrollToBottom();
    syncControls();
  }

  function newId() {
    const bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes); // works outside secure contexts, unlike randomUUID
    return `m-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  }

  async function sendMessage() {
    const text = ui.input.value.replace(/^\s*\n/, "").trimEnd();
    const attach = window.aibotAttach;
    const files = attach ? attach.names() : [];
    if ((!text.trim() && files.length === 0) || !ready || current || pendingNew) return;
    const id = newId();
    let attachments = [];
    if (files.length) {
      ui.send.disabled = true;
      try {
        attachments = await attach.uploadAll(store.get(SESSION_KEY) || "", store.get(ACCESS_KEY));
      } catch (error) {
        addUser(files.map((name) => `📎 ${name}`).join("\n"));
        failAssistant(addAssistant(), String(error.message || error));
        syncControls();
        return;
      }
    }
    if (!sendFrame({ type: "message", id, text, attachments })) return;
    addUser([text, ...files.map((name) => `📎 ${name}`)].filter(Boolean).join("\n"));
    current = addAssistant();
    current.id = id;
    current.row.dataset.state = "streaming";
    current.bubble.setAttribute("aria-busy", "true");
    showTyping(current);
    ui.input.value = "";
    autosize();
    syncControls();
    scrollToBottom();
  }

  // ---------------------------------------------------------------- protocol
  function sendFrame(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function wsUrl() {
    const url = new URL("ws", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.hash = "";
    url.search = "";
    return url.href;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws) return;
    let sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    ws = sock;
    authError = null;
    sock.onopen = () => {
      if (ws !== sock) return;
      const key = store.get(ACCESS_KEY);
      sentKey = Boolean(key);
      sendFrame({ type: "hello", session_id: store.get(SESSION_KEY) || null, key: key || null });
    };
    sock.onmessage = (event) => {
      if (ws !== sock || typeof event.data !== "string") return;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame && typeof frame === "object") handleFrame(frame);
    };
    sock.onclose = (event) => {
      if (ws !== sock) return;
      ws = null;
      onDisconnected(event.code);
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  function onDisconnected(code) {
    ready = false;
    pendingNew = false;
    failCurrent(t("Connection lost before the answer finished. Please send it again."));
    syncControls();
    if (code === AUTH_CLOSE_CODE || authError !== null) {
      setConnState("auth");
      setConnBanner("");
      showKeyPrompt(authError);
      return;
    }
    hideKeyPrompt();
    setConnState("reconnecting");
    setConnBanner(everReady ? t("Connection lost — reconnecting…") : t("Cannot reach the gateway — reconnecting…"));
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer || awaitingKey) return;
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    const delay = base * (0.8 + Math.random() * 0.4);
    attempt += 1;
    reconnectTimer = setTimeout(() => { reconnectTimer = null; connect(); }, delay);
  }

  function reconnectNow() {
    if (ws || awaitingKey) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "ready": return onReady(frame);
      case "start": return; // the bubble already shows the typing indicator
      case "delta":
        if (current && frame.id === current.id && typeof frame.text === "string") {
          current.text += frame.text;
          scheduleRender();
        }
        return;
      case "done":
        if ("problems" in frame) setProblems(frame.problems); // a recovery clears the banner
        if (current && frame.id === current.id) {
          const stick = nearBottom();
          finishAssistant(current, typeof frame.text === "string" ? frame.text : current.text);
          addRating(current, frame.request_id);
          current = null;
          setModel(frame.model, { answered: true });
          if (stick) scrollToBottom();
          syncControls();
          if (finePointer) ui.input.focus();
        }
        return;
      case "error":
        if ("problems" in frame) setProblems(frame.problems);
        return onError(frame);
      case "rated": return onRated(frame);
      default: return; // unknown frames are ignored, for forward compatibility
    }
  }

  function onReady(frame) {
    const previous = store.get(SESSION_KEY);
    const sessionId = typeof frame.session_id === "string" ? frame.session_id : null;
    if (sessionId) store.set(SESSION_KEY, sessionId);
    const history = Array.isArray(frame.history) ? frame.history : [];
    // After a reconnect to the same session, keep what is on screen unless the server has
    // something to show: the conversation stays even if the server's memory is gone.
    if (pendingNew || !everReady || history.length > 0 || sessionId !== previous) {
      current = null;
      renderHistory(history);
    }
    ready = true;
    everReady = true;
    pendingNew = false;
    attempt = 0;
    authError = null;
    if (typeof frame.title === "string" && frame.title) { // optional: webchat.title
      ui.title.textContent = frame.title;
      document.title = frame.title;
    }
    setModel(frame.model);
    setProblems(frame.problems);
    setConnBanner("");
    setConnState("ready");
    hideKeyPrompt();
    syncControls();
    if (finePointer) ui.input.focus();
  }

  function onError(frame) {
    const message = typeof frame.message === "string" && frame.message ? frame.message : t("Something went wrong.");
    if (frame.code === "unauthorized") {
      authError = message;
      ready = false;
      syncControls();
      return; // the server closes with 4401 next; onDisconnected shows the prompt
    }
    if (current && (frame.id == null || frame.id === current.id)) {
      failCurrent(message);
    } else if (frame.id == null) {
      showNotice(message);
    }
  }

  // ---------------------------------------------------------------- access key prompt
  function showKeyPrompt(message) {
    awaitingKey = true;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (sentKey) store.set(ACCESS_KEY, null); // a refused key is not retried on reload
    // The server's own words replace the default explanation (e.g. "no access keys are set").
    if (message) ui.keyMessage.textContent = message;
    ui.keyError.textContent = sentKey ? t("That key was refused.") : "";
    ui.keyError.hidden = !sentKey;
    ui.keySubmit.disabled = false;
    ui.keySubmit.textContent = t("Connect");
    ui.keyInput.disabled = false;
    ui.keyOverlay.hidden = false;
    ui.keyInput.value = "";
    ui.keyInput.focus();
  }

  function hideKeyPrompt() {
    awaitingKey = false;
    ui.keyOverlay.hidden = true;
  }

  ui.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = ui.keyInput.value.trim();
    if (!key) return;
    store.set(ACCESS_KEY, key);
    ui.keySubmit.disabled = true;
    ui.keyInput.disabled = true;
    ui.keySubmit.textContent = t("Connecting…");
    awaitingKey = false;
    attempt = 0;
    reconnectNow();
  });

  // ---------------------------------------------------------------- composer
  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });

  ui.input.addEventListener("compositionstart", () => { composing = true; });
  ui.input.addEventListener("compositionend", () => { composing = false; });
  ui.input.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey) return;
    // An Enter that confirms an IME candidate (Chinese, Japanese, ...) must not send.
    // keyCode 229 covers Safari, which ends the composition before this keydown.
    if (event.isComposing || composing || event.keyCode === 229) return;
    event.preventDefault();
    sendMessage();
  });
  ui.input.addEventListener("input", () => {
    autosize();
    syncControls();
  });

  ui.newChat.addEventListener("click", () => {
    if (!ready) return;
    if (sendFrame({ type: "new" })) {
      pendingNew = true;
      // Frames of an answer still streaming for the old conversation are ignored from now on.
      if (current) failCurrent(t("Stopped: a new conversation was started."));
      syncControls();
    }
  });

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  if (window.aibotAttach) window.aibotAttach.onChange(syncControls);
  syncControls();
  connect();
})();
