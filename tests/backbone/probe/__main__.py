"""``python -m probe serve|worker``."""

import asyncio
import sys

from counterflow_shared.runtime import serve_http
from probe.app import ProbeSettings, create_app, run_worker_process, spec

settings = ProbeSettings()
if sys.argv[1:] == ["worker"]:
    asyncio.run(run_worker_process(spec(settings), settings))
else:
    settings.http_host = "127.0.0.1"
    serve_http(create_app(settings), settings)
