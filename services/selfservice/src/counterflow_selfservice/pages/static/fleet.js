/* Fleet page: renders BranchFleet JSON (embedded, then /v1/branches/{id}/devices/stream). */
(function () {
  "use strict";
  var t = CF.t, el = CF.el;
  var branch = document.getElementById("fleet").dataset.branch;
  function pill(v) { return el("span", { "class": "pill " + v, text: t(v) }); }
  function money(v, cur) { return v === null || v === undefined ? "–" : Number(v).toLocaleString() + (cur ? " " + cur : ""); }
  function fill(id, rows, empty, cols) {
    var body = document.getElementById(id);
    body.replaceChildren.apply(body, rows.length ? rows : [el("tr", {}, [el("td", { colspan: cols, "class": "muted", text: t(empty) })])]);
  }
  function render(s) {
    fill("devices", s.devices.map(function (d) {
      var units = el("div", { "class": "small" }, d.cash_units.map(function (u) { return el("div", {}, [u.unit_id + ": " + u.count + " × " + money(u.denomination, u.currency) + " ", pill(u.status)]); }));
      var cash = Object.keys(d.cash_available || {}).map(function (k) { return money(d.cash_available[k], k); }).join(", ");
      var faults = d.faults.length ? el("div", { "class": "small" }, d.faults.map(function (f) { return el("div", { "class": "error", text: f }); })) : el("span", { "class": "muted", text: t("none") });
      return el("tr", { "data-device": d.device_id }, [el("td", {}, [el("strong", { text: d.device_id }), el("div", { "class": "small muted", text: d.kind })]), el("td", { text: d.zone }), el("td", {}, [pill(d.status)]), el("td", {}, [faults]), el("td", {}, [units]), el("td", { "class": "num", text: cash || "–" }), el("td", { text: d.forecast_cash_out_at ? new Date(d.forecast_cash_out_at).toLocaleString() : "–" }), el("td", { text: CF.time(d.last_heartbeat_at) })]);
    }), "No devices in this branch", 8);
    fill("transactions", s.transactions.map(function (x) {
      return el("tr", {}, [el("td", { text: CF.time(x.occurred_at) }), el("td", { text: x.device_id }), el("td", { text: x.kind }), el("td", { text: x.service_type }), el("td", { "class": "num", text: money(x.amount, x.currency) }), el("td", {}, [x.succeeded ? pill("succeeded") : el("span", { "class": "pill bad", text: t("refused") + (x.refusal ? ": " + x.refusal : "") })])]);
    }), "No transactions yet", 6);
  }
  render(JSON.parse(document.getElementById("fleet-state").textContent));
  var live = document.getElementById("live");
  CF.stream("/v1/branches/" + encodeURIComponent(branch) + "/devices/stream", { fleet: render }, function (on) { live.className = "live " + (on ? "on" : "off"); live.textContent = on ? t("Connected") : t("Reconnecting"); });
})();
