"""The committed HTTP contracts (``docs/api/<service>.openapi.json``) cannot drift from the
code, and each is a valid OpenAPI 3.1 document (openapi-spec-validator). Issue 19."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from counterflow_shared.openapi import SERVICES, openapi_document, render

API_DOCS = Path(__file__).resolve().parents[1] / "docs" / "api"


@pytest.mark.parametrize("service", list(SERVICES))
def test_committed_openapi_matches_the_code(service: str) -> None:
    committed = API_DOCS / f"{service}.openapi.json"
    assert committed.exists(), f"{committed} is missing: run `make contract`"
    assert committed.read_text() == render(service), f"{committed.name} is stale: run `make contract`"


@pytest.mark.parametrize("service", list(SERVICES))
def test_openapi_is_valid(service: str) -> None:
    validate(json.loads((API_DOCS / f"{service}.openapi.json").read_text()))


def test_the_validator_refuses_a_broken_document() -> None:
    """The check can fail: a parameter located "in" nowhere is invalid OpenAPI."""
    doc = openapi_document("scoring")
    operation = next(iter(next(iter(doc["paths"].values())).values()))
    operation["parameters"] = [{"name": "x", "in": "nowhere", "schema": {"type": "string"}}]
    with pytest.raises(OpenAPIValidationError):
        validate(doc)
