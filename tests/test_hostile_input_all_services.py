"""Hostile input against every route of all four services, derived from their OpenAPI
documents (so a new route is covered the day it is added):

* every integer parameter or body field has both bounds, every string a length bound,
  pattern, enum or format, every list and map a size bound;
* a control character in any path parameter, any query parameter, or any string of any
  JSON body (including the unauthenticated ``/v1/auth/*``) is a 422 problem naming the
  field; so is a path id over 64 characters;
* a body over the route's limit is a 413 problem.

These refusals happen at the edge, before authentication or the database, so the apps
run here without infrastructure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from counterflow_mobile_gateway.main import create_app as gateway_app
from counterflow_scoring.main import create_app as scoring_app
from counterflow_selfservice.main import create_app as selfservice_app
from counterflow_shared.settings import ServiceSettings
from counterflow_ticketing.main import create_app as ticketing_app

APPS = {"ticketing": ticketing_app, "selfservice": selfservice_app, "mobile-gateway": gateway_app, "scoring": scoring_app}
_built: dict[str, Any] = {}


def app_of(service: str) -> Any:
    """The service's app (built once; its lifespan never runs here)."""
    if service not in _built:
        _built[service] = APPS[service]()
    return _built[service]


def operations(service: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """``(method, path, operation)`` of every operation in the service's OpenAPI document."""
    for path, ops in app_of(service).openapi()["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def _unbounded(schema: dict[str, Any], comps: dict[str, Any], where: str, seen: tuple[str, ...] = ()) -> Iterator[str]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            yield from _unbounded(comps[name], comps, where, (*seen, name))
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            yield from _unbounded(sub, comps, where, seen)
    kind = schema.get("type")
    if kind == "integer" and not ({"maximum", "exclusiveMaximum"} & set(schema) and {"minimum", "exclusiveMinimum"} & set(schema)):
        yield f"{where}: integer without both bounds"
    if kind == "string" and not {"maxLength", "enum", "pattern", "format", "const"} & set(schema):
        yield f"{where}: string without a length bound"
    if kind == "array":
        if "maxItems" not in schema:
            yield f"{where}: list without maxItems"
        yield from _unbounded(schema.get("items", {}), comps, f"{where}[]", seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _unbounded(sub, comps, f"{where}.{name}", seen)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        if "maxProperties" not in schema and extra:
            yield f"{where}: map without maxProperties"
        yield from _unbounded(extra, comps, f"{where}{{}}", seen)


# documents whose shape is checked by their own validator with its own bounds (rule sets:
# counterflow_shared.rules.schema; what-if records: recorded DecisionInputs)
FREE_FORM = {("ticketing", "POST", "/v1/rules/sets"), ("ticketing", "POST", "/v1/rules/sets/{version}/what-if")}


@pytest.mark.parametrize("service", APPS)
def test_every_parameter_and_body_field_is_bounded_in_the_openapi_document(service):
    comps = app_of(service).openapi().get("components", {}).get("schemas", {})
    found = []
    for method, path, op in operations(service):
        for p in op.get("parameters", []):
            if p["in"] in ("path", "query"):
                found += [f"{method} {path} {x}" for x in _unbounded(p["schema"], comps, f"{p['in']}.{p['name']}")]
        if (service, method, path) in FREE_FORM:
            continue
        for content in op.get("requestBody", {}).get("content", {}).values():
            found += [f"{method} {path} {x}" for x in _unbounded(content.get("schema", {}), comps, "body")]
    assert found == []


def _fill(path: str, **given: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: given.get(m.group(1), "x1"), path)


async def _send(service: str, method: str, url: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_of(service)), base_url="http://t") as client:
        return await client.request(method, url, **kw)


def _problem_field(r: httpx.Response) -> str:
    assert r.headers["content-type"] == "application/problem+json", (r.status_code, r.text)
    return r.json()["errors"][0]["field"]


def _cases(kind: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    cases = []
    for service in APPS:
        for method, path, op in operations(service):
            cases += [(service, method, path, op)] if kind == "all" else []
    return cases


ALL = _cases("all")
IDS = [f"{s}:{m}:{p}" for s, m, p, _ in ALL]


@pytest.mark.parametrize(("service", "method", "path", "op"), ALL, ids=IDS)
async def test_control_characters_and_long_ids_are_422_naming_the_field_on_every_route(service, method, path, op):
    for p in op.get("parameters", []):
        name = p["name"]
        if p["in"] == "path":
            for bad in ("a\x00b", "a\x1fb", "x" * 65):
                r = await _send(service, method, _fill(path, **{name: quote(bad, safe="")}))
                assert (r.status_code, _problem_field(r)) == (422, f"path.{name}"), (bad, r.text)
        elif p["in"] == "query":
            r = await _send(service, method, _fill(path), params={name: "a\x00b"})
            assert (r.status_code, _problem_field(r)) == (422, f"query.{name}"), r.text
    for content_type in op.get("requestBody", {}).get("content", {}):
        if content_type == "application/json":
            r = await _send(service, method, _fill(path), json={"field": "a\u0000b"})
            assert (r.status_code, _problem_field(r)) == (422, "body.field"), r.text
        elif content_type == "application/x-www-form-urlencoded":
            r = await _send(service, method, _fill(path), data={"username": "a\x00b"})
            assert (r.status_code, _problem_field(r)) == (422, "body.username"), r.text


@pytest.mark.parametrize(("service", "method", "path", "op"), [c for c in ALL if "requestBody" in c[3]], ids=[i for i, c in zip(IDS, ALL) if "requestBody" in c[3]])
async def test_a_body_over_the_route_limit_is_413_on_every_route_with_a_body(service, method, path, op):
    limit = op.get("x-max-body-bytes", ServiceSettings().http_max_body_bytes)
    body = json.dumps({"field": "x" * limit}).encode()
    r = await _send(service, method, _fill(path), content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
