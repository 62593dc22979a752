"""`paiid optimize`, the universe backtest and `paiid scan` on a real command-line Dask cluster.

Each job runs twice as a subprocess, once on local processes and once with `PAIID_DASK_SCHEDULER`
pointing at two `dask worker` processes; the JSON must be identical apart from timings, ids and the
executor's own description. A worker killed with SIGKILL in the middle of a run must not change the
result (Dask reruns its task elsewhere) nor write anything twice (rows counted in the databases).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cluster_homes import DB_SYMBOL, DatabaseUrl, home_env, make_home, run_json, url_of

from paiid.bench.api import paiid_command
from paiid.bench.cluster import Cluster, worker_names_by_address
from paiid.bench.optimize import synthetic_bars
from paiid.data import load_bars
from paiid.data.importer import import_bars
from paiid.engine import executor
from paiid.ml.optimize import optimize

pytestmark = pytest.mark.slow

MA = "trend-following-ma-cross"
#: Small enough for the suite, large enough for two windows and a full-history study.
OPTIMIZE = ["optimize", "SPX", "--strategy", MA, "--trials", "12", "--splits", "2", "--seed", "5"]
UNIVERSE = ["SPX", "GOOG", "AAPL", DB_SYMBOL]
#: The universe backtest has no CLI command: this is the library call a command would make, in its own
#: process (workers load each symbol's bars themselves, from the caller's database).
UNIVERSE_SCRIPT = (
    "import json, sys\n"
    "from paiid.engine import executor\n"
    "from paiid.jsonutil import to_jsonable\n"
    "rows = executor.backtest_universe(sys.argv[1].split(','), workers=int(sys.argv[2]), batch=2)\n"
    "print(json.dumps(to_jsonable(rows)))\n"
)


def _db_url(home: Path, database_url: DatabaseUrl) -> str:
    return url_of(home, database_url) or f"sqlite:///{home / 'paiid.db'}"


def _optuna_url(home: Path, database_url: DatabaseUrl) -> str:
    """Where `paiid.ml.optimize.storage.storage_url` puts the trials of a home."""
    database_url = url_of(home, database_url)
    if database_url and not database_url.startswith("sqlite"):
        return database_url
    return f"sqlite:///{home / 'optuna.db'}"


def table_counts(url: str) -> dict[str, int]:
    """Rows in every table of a database: what a job wrote, whatever the backend."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                    for t in sa.inspect(conn).get_table_names()}
    finally:
        engine.dispose()


def trials_per_study(url: str) -> dict[str, int]:
    """Optuna trials in each study of the storage (read through SQLAlchemy: any RDB backend)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT s.study_name, COUNT(t.trial_id) FROM studies s "
                "LEFT JOIN trials t ON t.study_id = s.study_id GROUP BY s.study_name")).all()
        return {name: int(n) for name, n in rows}
    finally:
        engine.dispose()


def _strip_optimize(rep: dict[str, Any]) -> dict[str, Any]:
    """The report without when and how long, its run id, its home's storage path and the executor."""
    out = {k: v for k, v in rep.items() if k not in ("created", "elapsed_s", "executor")}
    out["settings"] = {k: v for k, v in rep["settings"].items() if k not in ("run_id", "storage")}
    return out


def _strip_scan(rep: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rep.items() if k != "executor"}


def _env(home: Path, database_url: DatabaseUrl, cluster: Cluster | None = None) -> dict[str, str]:
    return home_env(home, database_url, {"PAIID_DASK_SCHEDULER": cluster.address} if cluster else None)


def _run_python(script: str, args: list[str], env: dict[str, str]) -> Any:
    python = str(Path(paiid_command()[0]).with_name("python"))
    out = subprocess.run([python, "-c", script, *args], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout)


# ------------------------------------------------------------------------------------------- tests


def test_workers_are_separate_processes_and_tasks_carry_the_callers_settings(
        dask_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers were started with the `cluster` home; a caller with another home (whose database
    holds a symbol nobody else has) still gets its own settings and its own bars on the workers."""
    with dask_cluster.client() as client:
        pids = client.run(os.getpid)
    assert len(pids) == 2 and os.getpid() not in pids.values()
    assert {p.pid for p in dask_cluster.workers.values()} == set(pids.values())

    mine = tmp_path / "caller"
    monkeypatch.setenv("PAIID_HOME", str(mine))
    bars = load_bars("SPX").iloc[-800:]
    import_bars(bars.reset_index(), "ONLYHERE", source="test")
    seen = executor.map(os.getenv, ["PAIID_HOME", "PAIID_HOME"], scheduler=dask_cluster.address)
    assert seen == [str(mine), str(mine)]
    rows = executor.backtest_universe(["ONLYHERE", "SPX"], [MA], scheduler=dask_cluster.address, batch=1)
    local = executor.backtest_universe(["ONLYHERE", "SPX"], [MA], workers=1, batch=1)
    assert rows == local and [r["symbol"] for r in rows] == ["ONLYHERE", "SPX"]


@pytest.fixture(scope="module")
def local_optimize(homes: dict[str, Path], database_url: DatabaseUrl) -> dict[str, Any]:
    """`OPTIMIZE` on two local processes: the reference both optimisation tests compare with."""
    return run_json([*OPTIMIZE, "--workers", "2"], _env(homes["local"], database_url))


def _own_trials(home: Path, database_url: DatabaseUrl, report: dict[str, Any]) -> dict[str, int]:
    """Trials per study of the run that produced `report` (its studies carry its run id)."""
    counts = trials_per_study(_optuna_url(home, database_url))
    return {k: v for k, v in counts.items() if report["settings"]["run_id"] in k}


def test_optimize_on_the_cluster_equals_the_local_run(dask_cluster: Cluster, homes: dict[str, Path],
                                                      database_url: DatabaseUrl,
                                                      local_optimize: dict[str, Any]) -> None:
    remote = run_json(OPTIMIZE, _env(homes["cluster"], database_url, dask_cluster))
    assert remote["executor"] == {"backend": "dask", "scheduler": dask_cluster.address}
    assert local_optimize["executor"]["backend"] == "processes"
    assert _strip_optimize(remote) == _strip_optimize(local_optimize)
    # Every study holds exactly the trials asked for: 2 windows + the full history, 12 each.
    assert sorted(_own_trials(homes["cluster"], database_url, remote).values()) == [12, 12, 12]


def test_universe_backtest_on_the_cluster_equals_the_local_run(dask_cluster: Cluster, homes: dict[str, Path],
                                                               database_url: DatabaseUrl) -> None:
    before = table_counts(_db_url(homes["cluster"], database_url))
    symbols = ",".join(UNIVERSE)
    local = _run_python(UNIVERSE_SCRIPT, [symbols, "1"], _env(homes["local"], database_url))
    remote = _run_python(UNIVERSE_SCRIPT, [symbols, "1"], _env(homes["cluster"], database_url, dask_cluster))
    assert [r["symbol"] for r in local] == [s for s in UNIVERSE for _ in range(4)]  # input order kept
    assert remote == local
    assert table_counts(_db_url(homes["cluster"], database_url)) == before  # a backtest writes nothing


def test_scan_on_the_cluster_equals_the_local_run(dask_cluster: Cluster, homes: dict[str, Path],
                                                  database_url: DatabaseUrl) -> None:
    args = ["scan", "--symbols", f"SPX,{DB_SYMBOL}"]
    before = table_counts(_db_url(homes["cluster"], database_url))
    local = run_json([*args, "--workers", "1"], _env(homes["local"], database_url))
    remote = run_json(args, _env(homes["cluster"], database_url, dask_cluster))
    assert remote["executor"]["backend"] == "dask"
    assert [r["symbol"] for r in remote["rows"]] == ["SPX", DB_SYMBOL]
    assert remote["errors"] == 0 and remote["answered"] == 2
    assert _strip_scan(remote) == _strip_scan(local)
    assert table_counts(_db_url(homes["cluster"], database_url)) == before  # a scan is not logged


def _wait_for_task_on(cluster: Cluster, worker: str, prefix: str, proc: subprocess.Popen,
                      timeout: float = 120) -> list[str]:
    """Block until the scheduler reports a `prefix` task processing on `worker`; its keys."""
    deadline = time.monotonic() + timeout
    with cluster.client() as client:
        while time.monotonic() < deadline:
            names = worker_names_by_address(client)
            keys = [str(k) for addr, ks in client.processing().items() if names.get(addr) == worker
                    for k in ks if str(k).startswith(prefix)]
            if keys:
                return keys
            assert proc.poll() is None, f"the job ended before a task reached {worker}: {proc.stderr.read()}"
            time.sleep(0.05)
    raise AssertionError(f"no {prefix} task reached {worker} within {timeout} s")


def test_a_worker_killed_mid_run_changes_nothing_and_writes_nothing_twice(
        trained: Path, tmp_path: Path, database_url: DatabaseUrl, start_cluster: Any,
        local_optimize: dict[str, Any]) -> None:
    """Three studies on two fresh workers: worker-1 gets one and is SIGKILLed while it runs it (a fresh
    worker's first task also imports paiid: seconds); Dask reruns it on worker-0."""
    cluster_home = make_home(trained, tmp_path / "cluster", database_url)
    with start_cluster(_env(cluster_home, database_url)) as cluster:
        env = _env(cluster_home, database_url, cluster)
        proc = subprocess.Popen(paiid_command(*OPTIMIZE, "--json"), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            running = _wait_for_task_on(cluster, "worker-1", "run_study", proc)
            time.sleep(0.5)
            assert proc.poll() is None, "the job finished before the worker could be killed"
            cluster.kill("worker-1")
            out, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err[-4000:]
        with cluster.client() as client:
            assert list(worker_names_by_address(client).values()) == ["worker-0"]
    assert running
    remote = json.loads(out)
    assert _strip_optimize(remote) == _strip_optimize(local_optimize)
    # The rerun task's trials are there once, and the saved run is recorded once.
    assert sorted(_own_trials(cluster_home, database_url, remote).values()) == [12, 12, 12]
    assert len((cluster_home / "optimize" / "trials.jsonl").read_text().splitlines()) == 1


def _at_least_once(fn: Any, items: Any, **_: Any) -> list:
    """A mapper that delivers every task twice, as Dask does when a worker dies after finishing a task
    and before the scheduler heard of it (Dask's guarantee is at-least-once): the second results win."""
    items = list(items)
    [fn(x) for x in items]
    return [fn(x) for x in items]


def test_a_study_task_delivered_twice_leaves_its_trials_once(tmp_path: Path) -> None:
    bars = synthetic_bars(1200, [1, 1])
    kw = {"symbol": "SYN001", "n_trials": 6, "n_splits": 2, "seed": 3, "save": False,
          "space": ["fast", "slow"], "fixed": {"adx_min": 0.0}, "bounds": {"slow": (5, 120)}}
    once = optimize(bars, MA, storage=f"sqlite:///{tmp_path / 'once.db'}", **kw)
    twice_url = f"sqlite:///{tmp_path / 'twice.db'}"
    twice = optimize(bars, MA, storage=twice_url, mapper=_at_least_once, **kw)
    assert sorted(trials_per_study(twice_url).values()) == [6, 6, 6]
    assert _strip_optimize(twice) == _strip_optimize(once)
