/* ai-bot web chat — attachments: the file button, paste, drag-and-drop and voice recording.
 *
 * Files wait as chips under the input until the message is sent; app.js then calls
 * aibotAttach.uploadAll(sessionId, key): each file goes to POST web/upload (multipart), which
 * answers an opaque token, and the chat frame names the tokens. Names reach the DOM only as
 * textContent. Picture previews are data: URLs (the page's CSP allows no other images).
 */
(() => {
  "use strict";

  const MAX_FILES = 10;
  const PREVIEW_BYTES = 2 * 1024 * 1024;
  const $ = (id) => document.getElementById(id);
  const pending = [];
  let onChange = () => {};
  let recorder = null;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function add(files) {
    for (const file of files) {
      if (pending.length >= MAX_FILES) break;
      if (file && file.size > 0) pending.push(file);
    }
    render();
  }

  function render() {
    const box = $("attachments");
    box.replaceChildren();
    pending.forEach((file, index) => {
      const chip = el("span", "chip");
      if (file.type.startsWith("image/") && file.size <= PREVIEW_BYTES && file.type !== "image/svg+xml") {
        const img = el("img", "chip-thumb");
        img.alt = "";
        const reader = new FileReader();
        reader.onload = () => { img.src = String(reader.result); };
        reader.readAsDataURL(file);
        chip.appendChild(img);
      }
      chip.appendChild(el("span", "chip-name", file.name || "file"));
      const remove = el("button", "chip-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", `Remove ${file.name || "file"}`);
      remove.addEventListener("click", () => { pending.splice(index, 1); render(); });
      chip.appendChild(remove);
      box.appendChild(chip);
    });
    box.hidden = pending.length === 0;
    onChange();
  }

  async function uploadAll(sessionId, key) {
    const tokens = [];
    for (const file of pending.splice(0)) {
      const form = new FormData();
      form.append("file", file, file.name || "file");
      const headers = key ? { Authorization: `Bearer ${key}` } : {};
      const url = `web/upload?session_id=${encodeURIComponent(sessionId)}`;
      const response = await fetch(url, { method: "POST", body: form, headers });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        render();
        throw new Error((body.error && body.error.message) || `upload failed (${response.status})`);
      }
      tokens.push(body.token);
    }
    render();
    return tokens;
  }

  async function toggleRecording(button) {
    if (recorder) { recorder.stop(); return; }
    if (!navigator.mediaDevices || !window.MediaRecorder) return;
    const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const chunks = [];
    recorder = new MediaRecorder(stream);
    recorder.ondataavailable = (event) => { if (event.data.size) chunks.push(event.data); };
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      const type = recorder.mimeType || "audio/webm";
      const ext = type.includes("ogg") ? "ogg" : type.includes("mp4") ? "m4a" : "webm";
      add([new File(chunks, `voice.${ext}`, { type })]);
      recorder = null;
      button.classList.remove("recording");
      button.setAttribute("aria-pressed", "false");
    };
    recorder.start();
    button.classList.add("recording");
    button.setAttribute("aria-pressed", "true");
  }

  function wire() {
    const picker = $("file-input");
    $("attach").addEventListener("click", () => picker.click());
    picker.addEventListener("change", () => { add(picker.files); picker.value = ""; });
    const mic = $("record");
    if (!navigator.mediaDevices || !window.MediaRecorder) mic.hidden = true;
    mic.addEventListener("click", () => { toggleRecording(mic).catch(() => { recorder = null; }); });
    $("input").addEventListener("paste", (event) => {
      const files = event.clipboardData ? Array.from(event.clipboardData.files) : [];
      if (files.length) { event.preventDefault(); add(files); }
    });
    const area = document.body;
    area.addEventListener("dragover", (event) => { event.preventDefault(); area.classList.add("dropping"); });
    area.addEventListener("dragleave", () => area.classList.remove("dropping"));
    area.addEventListener("drop", (event) => {
      event.preventDefault();
      area.classList.remove("dropping");
      if (event.dataTransfer) add(Array.from(event.dataTransfer.files));
    });
  }

  window.aibotAttach = {
    count: () => pending.length,
    names: () => pending.map((file) => file.name || "file"),
    add,
    uploadAll,
    onChange: (callback) => { onChange = callback; },
  };
  document.addEventListener("DOMContentLoaded", wire);
})();
