/* Counterflow layout kit: translations, API calls with the session's CSRF token,
   server-sent events, small DOM helpers. No dependencies, no build step. */
(function () {
  "use strict";
  var strings = {};
  try { strings = JSON.parse(document.getElementById("cf-i18n").textContent || "{}"); } catch (e) { strings = {}; }

  function t(s) { return Object.prototype.hasOwnProperty.call(strings, s) ? strings[s] : s; }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k.slice(0, 2) === "on") node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c))); });
    return node;
  }

  function toast(message, kind) {
    var box = document.getElementById("cf-toast");
    if (!box) return;
    box.textContent = message;
    box.className = "toast " + (kind || "ok");
    box.hidden = false;
    clearTimeout(toast._timer);
    toast._timer = setTimeout(function () { box.hidden = true; }, 5000);
  }

  /* Call a platform API as the signed-in user (session cookie + CSRF header).
     Resolves with the JSON body; rejects with the problem+json body (status added). */
  function api(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = document.body.dataset.csrf || "";
      headers["Idempotency-Key"] = (self.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    }
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
          if (!r.ok) { data = data || {}; data.status = r.status; throw data; }
          return data;
        });
      });
  }

  function problemText(p) {
    if (!p) return t("Request failed");
    return (p.title ? t(p.title) + ": " : "") + (p.detail || "");
  }

  /* Show a problem's field errors next to the fields: elements with data-field="<field>". */
  function showFieldErrors(container, problem) {
    container.querySelectorAll(".field-error").forEach(function (n) { n.remove(); });
    container.querySelectorAll("[aria-invalid]").forEach(function (n) { n.removeAttribute("aria-invalid"); });
    var shown = 0;
    ((problem && problem.errors) || []).forEach(function (err) {
      var target = container.querySelector('[data-field="' + CSS.escape(err.field || "") + '"]') || container.querySelector("[data-field-default]");
      if (!target) return;
      target.setAttribute("aria-invalid", "true");
      target.after(el("p", { "class": "field-error", role: "alert", "data-error-field": err.field, text: (err.field || "") + ": " + (err.message || "") }));
      shown += 1;
    });
    return shown;
  }

  /* A live stream: EventSource reconnects by itself and sends Last-Event-ID. */
  function stream(url, handlers, onState) {
    var source = new EventSource(url);
    Object.keys(handlers).forEach(function (name) {
      source.addEventListener(name, function (ev) { handlers[name](JSON.parse(ev.data), ev); });
    });
    source.onopen = function () { if (onState) onState(true); };
    source.onerror = function () { if (onState) onState(false); };
    return source;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    var s = Math.max(0, Math.round(seconds));
    var m = Math.floor(s / 60);
    if (m >= 60) return Math.floor(m / 60) + " h " + (m % 60) + " min";
    if (m >= 1) return m + " min";
    return s + " s";
  }

  function time(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    return d.toLocaleTimeString(document.body.dataset.lang === "zh_CN" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
  }

  /* Turn a form's fields into an object: numbers for type=number, booleans for checkboxes. */
  function formObject(form) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (f) {
      if (!f.name || f.name === "csrf_token" || f.disabled) return;
      if (f.type === "checkbox") { if (f.dataset.list) { out[f.name] = out[f.name] || []; if (f.checked) out[f.name].push(f.value); } else out[f.name] = f.checked; }
      else if (f.type === "number") { if (f.value !== "") out[f.name] = Number(f.value); }
      else if (f.value !== "") out[f.name] = f.value;
    });
    return out;
  }

  window.CF = { t: t, el: el, api: api, toast: toast, problemText: problemText, showFieldErrors: showFieldErrors, stream: stream, duration: duration, time: time, formObject: formObject };
})();
