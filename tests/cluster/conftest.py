"""A real Dask cluster for the tests: `dask scheduler` and two `dask worker` processes from the command line.

The cluster comes from `paiid.bench.cluster.cli_cluster` (the bench times the same thing), one per module:
separate processes on 127.0.0.1, `--nworkers 1 --nthreads 1`, started with the environment of the home
they serve, as a deployment would start them.

The database: `database_url` is the one place that says which database the homes use: PostgreSQL, one
fresh database per home on the session's throwaway cluster (`postgres_server` of `tests/conftest.py`), as
a deployment with a database server would run. Everything below passes it through `PAIID_DATABASE_URL`
(to the commands and to the Dask processes) and counts rows through SQLAlchemy. Returning None instead runs
the same tests on a SQLite file in each home.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cluster_homes import DatabaseUrl, home_env, make_home

from paiid.bench.cluster import Cluster, cli_cluster


@pytest.fixture(scope="module")
def database_url(postgres_server: Any) -> DatabaseUrl:
    """`PAIID_DATABASE_URL` of each home here: its own fresh PostgreSQL database (module docstring)."""
    urls: dict[str, str] = {}

    def of(home: Path) -> str:
        key = str(Path(home).resolve())
        if key not in urls:
            urls[key] = postgres_server.fresh()
        return urls[key]

    return of


@pytest.fixture(scope="module")
def homes(trained: Path, tmp_path_factory: pytest.TempPathFactory, database_url: DatabaseUrl
          ) -> dict[str, Path]:
    """`local` (runs without a cluster) and `cluster` (the home the workers are started with): the same
    models and the same imported symbol, apart so that neither run can see the other's writes."""
    root = tmp_path_factory.mktemp("cluster-homes")
    return {name: make_home(trained, root / name, database_url) for name in ("local", "cluster")}


@pytest.fixture(scope="module")
def dask_cluster(homes: dict[str, Path], database_url: DatabaseUrl,
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
