"""A Dask cluster started the way a deployment starts one: `dask scheduler` and `dask worker` commands.

Why not `distributed.LocalCluster`: its workers are children of the caller, started with the caller's
environment and interpreter state, so it cannot show what a real cluster gets wrong — a worker that is a
separate, long-lived process with its own environment, reachable only over TCP, that can die on its own.
Here every piece is its own process (own session, so a `kill -9` of one touches nothing else), on
127.0.0.1 with ports the OS picks (`--port 0`; the scheduler writes its address to a scheduler file that
the workers read, so there is no race for a "free" port). Each worker is `--nworkers 1 --nthreads 1
--no-nanny`: one process per "machine", and killing it is the machine going away (a nanny would quietly
restart it). `paiid bench --only optimize` and `tests/cluster/` both use `cli_cluster`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paiid.bench.api import stop_group

#: Seconds to wait for the scheduler file and for every worker to register.
START_TIMEOUT = 90.0


def dask_command(*args: str) -> list[str]:
    """argv running the `dask` CLI of this interpreter's environment (no reliance on PATH)."""
    script = Path(sys.executable).parent / "dask"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "dask", *args]


@dataclass
class Cluster:
    """A running command-line cluster: its address and the processes behind it."""

    address: str
    scheduler: subprocess.Popen
    workers: dict[str, subprocess.Popen]  # by worker name, as the scheduler reports it
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def log(self, name: str = "scheduler") -> str:
        """The last lines of one process's output (`scheduler` or a worker name), for failure messages."""
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def client(self) -> Any:
        """A new `distributed.Client` on this cluster (the caller closes it)."""
        from distributed import Client

        return Client(self.address, set_as_default=False, timeout="20s")

    def kill(self, name: str) -> None:
        """SIGKILL one worker, as if its machine lost power: no goodbye to the scheduler."""
        proc = self.workers[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _start(argv: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as fh:
        return subprocess.Popen(argv, env=dict(env), stdout=fh, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_for_file(path: Path, proc: subprocess.Popen, log: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(path.read_text())
            if info.get("address"):
                return info
        time.sleep(0.1)
    raise RuntimeError(f"dask scheduler wrote no address within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def cli_cluster(
    directory: Path, *, n_workers: int = 2, env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
) -> Iterator[Cluster]:
    """`dask scheduler` plus `n_workers` separate `dask worker` processes on 127.0.0.1, until the block exits.

    `directory` holds the scheduler file, the logs and the workers' scratch space. `env` is the whole
    environment of every process (default: this one): the workers should see the deployment's
    PAIID_HOME and PAIID_DATABASE_URL, although paiid's tasks carry the caller's settings anyway
    (`paiid.engine.executor`). Yields once every worker has registered with the scheduler; on exit the
    workers, then the scheduler, are stopped (SIGTERM, then SIGKILL).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if env is None else env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    sched_file = directory / "scheduler.json"
    sched_file.unlink(missing_ok=True)
    sched_log = directory / "scheduler.log"
    scheduler = _start(dask_command("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                    "--scheduler-file", str(sched_file)), env, sched_log)
    workers: dict[str, subprocess.Popen] = {}
    try:
        info = _wait_for_file(sched_file, scheduler, sched_log, timeout)
        for k in range(n_workers):
            name = f"worker-{k}"
            workers[name] = _start(dask_command(
                "worker", "--scheduler-file", str(sched_file), "--name", name, "--host", "127.0.0.1",
                "--nworkers", "1", "--nthreads", "1", "--no-nanny", "--no-dashboard",
                "--local-directory", str(directory / name), "--death-timeout", "60",
            ), env, directory / f"{name}.log")
        cluster = Cluster(address=info["address"], scheduler=scheduler, workers=workers, log_dir=directory,
                          env=env)
        _wait_for_workers(cluster, n_workers, timeout)
        yield cluster
    finally:
        for proc in workers.values():
            stop_group(proc)
        stop_group(scheduler)


def _wait_for_workers(cluster: Cluster, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with cluster.client() as client:
        while time.monotonic() < deadline:
            names = {w["name"] for w in client.scheduler_info(n_workers=-1)["workers"].values()}
            if len(names) >= n:
                return
            dead = [name for name, p in cluster.workers.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"dask worker {dead[0]} exited:\n{cluster.log(dead[0])}")
            time.sleep(0.2)
    raise RuntimeError(f"only {len(names)} of {n} dask workers registered within {timeout:.0f} s:\n"
                       f"{cluster.log()}")


def worker_names_by_address(client: Any) -> dict[str, str]:
    """{worker address: worker name} as the scheduler sees them (tasks are reported by address)."""
    return {addr: w["name"] for addr, w in client.scheduler_info(n_workers=-1)["workers"].items()}


__all__ = ["Cluster", "cli_cluster", "dask_command", "worker_names_by_address"]
