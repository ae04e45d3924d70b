/* ai-bot web chat — what the page's scripts share, as window.aibotChat: the elements (ui),
 * the page's words in its language (t), storage that may be refused (store) and the Markdown
 * renderer for answers (md). Loaded before chat-messages.js and app.js.
 */
(() => {
  "use strict";

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

  window.aibotChat = { $, t, ui, store, md };
})();
