/* ai-bot web chat — the conversation in the DOM: user and assistant bubbles, Markdown answers
 * with copy buttons, ratings, notices, history, the model label and the banners. Model and user
 * text reach the DOM only as textContent or through markdown-it (see chat-base.js). Adds its
 * functions to window.aibotChat; a rating click calls chat.rate, which app.js provides.
 */
(() => {
  "use strict";

  const chat = window.aibotChat;
  const { t, ui, md } = chat;

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
      btn.addEventListener("click", () => chat.rate(requestId, score));
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

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${ui.input.scrollHeight}px`;
  }

  Object.assign(chat, {
    el,
    nearBottom,
    scrollToBottom,
    updateEmpty,
    addUser,
    addAssistant,
    showTyping,
    renderMarkdown,
    addCopyButtons,
    finishAssistant,
    addRating,
    onRated,
    failAssistant,
    showNotice,
    renderHistory,
    setModel,
    setProblems,
    setConnBanner,
    setConnState,
    autosize,
  });
})();
