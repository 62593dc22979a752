"""A real Dask cluster for the tests: `dask scheduler` and two `dask worker` processes from the command line.

The cluster comes from `paiid.bench.cluster.cli_cluster` (the bench times the same thing), one per module:
separate processes on 127.0.0.1, `--nworkers 1 --nthreads 1`, started with the environment of the home
they serve, as a deployment would start them.

The database: `database_url` is the one place that says which database the homes use. Today it is
SQLite (a file in each home, the default when `PAIID_DATABASE_URL` is unset). To run the same tests on
PostgreSQL, make it return the `postgres_url` fixture of `tests/conftest.py` instead (a one-line change:
`def database_url(postgres_url: str) -> str | None: return postgres_url`); everything below passes it
through `PAIID_DATABASE_URL` and counts rows through SQLAlchemy, not through a SQLite file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_homes import home_env, make_home

from paiid.bench.cluster import Cluster, cli_cluster


@pytest.fixture(scope="module")
def database_url() -> str | None:
    """`PAIID_DATABASE_URL` of every home here; None = SQLite in the home (see the module docstring)."""
    return None


@pytest.fixture(scope="module")
def homes(trained: Path, tmp_path_factory: pytest.TempPathFactory, database_url: str | None
          ) -> dict[str, Path]:
    """`local` (runs without a cluster) and `cluster` (the home the workers are started with): the same
    models and the same imported symbol, apart so that neither run can see the other's writes."""
    root = tmp_path_factory.mktemp("cluster-homes")
    return {name: make_home(trained, root / name, database_url) for name in ("local", "cluster")}


@pytest.fixture(scope="module")
def dask_cluster(homes: dict[str, Path], database_url: str | None,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Scheduler and two workers from the command line, serving the `cluster` home, for the module."""
    with cli_cluster(tmp_path_factory.mktemp("dask"), env=home_env(homes["cluster"], database_url)) as c:
        yield c


@pytest.fixture
def start_cluster(tmp_path: Path) -> Callable[[dict[str, str]], Any]:
    """A private cluster for a test that kills one of its workers (the context manager, to `with`)."""
    def start(env: dict[str, str]) -> Any:
        return cli_cluster(tmp_path / "dask", env=env)
    return start
