"""The committed contracts validate with the reference tools (issue 19).

``docs/events/asyncapi.json`` is parsed by the AsyncAPI reference parser (``@asyncapi/parser``
from npm, installed by ``deploy/local/deploy_tools.sh``); any diagnostic of severity error
fails. (shared/tests/test_contract.py checks that the file is what the catalog generates.)
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def parse(tools: Path, document: Path) -> tuple[int, list[dict]]:
    """Run the reference parser on ``document``: (exit code, diagnostics)."""
    result = subprocess.run(
        ["node", str(tools / "asyncapi" / "validate.mjs"), str(document)], capture_output=True, text=True, timeout=120
    )
    diagnostics = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, diagnostics


def test_event_contract_is_valid_asyncapi(tools: Path) -> None:
    code, diagnostics = parse(tools, REPO / "docs" / "events" / "asyncapi.json")
    errors = [d for d in diagnostics if d["severity"] == 0]
    assert code == 0 and not errors, errors


def test_the_parser_refuses_a_broken_reference(tools: Path, tmp_path: Path) -> None:
    """The check can fail: a ``$ref`` to a schema that does not exist is an error."""
    doc = json.loads((REPO / "docs" / "events" / "asyncapi.json").read_text())
    message = next(iter(doc["components"]["messages"].values()))
    message["payload"]["properties"]["data"] = {"$ref": "#/$defs/Nowhere"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    code, diagnostics = parse(tools, broken)
    assert code == 1
    assert any(d["code"] == "invalid-ref" for d in diagnostics)
