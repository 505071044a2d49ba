/* Lobby console: renders the LobbyState JSON (first embedded, then from the SSE stream
   /v1/branches/{id}/lobby/stream) and acts through the lobby API. */
(function () {
  "use strict";
  var t = CF.t, el = CF.el;
  var form = document.getElementById("concierge");
  var branch = form.dataset.branch;
  var base = "/v1/branches/" + encodeURIComponent(branch);
  var state = JSON.parse(document.getElementById("lobby-state").textContent);

  function pill(v) { return el("span", { "class": "pill " + v, text: t(v) }); }
  function td(v, cls) { return el("td", cls ? { "class": cls } : {}, [v]); }
  function fill(id, rows, empty, cols) {
    var body = document.getElementById(id);
    body.replaceChildren.apply(body, rows.length ? rows : [el("tr", {}, [el("td", { colspan: cols, "class": "muted", text: t(empty) })])]);
  }

  var reason = CF.priorityReason;

  function render(s) {
    state = s;
    var o = s.overview, today = s.today, names = {};
    o.queues.forEach(function (q) { names[q.service_type] = t(q.name); });
    document.getElementById("k-waiting").textContent = o.waiting.length;
    document.getElementById("k-sla").textContent = today.sla_share === null ? "–" : Math.round(today.sla_share * 100) + "%";
    document.getElementById("k-served").textContent = today.served;
    document.getElementById("k-walkouts").textContent = today.walk_outs;
    document.getElementById("k-offers").textContent = today.offers_accepted + " / " + today.offers;
    fill("queues", o.queues.map(function (q) {
      return el("tr", {}, [td(t(q.name)), td(q.waiting, "num"), td(CF.duration(q.estimated_wait_s), "num"), td(CF.duration(q.longest_wait_s), "num"), td(q.open_counters, "num")]);
    }), "No tickets waiting", 5);
    fill("waiting", o.waiting.map(function (w) {
      var actions = el("div", { "class": "actions" }, [
        el("button", { type: "button", "data-act": "divert", "data-ticket": w.ticket_id, "data-number": w.number, text: t("Divert") }),
        el("button", { type: "button", "data-act": "transfer", "data-ticket": w.ticket_id, "data-number": w.number, text: t("Transfer") }),
        el("button", { type: "button", "data-act": "priority", "data-ticket": w.ticket_id, "data-number": w.number, "data-priority": w.priority, text: t("Raise priority") }),
        el("button", { type: "button", "class": "danger", "data-act": "cancel", "data-ticket": w.ticket_id, "data-number": w.number, text: t("Cancel") })
      ]);
      var prio = el("div", {}, [el("strong", { text: String(w.priority) }), w.urgent ? " " : "", w.urgent ? el("span", { "class": "pill bad", text: t("urgent") }) : "", el("div", { "class": "small muted", text: reason(w.priority_reason) })]);
      return el("tr", { "data-number": w.number }, [el("td", {}, [el("strong", { text: w.number })]), td(names[w.service_type] || w.service_type), td(w.position, "num"), td(CF.duration(w.waited_s), "num"), td(CF.duration(w.estimated_wait_s), "num"), el("td", {}, [prio]), el("td", {}, [actions])]);
    }), "No tickets waiting", 7);
    fill("counters", s.counters.map(function (c) {
      return el("tr", { "data-counter": c.counter_id }, [td(c.name), el("td", {}, [pill(c.state)]), td(c.ticket ? c.ticket.number + " · " + t(c.ticket.status) : "–"), td(c.teller_id || "–")]);
    }), "None", 4);
    fill("devices", s.devices.map(function (d) {
      var cash = Object.keys(d.cash_available || {}).map(function (k) { return Number(d.cash_available[k]).toLocaleString() + " " + k; }).join(", ");
      return el("tr", {}, [td(d.device_id + " (" + d.kind + ")"), el("td", {}, [pill(d.status)]), td(cash || "–", "num"), td(d.forecast_cash_out_at ? CF.time(d.forecast_cash_out_at) : "–")]);
    }), "No devices known", 4);
    fill("offers", s.offers.map(function (f) {
      return el("tr", {}, [td(CF.time(f.created_at)), td(names[f.service_type] || f.service_type), td(f.channel + (f.device_id ? " " + f.device_id : "")), td(f.rule_id), el("td", {}, [pill(f.status)])]);
    }), "No offers today", 5);
  }

  function failed(p, container) {
    if (!(container && CF.showFieldErrors(container, p))) CF.toast(CF.problemText(p), "bad");
  }

  /* ticket actions: one dialog for transfer / raise priority, direct calls otherwise */
  var dialog = document.getElementById("act"), actForm = document.getElementById("act-form"), pending = null, opener = null;
  document.getElementById("waiting").addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-act]");
    if (!b) return;
    var id = b.dataset.ticket, act = b.dataset.act, url = base + "/tickets/" + encodeURIComponent(id) + "/" + act;
    if (act === "divert") { CF.api("POST", url).then(function () { CF.toast(t("Done") + ": " + b.dataset.number); }, function (p) { failed(p); }); return; }
    if (act === "cancel") { if (window.confirm(t("Cancel this ticket?") + " " + b.dataset.number)) CF.api("POST", url).then(function () { CF.toast(t("Done") + ": " + b.dataset.number); }, function (p) { failed(p); }); return; }
    pending = { act: act, url: url, number: b.dataset.number };
    opener = b;
    document.getElementById("act-title").textContent = (act === "transfer" ? t("Transfer") : t("Raise priority")) + " · " + b.dataset.number;
    document.getElementById("act-transfer").hidden = act !== "transfer";
    document.getElementById("act-priority").hidden = act !== "priority";
    if (act === "priority") actForm.elements.priority.value = Math.min(9, Number(b.dataset.priority) + 1);
    CF.showFieldErrors(actForm, null);
    dialog.showModal();
  });
  actForm.addEventListener("submit", function (ev) {
    if (ev.submitter && ev.submitter.value === "cancel") return;
    ev.preventDefault();
    var o = CF.formObject(actForm), body = pending.act === "transfer" ? { service_type: o.service_type, position: o.position } : { priority: o.priority, reason: o.reason || "" };
    CF.api("POST", pending.url, body).then(function () { dialog.close(); CF.toast(t("Done") + ": " + pending.number); if (opener) opener.focus(); }, function (p) { failed(p, actForm); });
  });

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = CF.formObject(form), out = document.getElementById("concierge-result");
    CF.showFieldErrors(form, null);
    CF.api("POST", base + "/service-requests", body).then(function (r) {
      if (r.kind === "ticket") { out.replaceChildren(el("p", {}, [t("Ticket issued") + ": ", el("strong", { text: r.ticket.number })])); return; }
      var offer = r.offer;
      var accept = el("button", { type: "button", "class": "primary", text: t("Accept offer") });
      var decline = el("button", { type: "button", text: t("Decline offer") });
      accept.addEventListener("click", function () { CF.api("POST", base + "/offers/" + encodeURIComponent(offer.diversion_id) + "/accept").then(function () { out.replaceChildren(el("p", { text: t("Done") })); }, function (p) { failed(p); }); });
      decline.addEventListener("click", function () { CF.api("POST", base + "/offers/" + encodeURIComponent(offer.diversion_id) + "/decline").then(function (d) { out.replaceChildren(el("p", {}, [t("Ticket issued") + ": ", el("strong", { text: d.ticket.number })])); }, function (p) { failed(p); }); });
      out.replaceChildren(el("p", {}, [t("Offer made") + ": " + offer.channel + (offer.device_id ? " " + offer.device_id : "") + " — " + (offer.explanation || "")]), el("div", { "class": "actions" }, [accept, decline]));
    }, function (p) { failed(p, form); });
  });

  render(state);
  var live = document.getElementById("live");
  CF.stream(base + "/lobby/stream", { lobby: render }, function (on) { live.className = "live " + (on ? "on" : "off"); live.textContent = on ? t("Connected") : t("Reconnecting"); });
})();
