"""The service images: Dockerfiles checked statically (no Docker engine here), and what
the builder stage installs reproduced with uv from ``uv.lock`` and run for real: the CLI,
``migrate`` against a scratch database, ``serve --no-workers`` answering the image's own
HEALTHCHECK command."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from counterflow_shared.events.security import client_env
from counterflow_shared.persistence.migrations import head_revisions
from counterflow_testkit import drop_database, free_port

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
PINNED = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def instructions(path: Path) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of a Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def stages(path: Path) -> list[list[tuple[str, str]]]:
    """Instructions grouped by build stage (global ARGs before the first FROM dropped)."""
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            result.append([])
        if result:
            result[-1].append(ins)
    return result


def global_args(path: Path) -> dict[str, str]:
    """ARG defaults declared before the first FROM."""
    args = {}
    for word, rest in instructions(path):
        if word == "FROM":
            break
        if word == "ARG" and "=" in rest:
            key, value = rest.split("=", 1)
            args[key] = value
    return args


def test_every_service_has_its_dockerfile(service) -> None:
    assert (DOCKER / service.name / "Dockerfile").is_file()
    assert sorted(p.name for p in DOCKER.iterdir() if p.is_dir()) == sorted(["ticketing", "selfservice", "mobile-gateway", "scoring"])


def test_dockerfile_multistage_pinned_nonroot_healthcheck(service) -> None:
    path = DOCKER / service.name / "Dockerfile"
    args = global_args(path)
    all_stages = stages(path)
    assert len(all_stages) >= 2, "multi-stage build expected"
    for stage in all_stages:
        image = stage[0][1].split()[0]
        for key, value in args.items():
            image = image.replace("${" + key + "}", value).replace("$" + key, value)
        assert PINNED.match(image) and (":" in image or "@sha256:" in image), f"base image not pinned: {image}"
        assert not image.endswith(":latest")
    builder, final = all_stages[0], all_stages[-1]
    run_builder = " ".join(rest for word, rest in builder if word == "RUN")
    assert f"uv sync --frozen --package counterflow-{service.name} --no-dev" in run_builder
    final_sync = [rest for word, rest in builder if word == "RUN" and "--no-editable" in rest]
    assert len(final_sync) == 1 and f"--reinstall-package counterflow-{service.name}" in final_sync[0] and "--reinstall-package counterflow-shared" in final_sync[0], (
        "uv's cache keys workspace builds on pyproject.toml only: rebuild our packages"
    )
    assert re.search(r"uv==\d+\.\d+\.\d+", run_builder), "uv itself pinned"
    assert any(word == "COPY" and "uv.lock" in rest for word, rest in builder)
    words = [w for w, _ in final]
    # Final stage: nothing built or fetched, only the virtualenv copied from the builder.
    final_run = " ".join(rest for word, rest in final if word == "RUN")
    assert not re.search(r"apt-get install|apk add|pip install|uv sync|gcc|build-essential", final_run), final_run
    copies = [rest for word, rest in final if word == "COPY"]
    assert copies and all(c.startswith("--from=builder") for c in copies), copies
    user = [rest for word, rest in final if word == "USER"]
    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert words.index("USER") < words.index("ENTRYPOINT")
    uid = int(user[-1].split(":")[0])
    assert uid == 10001, "deploy/k8s runs the pods as uid 10001"
    healthcheck = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert len(healthcheck) == 1 and "/healthz" in healthcheck[0] and str(service.port) in healthcheck[0]
    entry = json.loads(dict(final)["ENTRYPOINT"])
    assert entry == ["python", "-m", service.module]
    env = dict(final)["ENV"]
    assert f"{service.env_prefix}HTTP_HOST=0.0.0.0" in env and f"{service.env_prefix}HTTP_PORT={service.port}" in env
    assert str(service.port) in dict(final)["EXPOSE"]


def test_dockerfile_copies_every_workspace_member_manifest(service) -> None:
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    manifests = sorted(str(p.relative_to(REPO)) for m in members for p in REPO.glob(f"{m}/pyproject.toml"))
    copied = " ".join(rest for word, rest in instructions(DOCKER / service.name / "Dockerfile") if word == "COPY")
    for manifest in manifests:
        assert manifest in copied, f"{manifest} not copied: uv cannot use the workspace lock without it"


def test_dockerfiles_differ_only_by_service_facts(service) -> None:
    """All four are the same file with the service's name, module, prefix and port."""
    from_ticketing = (DOCKER / "ticketing" / "Dockerfile").read_text()
    expected = (
        from_ticketing.replace("counterflow_ticketing", service.module)
        .replace("counterflow-ticketing", f"counterflow-{service.name}")
        .replace("CF_TICKETING_", service.env_prefix)
        .replace("8101", str(service.port))
        .replace("counterflow/ticketing", f"counterflow/{service.name}")
        .replace("docker/ticketing/", f"docker/{service.name}/")
        .replace("services/ticketing/src", f"services/{service.name}/src")
        .replace("Counterflow ticketing image", f"Counterflow {service.name} image")
    )
    assert (DOCKER / service.name / "Dockerfile").read_text() == expected


def test_dockerignore_sends_only_sources_and_lock(service) -> None:
    lines = [ln for ln in (DOCKER / service.name / "Dockerfile.dockerignore").read_text().splitlines() if ln and not ln.startswith("#")]
    assert lines[0] == "*", "deny everything, then allow"
    assert {"!uv.lock", "!pyproject.toml", "!shared/src/", "!services/*/src/"} <= set(lines)
    assert not any(".venv" in ln and ln.startswith("!") for ln in lines)


# --------------------------------------------------------------------------- the image's environment, run
# Each service runs in a virtualenv made exactly as the builder stage makes /opt/venv. One
# subprocess per service for ``migrate`` (it imports the whole service: the image's
# dependency set suffices), and ``serve`` for one service (the four Dockerfiles are the same
# file, test_dockerfiles_differ_only_by_service_facts), to keep the suite inside its budget.


def test_image_dependency_set_has_no_dev_tools(service, image_env) -> None:
    python = image_env(service.name)
    probe = "import importlib.util as u; print(','.join(m for m in ('pytest', 'hypothesis', 'schemathesis', 'pip') if u.find_spec(m)))"
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"dev/build tools in the image's dependency set: {result.stdout}"


async def _create_database(admin_url: str, name: str) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()


async def _revisions(url: str) -> frozenset[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()


def _env(service, infrastructure, database_url: str, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CF_") and k != "VIRTUAL_ENV"},
        "CF_KAFKA_BOOTSTRAP_SERVERS": infrastructure.kafka_bootstrap_servers,
        **client_env(),
        "CF_REDIS_URL": infrastructure.redis_url,
        "CF_TOPIC_PREFIX": f"t{uuid.uuid4().hex[:10]}.",
        f"{service.env_prefix}DATABASE_URL": database_url,
        f"{service.env_prefix}HTTP_HOST": "127.0.0.1",
        f"{service.env_prefix}HTTP_PORT": str(port),
    }


@dataclass
class Migration:
    """One service's ``migrate`` run in its image environment, against its own new database."""

    service: object
    python: Path
    database: str
    url: str
    env: dict[str, str]
    proc: subprocess.Popen | None = None
    stderr: str = ""


@pytest.fixture(scope="session")
def image_migrations(service_facts, image_env, infrastructure, tmp_path_factory) -> Iterator[dict[str, Migration]]:
    """``migrate`` of every service, the four processes started at once (they are
    independent: one database each), each on a new empty database dropped at the end."""
    admin = infrastructure.postgres_dsn_template.format(database="postgres")
    runs: dict[str, Migration] = {}
    logs = tmp_path_factory.mktemp("migrate")
    try:
        for service in service_facts.values():
            name = f"cf_test_image_{service.name.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
            asyncio.run(_create_database(admin, name))
            url = infrastructure.postgres_dsn_template.format(database=name)
            runs[service.name] = Migration(service, image_env(service.name), name, url, _env(service, infrastructure, url, free_port()))
        for run in runs.values():
            run.proc = subprocess.Popen(
                [str(run.python), "-m", run.service.module, "migrate"], env=run.env, stdout=subprocess.DEVNULL, stderr=(logs / run.database).open("w")
            )
        for run in runs.values():
            run.proc.wait(timeout=600)
            run.stderr = (logs / run.database).read_text()
        yield runs
    finally:
        for run in runs.values():
            if run.proc is not None and run.proc.poll() is None:
                run.proc.kill()
            drop_database(run.database)


def _installed_heads(python: Path, module: str) -> frozenset[str]:
    """Migration heads of the scripts installed in the image environment (the working tree
    may have moved on since the environment was made)."""
    where = f"import importlib.util as u; print(u.find_spec('{module}').submodule_search_locations[0])"
    package_dir = subprocess.run([str(python), "-c", where], capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    assert "site-packages" in package_dir, "the image installs the service as a package, not editable"
    return head_revisions(Path(package_dir))


def test_migrate_is_a_one_off_command_of_the_image(service, image_migrations) -> None:
    """``<image> migrate`` brings an empty database to the code's migration heads."""
    run = image_migrations[service.name]
    assert run.proc.returncode == 0, run.stderr[-3000:]
    heads = _installed_heads(run.python, service.module)
    assert heads and asyncio.run(_revisions(run.url)) == heads


def test_serve_passes_the_image_healthcheck_and_gets_ready(service_facts, image_migrations, tmp_path) -> None:
    """``serve --no-workers`` (the api pods' command) of ticketing, on the database its
    ``migrate`` prepared, passes the Dockerfile's own HEALTHCHECK command, then ``/readyz``
    answers 200 (database at head, broker reachable). One service: the four Dockerfiles are
    the same file (test_dockerfiles_differ_only_by_service_facts)."""
    run = image_migrations["ticketing"]
    assert run.proc.returncode == 0, run.stderr[-3000:]
    _serve_until_healthy(service_facts["ticketing"], run.python, run.env, tmp_path)


def _serve_until_healthy(service, python: Path, env: dict[str, str], tmp_path: Path) -> None:
    port = int(env[f"{service.env_prefix}HTTP_PORT"])
    final = stages(DOCKER / service.name / "Dockerfile")[-1]
    check = dict(final)["HEALTHCHECK"]
    cmd = json.loads(check[check.index("CMD") + 3 :].strip())
    assert cmd[0] == "python"
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(python), "-m", service.module, "serve", "--no-workers"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                health = subprocess.run([str(python), *cmd[1:]], env=env, capture_output=True, text=True, timeout=30)
                if health.returncode == 0:
                    break
                assert proc.poll() is None, f"serve exited: {log_path.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"HEALTHCHECK never passed: {health.stderr[-2000:]}"
                time.sleep(0.5)
            probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/readyz', timeout=10)"
            ready = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=60)
            assert ready.returncode == 0, f"/readyz not ready: {ready.stderr[-2000:]}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_rules_bootstrap_proposes_the_configmap_rule_set_once(image_migrations) -> None:
    """The ticketing api pods' ``rules-bootstrap`` init container command, on the database
    ``migrate`` prepared: the first run proposes a version, the second finds it stored."""
    run = image_migrations["ticketing"]
    assert run.proc.returncode == 0, run.stderr[-3000:]
    command = ["rules", "propose", str(REPO / "deploy/config/rulesets/default.yaml"), "--maker", "deploy:configmap"]
    first = subprocess.run([str(run.python), "-m", "counterflow_ticketing", *command], env=run.env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0 and first.stdout.startswith("proposed version"), first.stdout + first.stderr[-3000:]
    second = subprocess.run([str(run.python), "-m", "counterflow_ticketing", *command], env=run.env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and second.stdout.startswith("already stored as version"), second.stdout + second.stderr[-3000:]
