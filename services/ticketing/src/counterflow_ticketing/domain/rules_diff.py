"""What changed between two rule set documents, in terms an approver reads: settings,
default, rules added / removed / changed (per field), branch overrides."""

from __future__ import annotations

from typing import Any


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values (compared whole)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _changes(old: Any, new: Any) -> dict[str, dict[str, Any]]:
    a, b = _flatten(old or {}), _flatten(new or {})
    return {k: {"old": a.get(k), "new": b.get(k)} for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def diff_documents(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """The differences from ``old`` (``None`` = nothing active) to ``new``.

    Returns ``{"settings": {field: {old, new}}, "default": {...}, "rules": {"added": [ids],
    "removed": [ids], "changed": {id: {field: {old, new}}}, "order": bool}, "overrides":
    {branches-key: {field: {old, new}}}, "identical": bool}``; the stamped ``version`` is ignored.
    """
    old = old or {"rules": []}
    old_rules = {r["id"]: r for r in old.get("rules", [])}
    new_rules = {r["id"]: r for r in new.get("rules", [])}
    changed = {rid: c for rid in sorted(set(old_rules) & set(new_rules)) if (c := _changes(old_rules[rid], new_rules[rid]))}
    common_old = [r for r in old_rules if r in new_rules]
    common_new = [r for r in new_rules if r in old_rules]
    overrides_old = {",".join(sorted(o["branches"])): o for o in old.get("overrides", [])}
    overrides_new = {",".join(sorted(o["branches"])): o for o in new.get("overrides", [])}
    overrides = {k: c for k in sorted(set(overrides_old) | set(overrides_new)) if (c := _changes(overrides_old.get(k), overrides_new.get(k)))}
    out = {
        "name": _changes({"name": old.get("name")}, {"name": new.get("name")}),
        "settings": _changes(old.get("settings"), new.get("settings")),
        "default": _changes(old.get("default"), new.get("default")),
        "rules": {
            "added": [r for r in new_rules if r not in old_rules],
            "removed": [r for r in old_rules if r not in new_rules],
            "changed": changed,
            "order_changed": common_old != common_new,
        },
        "overrides": overrides,
    }
    r = out["rules"]
    out["identical"] = not (out["name"] or out["settings"] or out["default"] or r["added"] or r["removed"] or r["changed"] or r["order_changed"] or overrides)
    return out
