"""``make test``'s set-up works from a minimal environment (issue 13).

The local scripts must find every tool the project installs (uv, the workspace venv, Go, the
deployment validation tools, the Kafka jars) through ``deploy/local/env.sh``, never through
the caller's ``PATH``: on a fresh machine ``~/.local/bin``, pyenv shims or ``/usr/local/go/bin``
are not on it. These tests run the scripts with ``env -i`` and ``PATH=/usr/bin:/bin``.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "deploy" / "local"
MINIMAL_PATH = "/usr/bin:/bin"


#: the machine's network settings (proxy, CA bundle): kept, as .ci/run keeps them
NETWORK = re.compile(r"^(https?_proxy|no_proxy|all_proxy|SSL_CERT_\w+|\w*CA_BUNDLE|PIP_\w+)$", re.I)


def minimal_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh login on a new machine: HOME, a minimal PATH, the machine's
    network settings and nothing else (plus ``extra``)."""
    network = {k: v for k, v in os.environ.items() if NETWORK.match(k)}
    return {**network, "HOME": os.environ["HOME"], "PATH": MINIMAL_PATH, "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1", **extra}


def run(cmd: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def test_bootstrap_runs_with_a_minimal_path() -> None:
    """bootstrap.sh (uv + ``uv sync --frozen``) succeeds with PATH=/usr/bin:/bin."""
    result = run(["bash", str(LOCAL / "bootstrap.sh")], minimal_env())
    assert result.returncode == 0, result.stderr
    check = run([str(REPO / ".venv" / "bin" / "python"), "-c", "import counterflow_shared, counterflow_ticketing"], minimal_env())
    assert check.returncode == 0, check.stderr


def test_uv_installs_into_an_empty_cache_without_path_help(tmp_path: Path) -> None:
    """On a machine with no uv at all, env.sh's ensure_uv installs it where env.sh says, and
    the scripts then run it by that path (the defect of issue 13: uv went to ~/.local/bin,
    which a fresh shell's PATH lacks)."""
    env = minimal_env(CF_CACHE_DIR=str(tmp_path / "cache"), CF_STATE_DIR=str(tmp_path / "state"))
    script = f'source "{LOCAL / "env.sh"}"; ensure_uv; "$UV" --version; echo "UV=$UV"; command -v uv || echo "uv-not-on-path"'
    result = run(["bash", "-c", script], env)
    assert result.returncode == 0, result.stderr
    assert f"UV={tmp_path / 'cache'}" in result.stdout
    assert "uv-not-on-path" in result.stdout  # it works without being on PATH
    assert re.search(r"^uv \d+\.\d+\.\d+", result.stdout, re.M)


def test_deploy_tools_run_with_a_minimal_path() -> None:
    """deploy_tools.sh (Go-installed kustomize/kubeconform, the validation venv, Strimzi CRDs)
    succeeds with PATH=/usr/bin:/bin: Go and uv are found through env.sh."""
    result = run(["bash", str(LOCAL / "deploy_tools.sh")], minimal_env(), timeout=1200)
    assert result.returncode == 0, result.stderr
    tools = Path(result.stdout.strip().splitlines()[-1])
    for needed in ("bin/kustomize", "bin/kubeconform", "venv/bin/python", "schemas/KUBERNETES_VERSION"):
        assert (tools / needed).exists(), needed


def test_every_entry_point_resolves_tools_through_env_sh() -> None:
    """Each script in deploy/local sources env.sh and calls no project-installed tool by bare
    name (uv, go, kustomize, kubeconform) and never leans on ~/.local/bin."""
    bare = re.compile(r"(^\s*|[;&|(]\s*)(uv|go|kustomize|kubeconform)\s", re.M)
    for script in sorted(LOCAL.glob("*.sh")):
        text = script.read_text()
        if script.name != "env.sh":
            assert 'source "$(dirname "${BASH_SOURCE[0]}")/env.sh"' in text, f"{script.name} does not source env.sh"
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        code = re.sub(r"(say|die)\s+\"[^\"]*\"", "", code)  # messages may name the tools
        assert not bare.search(code), f"{script.name} calls a tool by bare name: {bare.search(code).group(0)!r}"
        assert ".local/bin" not in code, f"{script.name} relies on ~/.local/bin"


def test_ci_runs_the_test_command_in_a_sanitised_environment() -> None:
    """.ci/run runs `make test` with a minimal PATH, no user site-packages and no variable
    that points Python at an interpreter."""
    text = (REPO / ".ci" / "run").read_text()
    assert "PATH=/usr/sbin:/usr/bin:/sbin:/bin" in text and "PYTHONNOUSERSITE=1" in text
    assert "-u VIRTUAL_ENV" in text and "-u PYTHONPATH" in text
    assert text.rstrip().endswith("make test")


def test_demo_checks_its_data_before_starting_anything(tmp_path: Path) -> None:
    """Without the PKDD'99 files, `make demo` says where to put them and starts nothing
    (it used to start Kafka, PostgreSQL, Redis and the services first, then fail with a
    traceback)."""
    result = run(["bash", str(LOCAL / "demo.sh"), "--data", str(tmp_path)], minimal_env())
    assert result.returncode == 1
    assert f"{tmp_path}/trans.asc not found" in result.stderr and "Nothing was started" in result.stderr
    assert "starting" not in result.stderr and "Traceback" not in result.stderr
