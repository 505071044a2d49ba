/* Rules pages: propose (YAML) with schema errors shown by field, approve / reject
   (maker-checker is enforced by the API; the page disables the buttons for the maker),
   activate, roll back, diff and what-if, all through /v1/rules. */
(function () {
  "use strict";
  var t = CF.t, el = CF.el;
  function failed(p, container) { if (!(container && CF.showFieldErrors(container, p))) CF.toast(CF.problemText(p), "bad"); }
  function on(id, handler) { var f = document.getElementById(id); if (f) f.addEventListener("submit", function (ev) { ev.preventDefault(); handler(f, ev); }); return f; }

  var file = document.getElementById("yaml-file");
  if (file) file.addEventListener("change", function () {
    if (file.files[0]) file.files[0].text().then(function (text) { document.getElementById("yaml").value = text; });
  });
  on("propose", function (f) {
    var o = CF.formObject(f);
    CF.showFieldErrors(f, null);
    CF.api("POST", "/v1/rules/sets", { yaml: o.yaml || "", comment: o.comment || null }).then(function (r) {
      window.location.href = "/rules/" + r.version;
    }, function (p) { failed(p, f); });
  });
  on("rollback", function (f) {
    var o = CF.formObject(f);
    CF.api("POST", "/v1/rules/rollback", o.to_version ? { to_version: o.to_version } : {}).then(function () { window.location.reload(); }, function (p) { failed(p, f); });
  });

  var root = document.getElementById("version");
  if (!root) return;
  var version = root.dataset.version, base = "/v1/rules/sets/" + encodeURIComponent(version);
  on("decide", function (f, ev) {
    var action = ev.submitter ? ev.submitter.value : "approve", o = CF.formObject(f);
    CF.api("POST", base + "/" + action, { comment: o.comment || null, activate: !!o.activate }).then(function () { window.location.reload(); }, function (p) { failed(p, f); });
  });
  on("activate", function () { CF.api("POST", base + "/activate").then(function () { window.location.reload(); }, function (p) { failed(p); }); });

  function kv(obj) {
    return el("table", {}, [el("tbody", {}, Object.keys(obj || {}).map(function (k) {
      var v = obj[k];
      return el("tr", {}, [el("th", { text: k }), el("td", { text: typeof v === "object" && v !== null ? JSON.stringify(v) : String(v) })]);
    }))]);
  }
  on("diff", function (f) {
    var o = CF.formObject(f), out = document.getElementById("diff-result");
    CF.api("GET", base + "/diff" + (o.against ? "?against=" + encodeURIComponent(o.against) : "")).then(function (r) {
      var d = r.changes;
      out.replaceChildren(kv({ against: r.against === null ? "–" : "v" + r.against, identical: d.identical, added: (d.rules.added || []).join(", ") || "–", removed: (d.rules.removed || []).join(", ") || "–", order_changed: d.rules.order_changed }),
        el("pre", { "class": "diff", text: JSON.stringify({ name: d.name, settings: d.settings, "default": d["default"], changed: d.rules.changed, overrides: d.overrides }, null, 2) }));
    }, function (p) { failed(p); });
  });
  on("whatif", function (f) {
    var o = CF.formObject(f), out = document.getElementById("whatif-result");
    var until = new Date(), since = new Date(until.getTime() - (o.hours || 168) * 3600 * 1000);
    var body = { since: since.toISOString(), until: until.toISOString(), counters: o.counters || 3 };
    if (o.against) body.against = Number(o.against);
    CF.showFieldErrors(f, null);
    CF.api("POST", base + "/what-if", body).then(function (r) {
      var keys = ["decisions", "offers", "expected_accepted", "expected_counter_customers", "expected_wait_mean_s"];
      var rows = keys.map(function (k) { return el("tr", {}, [el("th", { text: k }), el("td", { "class": "num", text: String(r.active[k]) }), el("td", { "class": "num", text: String(r.proposed[k]) }), el("td", { "class": "num", text: r.delta[k] === undefined ? "" : String(r.delta[k]) })]); });
      out.replaceChildren(
        el("p", { text: r.window.records + " · " + (r.window.from || "–") + " → " + (r.window.to || "–") }),
        el("table", {}, [el("thead", {}, [el("tr", {}, [el("th", {}), el("th", { "class": "num", text: "v" + (r.active.version || "–") }), el("th", { "class": "num", text: "v" + r.proposed.version }), el("th", { "class": "num", text: "Δ" })])]), el("tbody", {}, rows)]),
        el("p", { text: "offers_per_rule: " + JSON.stringify(r.proposed.offers_per_rule) }));
    }, function (p) { failed(p, f); });
  });
})();
