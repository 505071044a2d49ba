"""``python -m counterflow_shared.events.admin``: create the catalog's topics, wait for the broker."""

from __future__ import annotations

import asyncio

import typer

from counterflow_shared.events.kafka import ensure_topics, wait_for_broker
from counterflow_shared.settings import platform_settings

app = typer.Typer(help="Kafka administration for Counterflow", no_args_is_help=True)


@app.command("create-topics")
def create_topics(prefix: str = typer.Option(None, help="topic prefix (default: CF_TOPIC_PREFIX)"), wait_s: float = 90.0) -> None:
    """Wait for the broker, then create every catalog topic (and dead-letter topic) that is missing."""
    p = platform_settings()

    async def _run() -> list[str]:
        await wait_for_broker(p.kafka_bootstrap_servers, wait_s)
        return await ensure_topics(p.kafka_bootstrap_servers, prefix=p.topic_prefix if prefix is None else prefix)

    created = asyncio.run(_run())
    typer.echo(f"topics ready ({len(created)} created)")


@app.command("wait")
def wait(timeout_s: float = 90.0) -> None:
    """Wait until the broker answers."""
    asyncio.run(wait_for_broker(platform_settings().kafka_bootstrap_servers, timeout_s))


if __name__ == "__main__":
    app()
