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

  const {
    t, ui, store, nearBottom, scrollToBottom, addUser, addAssistant, showTyping, renderMarkdown,
    finishAssistant, addRating, onRated, failAssistant, showNotice, renderHistory, setModel,
    setProblems, setConnBanner, setConnState, autosize,
  } = window.aibotChat;

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

  function syncControls() {
    const canType = ready && !current && !pendingNew;
    ui.input.disabled = !canType;
    const files = window.aibotAttach ? window.aibotAttach.count() : 0;
    ui.send.disabled = !canType || (!ui.input.value.trim() && files === 0);
    ui.newChat.disabled = !ready || pendingNew;
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

  window.aibotChat.rate = (requestId, score) => sendFrame({ type: "rate", request_id: requestId, score });
  if (window.aibotAttach) window.aibotAttach.onChange(syncControls);
  syncControls();
  connect();
})();
