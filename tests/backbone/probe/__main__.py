"""``python -m probe serve|worker``."""

import asyncio
import sys

import uvicorn

from probe.app import ProbeSettings, create_app, run_worker_process, spec

settings = ProbeSettings()
if sys.argv[1:] == ["worker"]:
    asyncio.run(run_worker_process(spec(settings), settings))
else:
    uvicorn.run(create_app(settings), host="127.0.0.1", port=settings.http_port, log_level="warning")
