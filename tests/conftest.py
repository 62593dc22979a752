"""Every test gets its own PAIID_HOME (database file and model directory) so none touches a user's data.

Tests that need trained models share one home trained once per session (`trained`) and serve it
through `paiid.bench.api.linked_home`, which gives each of them its own database and prediction log.

PostgreSQL: `postgres_server` is the session's throwaway cluster (`tests/postgres_server.py`, started
only when a test asks), `postgres_url` one database on it for the whole session, `database` the
backend a test runs against, parametrised over SQLite and PostgreSQL (a fresh database each test).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from xdist import is_xdist_worker

import postgres_server as pg
from paiid.bench.api import child_env, paiid_command
from paiid.bench.postgres import PostgresUnavailable

#: The symbols the shared models are trained on.
TRAINED_SYMBOLS = ("SPX",)


@pytest.fixture(autouse=True)
def paiid_home(tmp_path, monkeypatch):
    home = tmp_path / "paiid_home"
    home.mkdir()
    monkeypatch.setenv("PAIID_HOME", str(home))
    monkeypatch.delenv("PAIID_DATABASE_URL", raising=False)
    monkeypatch.setenv("PAIID_QUIET", "1")
    return home


@pytest.fixture(scope="session")
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PAIID_HOME with the default models trained on SPX by `paiid train`, once per pytest session.

    Why once: training is the slowest step of the suite. Under pytest-xdist each worker has its own
    basetemp inside the session's directory, so the home lives in that parent: the first worker to
    get here trains under an exclusive file lock and leaves a marker, the others wait on the lock and
    reuse the models. Tests read this home (directly or through `linked_home`) and never write to it.
    """
    root = tmp_path_factory.getbasetemp()
    if is_xdist_worker(request):
        root = root.parent
    home = root / f"trained-{'-'.join(TRAINED_SYMBOLS)}"
    home.mkdir(exist_ok=True)
    marker = home / ".trained"
    with FileLock(home / ".train.lock"):
        if not marker.exists():
            out = subprocess.run(
                paiid_command("train", "--symbols", *TRAINED_SYMBOLS, "--json"),
                env=child_env(home), capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
            )
            if out.returncode != 0:
                raise RuntimeError(f"paiid train failed ({out.returncode}):\n{out.stderr[-4000:]}")
            marker.write_text(out.stdout)
    return home


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.TestDatabases]:
    """This pytest process's throwaway PostgreSQL cluster (see `tests/postgres_server.py`), stopped after.

    Fails the tests that need it when the server binaries are missing, as the browser tests fail without
    chromium: `make test` installs both, so a missing server is a broken set-up, and a skip would let
    every PostgreSQL test pass unseen.
    """
    try:
        databases = pg.start()
    except PostgresUnavailable as exc:
        pytest.fail(f"no PostgreSQL for the tests: {exc} (`make postgres` installs Debian's postgresql)")
    try:
        yield databases
    finally:
        databases.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: pg.TestDatabases) -> str:
    """URL (`postgresql+psycopg://...`) of one database at the newest revision, shared by the session."""
    return postgres_server.fresh()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, paiid_home: Path,
             monkeypatch: pytest.MonkeyPatch) -> pg.Database:
    """SQLite (the default file under PAIID_HOME) or a fresh PostgreSQL database via PAIID_DATABASE_URL."""
    if request.param == "sqlite":
        return pg.Database("sqlite", f"sqlite:///{paiid_home / 'paiid.db'}", paiid_home)
    url = request.getfixturevalue("postgres_server").fresh()
    monkeypatch.setenv("PAIID_DATABASE_URL", url)
    return pg.Database("postgres", url, paiid_home)
