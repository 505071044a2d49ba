"""Build the JSON schemas ``kubeconform`` validates the manifests against, offline.

Run by ``deploy/local/deploy_tools.sh`` with the tools virtualenv's Python (it has
``kubernetes-validate``, ``cloudcoil-models-keda`` and PyYAML)::

    python deploy/k8s/tools/schemas.py builtin <kubernetes-validate schema dir> <out dir> [1.33.0]
    python deploy/k8s/tools/schemas.py crds <dir of Strimzi CRD YAML files> <out dir>
    python deploy/k8s/tools/schemas.py keda <out dir>
    python deploy/k8s/tools/schemas.py prometheus <out dir>

Layout written (kubeconform ``-schema-location`` templates):

* ``<out>/<version>-standalone-strict/<kind>-<group>-<apiversion>.json``: built-in kinds,
  from kubernetes-validate's ``<version>-local-strict`` files whose ``$ref`` point into one
  shared ``_definitions.json``; each output file carries only the definitions it reaches
  (template ``{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json``);
* ``<out>/crds/<group>/<kind>_<apiversion>.json``: custom resources (template
  ``crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json``), made strict the
  way openapi2jsonschema does (``additionalProperties: false`` on every object that lists
  its properties and does not preserve unknown fields).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            found.add(ref.split("#/$defs/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and "#/$defs/" in ref:
            out["$ref"] = "#/$defs/" + ref.split("#/$defs/", 1)[1]
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def builtin(source: Path, out: Path, version: str = "*") -> int:
    """Standalone copies of every top-level kind schema of the ``v<version>-local-strict``
    directories (``version`` like ``1.33.0``; ``*`` for all)."""
    written = 0
    for version_dir in sorted(source.glob(f"v{version}-local-strict")):
        definitions = json.loads((version_dir / "_definitions.json").read_text())
        defs = definitions.get("$defs") or definitions.get("definitions") or {}
        target = out / version_dir.name.replace("-local-strict", "-standalone-strict")
        target.mkdir(parents=True, exist_ok=True)
        for path in version_dir.glob("*.json"):
            if path.name.startswith("_") or path.name == "all.json":
                continue
            schema = json.loads(path.read_text())
            if "kind" not in schema.get("properties", {}):
                continue  # only resources (with apiVersion/kind) are validated top-level
            needed: set[str] = set()
            _refs(schema, needed)
            todo = list(needed)
            while todo:
                name = todo.pop()
                more: set[str] = set()
                _refs(defs.get(name, {}), more)
                for m in more - needed:
                    needed.add(m)
                    todo.append(m)
            standalone = _rewrite(schema)
            standalone["$defs"] = {name: _rewrite(defs[name]) for name in sorted(needed) if name in defs}
            (target / path.name).write_text(json.dumps(standalone))
            written += 1
    return written


def strict(node: Any) -> Any:
    """openapi2jsonschema's strict mode: refuse unknown fields where the schema lists them."""
    if isinstance(node, dict):
        out = {k: strict(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [strict(v) for v in node]
    return node


def crds(source: Path, out: Path) -> int:
    """One schema per served version of every CRD in the YAML files under ``source``."""
    written = 0
    for path in sorted(source.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = doc["spec"]["group"], doc["spec"]["names"]["kind"]
            for version in doc["spec"]["versions"]:
                if not version.get("served", True):
                    continue
                schema = strict(version["schema"]["openAPIV3Schema"])
                target = out / "crds" / group / f"{kind.lower()}_{version['name']}.json"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(json.dumps(schema))
                written += 1
    return written


def keda(out: Path) -> int:
    """ScaledObject / TriggerAuthentication schemas from KEDA's published pydantic models
    (PyPI ``cloudcoil-models-keda``, generated from KEDA's CRDs), made strict."""
    from cloudcoil.models.keda import v1alpha1  # noqa: PLC0415 - tools venv only

    written = 0
    for kind in ("ScaledObject", "ScaledJob", "TriggerAuthentication"):
        schema = getattr(v1alpha1, kind).model_json_schema(by_alias=True)
        target = out / "crds" / "keda.sh" / f"{kind.lower()}_v1alpha1.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(strict(schema)))
        written += 1
    return written


def prometheus(out: Path) -> int:
    """ServiceMonitor / PodMonitor / PrometheusRule schemas from the Prometheus Operator's
    published pydantic models (PyPI ``cloudcoil-models-prometheus-operator``, generated
    from the operator's CRDs), made strict."""
    from cloudcoil.models.prometheus_operator import v1  # noqa: PLC0415 - tools venv only

    written = 0
    for kind in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
        schema = getattr(v1, kind).model_json_schema(by_alias=True)
        target = out / "crds" / "monitoring.coreos.com" / f"{kind.lower()}_v1.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(strict(schema)))
        written += 1
    return written


def main(argv: list[str]) -> int:
    """Command line (see the module docstring)."""
    if argv[:1] == ["builtin"] and len(argv) in (3, 4):
        count = builtin(Path(argv[1]), Path(argv[2]), *argv[3:])
    elif argv[:1] == ["crds"] and len(argv) == 3:
        count = crds(Path(argv[1]), Path(argv[2]))
    elif argv[:1] == ["keda"] and len(argv) == 2:
        count = keda(Path(argv[1]))
    elif argv[:1] == ["prometheus"] and len(argv) == 2:
        count = prometheus(Path(argv[1]))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    if count == 0:
        print(f"no schema written by {argv}", file=sys.stderr)
        return 1
    print(f"{argv[0]}: {count} schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
