"""The Ingress separates kiosk, device, app and staff traffic (issue 21): on the rendered
manifests of every overlay, each route of each service's OpenAPI (docs/api/) is matched the
way the Ingress controller matches it (Kubernetes ``pathType: Prefix``: whole path
elements), and the staff and rules API is reachable on the staff hosts only."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
#: which OpenAPI tags a kind of client may reach, per service (everything else is staff)
KIOSK_HOST, DEVICE_HOST, APP_HOST = "kiosk", "devices", "mobile"


def _routes(service: str) -> list[tuple[str, str, list[str]]]:
    spec = json.loads((REPO / "docs" / "api" / f"{service}.openapi.json").read_text())
    return [(method.upper(), path, op.get("tags", [])) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _prefix_match(prefix: str, path: str) -> bool:
    """Kubernetes Ingress ``Prefix`` matching: element-wise on ``/``-split paths."""
    want = [p for p in prefix.split("/") if p]
    have = [p for p in path.split("/") if p]
    return have[: len(want)] == want


def _backend(built_overlay, host_kind: str, path: str) -> str | None:
    """The Service a request for ``path`` on the ``host_kind`` host reaches (longest
    matching prefix wins), or None (the controller's 404)."""
    best: tuple[int, str] | None = None
    for ing in built_overlay.of("Ingress"):
        for rule in ing["spec"]["rules"]:
            if rule["host"].split(".")[0] != host_kind:
                continue
            for p in rule["http"]["paths"]:
                assert p["pathType"] == "Prefix"
                if _prefix_match(p["path"], path) and (best is None or len(p["path"]) > best[0]):
                    best = (len(p["path"]), p["backend"]["service"]["name"])
    return best[1] if best else None


def _concrete(path: str) -> str:
    return path.replace("{", "x").replace("}", "")


def test_the_kiosk_host_reaches_only_the_kiosk_routes_of_ticketing(built, overlay) -> None:
    b = built[overlay]
    reached = {(m, p) for m, p, _ in _routes("ticketing") if _backend(b, KIOSK_HOST, _concrete(p)) == "ticketing"}
    kiosk = {(m, p) for m, p, tags in _routes("ticketing") if "kiosk" in tags}
    assert kiosk and reached == kiosk
    for service in ("selfservice", "mobile-gateway", "scoring"):
        assert not any(_backend(b, KIOSK_HOST, _concrete(p)) for _, p, _ in _routes(service))
    # the staff pages and the rules API are not there either
    for path in ("/", "/rules", "/v1/rules/sets", "/v1/branches", "/docs", "/openapi.json"):
        assert _backend(b, KIOSK_HOST, path) is None, path


def test_the_device_host_reaches_only_the_device_api_of_selfservice(built, overlay) -> None:
    b = built[overlay]
    reached = {(m, p) for m, p, _ in _routes("selfservice") if _backend(b, DEVICE_HOST, _concrete(p)) == "selfservice"}
    devices = {(m, p) for m, p, tags in _routes("selfservice") if "devices" in tags}
    assert devices and reached == devices
    assert all(p.startswith("/v1/device/") for _, p in reached)
    assert not any(_backend(b, DEVICE_HOST, _concrete(p)) for _, p, _ in _routes("ticketing"))


def test_the_app_host_reaches_the_gateway_and_nothing_of_staff(built, overlay) -> None:
    b = built[overlay]
    for _, p, _ in _routes("mobile-gateway"):
        if p.startswith("/v1/"):
            assert _backend(b, APP_HOST, _concrete(p)) == "mobile-gateway", p
    for service in ("ticketing", "selfservice", "scoring"):
        for _, p, _ in _routes(service):
            assert _backend(b, APP_HOST, _concrete(p)) in (None, "mobile-gateway"), p
    assert _backend(b, APP_HOST, "/docs") is None and _backend(b, APP_HOST, "/openapi.json") is None


def test_the_staff_and_rules_api_is_reachable_on_the_staff_hosts_only(built, overlay) -> None:
    b = built[overlay]
    staff_routes = [(s, p) for s in ("ticketing", "selfservice") for _, p, tags in _routes(s) if not {"kiosk", "devices", "health"} & set(tags)]
    assert any("/v1/rules/" in p for _, p in staff_routes)
    for service, p in staff_routes:
        assert _backend(b, "staff" if service == "ticketing" else "fleet", _concrete(p)) == service, p
        for host in (KIOSK_HOST, DEVICE_HOST):
            assert _backend(b, host, _concrete(p)) is None, (host, p)
    # scoring is internal: no host reaches it
    assert not any(_backend(b, h, _concrete(p)) == "scoring" for h in ("kiosk", "devices", "mobile", "staff", "fleet") for _, p, _ in _routes("scoring"))


def test_the_docs_endpoints_are_off_in_the_prod_overlay_and_on_elsewhere(built, overlay) -> None:
    platform = next(cm for cm in built[overlay].of("ConfigMap") if cm["metadata"]["name"].startswith("counterflow-platform"))
    assert platform["data"]["CF_DOCS_ENABLED"] == ("false" if overlay == "prod" else "true")
