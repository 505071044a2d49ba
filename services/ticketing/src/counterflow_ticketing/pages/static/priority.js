/* Why a waiting ticket has its priority, as one line of text (the queue overview's
   priority_reason: tier points, appointment, the rule that boosted it, a raise by hand).
   Shared by the lobby console and the teller workstation. */
(function () {
  "use strict";
  CF.priorityReason = function (r) {
    var t = CF.t, parts = [];
    if (r.tier_points) parts.push(t("tier") + " " + r.tier + " +" + r.tier_points);
    if (r.appointment) parts.push(t("appointment"));
    if (r.rule && r.rule.rule_set_version > 0) parts.push(t("rule") + " " + r.rule.rule_id + " (v" + r.rule.rule_set_version + ")" + (r.rule.description ? ": " + r.rule.description : ""));
    if (r.raised) parts.push(t("raised by") + " " + r.raised.raised_by + ": " + r.raised.reason);
    return parts.length ? parts.join("; ") : t("walk-in, no priority");
  };
})();
