"""Fixtures of the deployment tests: the validation tools, the built kustomize overlays
and image-equivalent virtualenvs.

The tools (kustomize, kubeconform, Kubernetes/Strimzi/KEDA schemas) come from
``deploy/local/deploy_tools.sh``, which ``make test`` runs before pytest; the fixture runs
it again (a no-op when everything is cached) so that a plain ``pytest tests/deploy`` works
too. A missing tool FAILS the tests, it never skips them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")


@dataclass(frozen=True)
class ServiceFacts:
    """What the manifests must agree with, read from each service's own code."""

    name: str
    module: str
    env_prefix: str
    database: str
    port: int
    settings_fields: frozenset[str]


def _service_facts() -> tuple[ServiceFacts, ...]:
    import importlib

    facts = []
    for name, module in (
        ("ticketing", "counterflow_ticketing"),
        ("selfservice", "counterflow_selfservice"),
        ("mobile-gateway", "counterflow_mobile_gateway"),
        ("scoring", "counterflow_scoring"),
    ):
        settings_mod = importlib.import_module(f"{module}.settings")
        settings = settings_mod.get_settings()
        cls = type(settings)
        facts.append(
            ServiceFacts(
                name=name,
                module=module,
                env_prefix=cls.model_config["env_prefix"],
                database=cls.model_fields["database_name"].default,
                port=cls.model_fields["http_port"].default,
                settings_fields=frozenset(cls.model_fields),
            )
        )
    return tuple(facts)


SERVICES = _service_facts()


@dataclass
class Built:
    """One built overlay: the YAML stream and its documents, with lookups."""

    overlay: str
    path: Path
    docs: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        """Every document of ``kind``."""
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        """The document ``kind``/``name``; fails the test when absent."""
        found = [d for d in self.of(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.overlay}: expected one {kind} {name}, found {len(found)}"
        return found[0]


@pytest.fixture(scope="session")
def tools() -> Path:
    """The tools directory (``bin/kustomize``, ``bin/kubeconform``, ``schemas/``)."""
    script = REPO / "deploy" / "local" / "deploy_tools.sh"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"deploy_tools.sh failed:\n{result.stdout}\n{result.stderr}"
    path = Path(result.stdout.strip().splitlines()[-1])
    for needed in ("bin/kustomize", "bin/kubeconform", "schemas/KUBERNETES_VERSION"):
        assert (path / needed).exists(), f"{needed} missing under {path}"
    return path


def kustomize_build(tools: Path, directory: Path) -> str:
    """``kustomize build`` of ``directory`` (the rule set lives outside deploy/k8s)."""
    result = subprocess.run(
        [str(tools / "bin/kustomize"), "build", "--load-restrictor", "LoadRestrictionsNone", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"kustomize build {directory} failed:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session")
def built(tools: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every overlay built once per session."""
    out = tmp_path_factory.mktemp("kustomize")
    result = {}
    for overlay in OVERLAYS:
        text = kustomize_build(tools, K8S / "overlays" / overlay)
        path = out / f"{overlay}.yaml"
        path.write_text(text)
        result[overlay] = Built(overlay, path, [d for d in yaml.safe_load_all(text) if d])
    return result


def kubeconform(tools: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """Run kubeconform strictly against the cached Kubernetes and CRD schemas (no network:
    only the two local schema locations are given)."""
    schemas = tools / "schemas"
    version = (schemas / "KUBERNETES_VERSION").read_text().strip()
    return subprocess.run(
        [
            str(tools / "bin/kubeconform"),
            "-strict",
            "-summary",
            "-output",
            "json",
            "-kubernetes-version",
            version,
            "-schema-location",
            str(schemas) + "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json",
            "-schema-location",
            str(schemas) + "/crds/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="session")
def image_env(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201 - returns a callable
    """``image_env(service)``: a virtualenv made the way the image's builder stage makes
    /opt/venv (``uv sync --frozen --package counterflow-<svc> --no-dev --no-editable``,
    workspace packages rebuilt from the working tree), returned as the path of its
    ``python``. Built once per service per session."""
    # deploy/local/env.sh exports where it installed uv (CF_UV); PATH is not relied on
    uv = os.environ.get("CF_UV") or shutil.which("uv")
    assert uv and Path(uv).exists(), "uv is needed: run the tests with `make test` (deploy/local/bootstrap.sh installs it)"
    root = tmp_path_factory.mktemp("image-envs")
    made: dict[str, Path] = {}

    def make(service: str) -> Path:
        if service not in made:
            target = root / service
            env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(target), "UV_PYTHON_DOWNLOADS": "never"}
            env.pop("VIRTUAL_ENV", None)
            result = subprocess.run(
                [uv, "sync", "-q", "--frozen", "--package", f"counterflow-{service}", "--no-dev", "--no-editable", "--python", sys.executable,
                 "--reinstall-package", "counterflow-shared", "--reinstall-package", f"counterflow-{service}"],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert result.returncode == 0, f"uv sync for {service} failed:\n{result.stderr}"
            made[service] = target / "bin" / "python"
        return made[service]

    return make


@pytest.fixture(scope="session")
def service_facts() -> dict[str, ServiceFacts]:
    """Facts of every service by name."""
    return {s.name: s for s in SERVICES}


@pytest.fixture(scope="session")
def validate(tools: Path):  # noqa: ANN201 - returns a callable
    """``validate(*files)``: kubeconform's completed process for ``files``."""
    return lambda *files: kubeconform(tools, *files)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``service`` (facts read from each service's settings) and ``overlay``."""
    if "service" in metafunc.fixturenames:
        metafunc.parametrize("service", SERVICES, ids=[s.name for s in SERVICES])
    if "overlay" in metafunc.fixturenames:
        metafunc.parametrize("overlay", OVERLAYS)
