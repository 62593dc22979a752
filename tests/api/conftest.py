"""The real app served by uvicorn on 127.0.0.1 (a free port, in a thread), for tests that speak HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn


@pytest.fixture
def server_env() -> None:
    """Environment the app is created in; a test module overrides it (another home, an API key)."""


@pytest.fixture
def server_host() -> str:
    """The address the server binds; a test module overrides it (any 127.x.y.z is this machine)."""
    return "127.0.0.1"


@pytest.fixture
def server(paiid_home, server_env, server_host: str) -> Iterator[str]:  # noqa: ARG001 - env before the app
    from paiid.api.app import create_app

    config = uvicorn.Config(create_app(), host=server_host, port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (srv.started and srv.servers):
        assert thread.is_alive(), "uvicorn did not start"
        assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{server_host}:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
