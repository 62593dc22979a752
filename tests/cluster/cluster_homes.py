"""Homes and commands the cluster tests share (imported by `conftest.py` and the test module).

A home here serves the session's trained models (`linked_home`) and has its own database holding
`DB_SYMBOL`, a symbol no bundled source has: a worker that read another database could not answer it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from paiid.bench.api import child_env, linked_home, paiid_command
from paiid.data import load_bars
from paiid.data.importer import import_bars

#: A symbol that exists only in the homes' databases (so a worker reading another database cannot answer).
DB_SYMBOL = "GOOGX"

#: `PAIID_DATABASE_URL` of the homes: None (SQLite in each home), or a function giving each home its own
#: database (`conftest.database_url`: one fresh PostgreSQL database per home).
DatabaseUrl = str | None | Callable[[Path], str]


def url_of(home: Path, database_url: DatabaseUrl) -> str | None:
    """The database URL `home` uses (None: the SQLite file in the home)."""
    return database_url(home) if callable(database_url) else database_url


def home_env(home: Path, database_url: DatabaseUrl, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a paiid command (or of a Dask process) serving `home`."""
    database_url = url_of(home, database_url)
    env = child_env(home)
    env.pop("PAIID_DASK_SCHEDULER", None)  # only where a test asks for the cluster
    if database_url:
        env["PAIID_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


def make_home(trained: Path, home: Path, database_url: DatabaseUrl) -> Path:
    """A home serving the shared models with `DB_SYMBOL` in its database: GOOG's bars re-stamped onto
    SPX's last trading days, so it ends on 2018-12-31 like SPX and the promoted models serve it (no
    point-in-time refit is fitted in a test)."""
    linked_home(trained, home)
    database_url = url_of(home, database_url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAIID_HOME", str(home))
        if database_url:
            mp.setenv("PAIID_DATABASE_URL", database_url)
        else:
            mp.delenv("PAIID_DATABASE_URL", raising=False)
        spx, goog = load_bars("SPX"), load_bars("GOOG")
        restamped = goog.copy()
        restamped.index = spx.index[-len(goog):]
        import_bars(restamped.reset_index(), DB_SYMBOL, source="test")
    return home


def run_json(args: list[str], env: dict[str, str], timeout: float = 300) -> Any:
    """Run `paiid ARGS --json` and return its one JSON document (a failure shows its stderr)."""
    out = subprocess.run(paiid_command(*args, "--json"), env=env, capture_output=True, text=True,
                         timeout=timeout, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, f"paiid {' '.join(args)} exited {out.returncode}:\n{out.stderr[-4000:]}"
    return json.loads(out.stdout)
