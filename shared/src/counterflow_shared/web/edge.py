"""The edge of every service: what no request may carry, refused before any route runs.

:class:`EdgeGuard` is a pure ASGI middleware (one per app, installed by the shared app
factory) that answers, as RFC 9457 problem+json:

* **413** ``body-too-large`` when the body is longer than the route allows: the
  operation's ``x-max-body-bytes`` in the app's OpenAPI document (set with
  ``openapi_extra=body_limit(n)``), else the service default
  (:data:`DEFAULT_MAX_BODY_BYTES`). Routes are matched against the published OpenAPI
  paths, built once. ``Content-Length`` is checked before
  reading; a chunked body is read only up to the limit.
* **422** ``validation-error`` naming the field (``path.branch_id``, ``query.date``,
  ``body.skills.0``) when

  - a path parameter, a query parameter (name or value) or a form field carries a
    control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F);
  - a JSON body string carries a control character other than TAB, LF and CR (free
    text may hold line breaks; NUL and the rest never reach PostgreSQL, which refuses
    NUL in ``text`` and would answer 500);
  - a path parameter is longer than :data:`MAX_PATH_PARAM_CHARS` (the platform's id
    columns are ``varchar(64)``).

Cost on the hot path: one route match and one regular-expression scan of the body
bytes; the JSON is parsed a second time only when the scan finds an escaped control
character, to name the field.

The body is buffered (it is at most the limit) and handed to the app unchanged.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl


#: Default request body limit (bytes) for routes that declare none: the largest JSON
#: body of the platform's ordinary routes is a few kilobytes.
DEFAULT_MAX_BODY_BYTES = 64 * 1024
#: Path parameters are ids, codes or numbers; the widest id column is ``varchar(64)``.
MAX_PATH_PARAM_CHARS = 64

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# a JSON escape of a C0 control (\u0000-\u001f, \b, \f; \t \n \r are allowed in bodies),
# of DEL or a C1 control (\u007f-\u009f), or such a character unescaped (UTF-8 C1 is C2 80-9F)
_BODY_SUSPECT = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u00[89][0-9a-fA-F]|\\[bf]|\x7f|\xc2[\x80-\x9f]|[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BODY_ALLOWED_CONTROLS = frozenset("\t\n\r")


def body_limit(max_bytes: int) -> dict[str, Any]:
    """``openapi_extra`` of a route whose bodies may be up to ``max_bytes`` long, e.g.
    ``@router.put(..., openapi_extra=body_limit(512 * 1024))``; the limit is documented in
    the OpenAPI document as ``x-max-body-bytes``."""
    return {"x-max-body-bytes": max_bytes}


def has_control(text: str, allowed: frozenset[str] = frozenset()) -> bool:
    """Whether ``text`` holds a control character (Unicode Cc) outside ``allowed``."""
    return any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


def _find_control(value: Any, loc: str) -> str | None:
    """The location (``body.a.0.b``) of the first string with a forbidden control character."""
    if isinstance(value, str):
        return loc if has_control(value, _BODY_ALLOWED_CONTROLS) else None
    if isinstance(value, dict):
        for k, v in value.items():
            if has_control(k, _BODY_ALLOWED_CONTROLS):
                return f"{loc}.{k.encode('unicode_escape').decode()}"
            if (found := _find_control(v, f"{loc}.{k}")) is not None:
                return found
    if isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _find_control(v, f"{loc}.{i}")) is not None:
                return found
    return None


def _problem(status: int, slug: str, title: str, detail: str, errors: list[dict[str, str]] | None = None, instance: str = "") -> bytes:
    doc: dict[str, Any] = {"type": "https://counterflow.dev/problems/" + slug, "title": title, "status": status, "detail": detail, "instance": instance}
    if errors is not None:
        doc["errors"] = errors
    return json.dumps(doc).encode()


class EdgeGuard:
    """ASGI middleware refusing oversized bodies (413) and control characters or
    over-long path parameters (422) before the app sees the request (see the module
    docstring). ``default_max_body_bytes`` applies to routes without their own limit."""

    def __init__(self, app: ASGIApp, *, default_max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.default_max_body_bytes = default_max_body_bytes
        self._table: list[tuple[re.Pattern[str], dict[str, int | None]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared_limit, path_params = self._route(scope)
        path = scope.get("path", "")
        if (bad := self._bad_path_or_query(scope, path_params)) is not None:
            await self._refuse(send, 422, bad, path)
            return
        limit = declared_limit if declared_limit is not None else self.default_max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._too_large(send, limit, path)
            return
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS") and not declared:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(send, limit, path)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if (field := _bad_body(scope, body)) is not None:
            await self._refuse(send, 422, (field, "control characters are not allowed"), path)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _route(self, scope: Scope) -> tuple[int | None, dict[str, str]]:
        """The body limit declared by the operation ``scope`` addresses (``None``: none
        declared) and its path parameters, matched against the app's OpenAPI document
        (the routes as published, prefixes included; built once)."""
        if self._table is None:
            app = scope.get("app")
            self._table = _route_table(app.openapi() if app is not None and hasattr(app, "openapi") else {})
        path, method = scope.get("path", ""), scope.get("method", "GET")
        partial: tuple[int | None, dict[str, str]] | None = None
        for regex, methods in self._table:
            if (m := regex.match(path)) is not None:
                if method in methods:
                    return methods[method], m.groupdict()
                partial = partial or (None, m.groupdict())
        return partial or (None, {})

    @staticmethod
    def _bad_path_or_query(scope: Scope, path_params: dict[str, Any]) -> tuple[str, str] | None:
        for name, value in path_params.items():
            text = str(value)
            if has_control(text):
                return f"path.{name}", "control characters are not allowed"
            if len(text) > MAX_PATH_PARAM_CHARS:
                return f"path.{name}", f"at most {MAX_PATH_PARAM_CHARS} characters"
        if not path_params and has_control(scope.get("path", "")):
            return "path", "control characters are not allowed"
        raw = scope.get("query_string", b"")
        if raw:
            try:
                pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
            except (UnicodeDecodeError, ValueError):
                return "query", "query string is not valid UTF-8"
            for key, value in pairs:
                if has_control(key) or has_control(value):
                    return f"query.{key.encode('unicode_escape').decode()}", "control characters are not allowed"
        return None

    async def _refuse(self, send: Send, status: int, bad: tuple[str, str], instance: str) -> None:
        field, message = bad
        body = _problem(status, "validation-error", "Request is invalid", f"{field}: {message}", [{"field": field, "message": message}], instance)
        await _send(send, status, body)

    async def _too_large(self, send: Send, limit: int, instance: str) -> None:
        body = _problem(413, "body-too-large", "Request body too large", f"this route accepts bodies of at most {limit} bytes", instance=instance)
        await _send(send, 413, body, close=True)


def _route_table(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], dict[str, int | None]]]:
    """``(path regex, {method: declared body limit or None})`` of every path of an OpenAPI document;
    a parameter matches one path segment, as Starlette's ``str`` convertor does."""
    table = []
    for template, operations in spec.get("paths", {}).items():
        regex = re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$")
        table.append((regex, {m.upper(): op.get("x-max-body-bytes") if isinstance(op, dict) else None for m, op in operations.items()}))
    return table


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _content_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower()
    return ""


def _bad_body(scope: Scope, body: bytes) -> str | None:
    """The field of a body string with a forbidden control character, else ``None``."""
    if not body:
        return None
    kind = _content_type(scope)
    if kind == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError):
            return None  # the route's own parsing reports it
        for key, value in pairs:
            # as in JSON bodies, a value may hold TAB, LF and CR (a textarea, a pasted token)
            if has_control(key) or has_control(value, _BODY_ALLOWED_CONTROLS):
                return f"body.{key.encode('unicode_escape').decode()}"
        return None
    if not _BODY_SUSPECT.search(body):
        return None
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # not JSON: the route's own parsing reports it
    return _find_control(doc, "body")


async def _send(send: Send, status: int, body: bytes, *, close: bool = False) -> None:
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def document_edge(app: Any) -> None:
    """Make ``app``'s OpenAPI document say what :class:`EdgeGuard` enforces: every string
    path parameter has ``maxLength`` :data:`MAX_PATH_PARAM_CHARS` (unless it declares a
    shorter one), so clients and fuzzers know the bound."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                    schema = parameter.get("schema", {})
                    if parameter.get("in") == "path" and schema.get("type") == "string":
                        schema["maxLength"] = min(schema.get("maxLength", MAX_PATH_PARAM_CHARS), MAX_PATH_PARAM_CHARS)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi
