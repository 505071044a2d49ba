/* Teller workstation: the counter's session and ticket, the queue it can serve (live
   from /v1/branches/{id}/queue/stream), and the teller API (/v1/counters/{id}/...). */
(function () {
  "use strict";
  var t = CF.t, el = CF.el;
  var root = document.getElementById("ws");
  var counterId = root.dataset.counter, branch = root.dataset.branch, skills = root.dataset.skills.split(",");
  var base = "/v1/counters/" + encodeURIComponent(counterId);
  var view = { overview: JSON.parse(document.getElementById("queue-state").textContent), counters: JSON.parse(document.getElementById("counters-state").textContent).counters };
  var current = null;

  var reason = CF.priorityReason;

  function render(v) {
    view = v;
    var names = {};
    v.overview.queues.forEach(function (q) { names[q.service_type] = t(q.name); });
    var me = v.counters.filter(function (c) { return c.counter_id === counterId; })[0];
    var state = me ? me.state : "closed";
    var pill = document.getElementById("session-state");
    pill.className = "pill " + state; pill.textContent = t(state);
    document.getElementById("session-teller").textContent = me && me.teller_id ? me.teller_id : "";
    current = me ? me.ticket : null;
    document.getElementById("current-empty").hidden = !!current;
    document.getElementById("current-body").hidden = !current;
    if (current) {
      document.getElementById("cur-number").textContent = current.number;
      var st = document.getElementById("cur-status"); st.className = "pill " + current.status; st.textContent = t(current.status);
      document.getElementById("cur-service").textContent = names[current.service_type] || current.service_type;
      document.getElementById("cur-customer").textContent = current.customer_id || t("walk-in");
      document.getElementById("cur-tier").textContent = current.tier || "–";
      document.getElementById("cur-priority").textContent = current.priority;
      document.getElementById("cur-reason").textContent = reason(current.priority_reason);
      document.getElementById("cur-calls").textContent = current.call_count;
    }
    document.querySelector('[data-session="open"]').disabled = state !== "closed";
    document.querySelector('[data-session="pause"]').disabled = state !== "open" && state !== "serving";
    document.querySelector('[data-session="resume"]').disabled = state !== "paused";
    document.querySelector('[data-session="close"]').disabled = state === "closed";
    document.getElementById("call-next").disabled = state !== "open";
    var mine = v.overview.waiting.filter(function (w) { return skills.indexOf(w.skill) >= 0; });
    var body = document.getElementById("ws-waiting");
    body.replaceChildren.apply(body, mine.length ? mine.map(function (w) {
      var call = el("button", { type: "button", "data-call": w.ticket_id, text: t("Call"), disabled: state !== "open" && state !== "serving" });
      return el("tr", { "data-number": w.number }, [el("td", {}, [el("strong", { text: w.number })]), el("td", { text: names[w.service_type] || w.service_type }), el("td", { "class": "num", text: w.position }), el("td", { "class": "num", text: CF.duration(w.waited_s) }), el("td", { text: w.tier || "–" }), el("td", { "class": "small", text: w.priority + " · " + reason(w.priority_reason) }), el("td", {}, [call])]);
    }) : [el("tr", {}, [el("td", { colspan: 7, "class": "muted", text: t("No tickets waiting") })])]);
  }

  function done(r) {
    if (r && r.ticket === null) CF.toast(t("No waiting ticket this counter can serve"));
    else CF.toast(t("Done") + (r && r.ticket && r.ticket.number ? ": " + r.ticket.number : ""));
    refresh();
  }
  function failed(p, container) { if (!(container && CF.showFieldErrors(container, p))) CF.toast(CF.problemText(p), "bad"); }
  function refresh() {
    Promise.all([CF.api("GET", "/v1/branches/" + encodeURIComponent(branch) + "/queue"), CF.api("GET", "/v1/branches/" + encodeURIComponent(branch) + "/counters")])
      .then(function (r) { render({ overview: r[0], counters: r[1].counters }); });
  }

  document.querySelectorAll("[data-session]").forEach(function (b) {
    b.addEventListener("click", function () { CF.api("POST", base + "/session/" + b.dataset.session).then(done, failed); });
  });
  document.getElementById("call-next").addEventListener("click", function () { CF.api("POST", base + "/call-next").then(done, failed); });
  document.querySelectorAll("[data-ticket-act]").forEach(function (b) {
    b.addEventListener("click", function () { if (current) CF.api("POST", base + "/tickets/" + encodeURIComponent(current.ticket_id) + "/" + b.dataset.ticketAct).then(done, failed); });
  });
  document.getElementById("ws-waiting").addEventListener("click", function (ev) {
    var b = ev.target.closest("button[data-call]");
    if (b) CF.api("POST", base + "/tickets/" + encodeURIComponent(b.dataset.call) + "/call").then(done, failed);
  });
  ["finish", "transfer"].forEach(function (id) {
    var f = document.getElementById(id);
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!current) return;
      CF.showFieldErrors(f, null);
      CF.api("POST", base + "/tickets/" + encodeURIComponent(current.ticket_id) + "/" + id, CF.formObject(f)).then(done, function (p) { failed(p, f); });
    });
  });

  render(view);
  var live = document.getElementById("live");
  CF.stream("/v1/branches/" + encodeURIComponent(branch) + "/queue/stream", { queue: render }, function (on) { live.className = "live " + (on ? "on" : "off"); live.textContent = on ? t("Connected") : t("Reconnecting"); });
})();
