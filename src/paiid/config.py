"""Where paiid keeps its state. Everything comes from the environment so that tests and users
can point a run at a scratch directory without touching anyone's real data."""

from __future__ import annotations

import os
from pathlib import Path

from paiid.errors import BadInput


def home() -> Path:
    """`PAIID_HOME`, default `~/.paiid`; created on first use."""
    path = Path(os.environ.get("PAIID_HOME") or Path.home() / ".paiid").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """`PAIID_DATABASE_URL`, default a SQLite file under `PAIID_HOME`."""
    return os.environ.get("PAIID_DATABASE_URL") or f"sqlite:///{home() / 'paiid.db'}"


def models_dir() -> Path:
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def api_key() -> str | None:
    """The key that guards writing/training endpoints; None means those endpoints are closed."""
    return os.environ.get("PAIID_API_KEY") or None


def dask_scheduler() -> str | None:
    return os.environ.get("PAIID_DASK_SCHEDULER") or None


#: Host names a browser can only reach on this machine: trusting them cannot open a DNS-rebinding hole.
#: `testserver` is the host Starlette's TestClient sends (it never resolves to another machine either).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")


def trusted_hosts() -> list[str]:
    """Host names the server answers to: the loopback names plus `PAIID_TRUSTED_HOSTS` (comma-separated).

    Why a list at all: a page on `evil.example` whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding)
    could otherwise read this server's answers from the victim's browser; such a request still carries
    `Host: evil.example`. Entries may be names, IP addresses or `*.example.com`; `*` turns the check off
    (only behind a proxy that checks the host itself). Requests whose Host is the very IP address the
    connection arrived on are always accepted, so `paiid serve --host 0.0.0.0` works by IP address out of
    the box; to use a machine name, add it here.
    """
    extra = [h.strip().lower() for h in os.environ.get("PAIID_TRUSTED_HOSTS", "").split(",") if h.strip()]
    return [*LOOPBACK_HOSTS, *extra]


def max_body_bytes() -> int:
    """`PAIID_MAX_BODY_BYTES`, default 1 MiB: the largest request body the API reads (larger: 413).

    Every request the API takes is a small JSON document; without a bound one request can make the
    server buffer gigabytes.
    """
    raw = os.environ.get("PAIID_MAX_BODY_BYTES", "").strip()
    if not raw:
        return 1024 * 1024
    if not raw.isdigit():
        raise BadInput(f"PAIID_MAX_BODY_BYTES={raw!r} is not a number of bytes; use e.g. 1048576")
    return int(raw)
