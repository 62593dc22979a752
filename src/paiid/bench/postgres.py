"""A throwaway PostgreSQL cluster on 127.0.0.1 for the bench and the tests: initdb, start, databases, stop.

Why a real server rather than a container or a mock: PostgreSQL is the backend a deployment with
several machines uses, and Debian's package gives the very binaries (`initdb`, `pg_ctl`) a test
needs. The cluster lives in a temporary directory, listens on a free loopback port (its unix socket
in that directory too, so nothing touches `/run/postgresql`), runs without fsync (it is thrown away;
durability is not what is measured), and authenticates with a random password (scram-sha-256), so
another local user cannot write into it while it runs.

initdb refuses to run as root. As root, the server's commands run as another user through `runuser`:
`postgres` when it exists (Debian's `postgresql` package creates it), else `nobody`; the cluster's
directory is made theirs. Anyone else runs them directly.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Where Debian installs each major version's server binaries.
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
#: The superuser the cluster is created with (also the owner of every database it makes).
SUPERUSER = "paiid"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (`make test` installs Debian's `postgresql`)."""


def binaries() -> Path:
    """The directory holding `initdb` and `pg_ctl`: Debian's newest version, else `initdb` on PATH."""
    found = sorted(Path("/").glob(DEBIAN_BINARIES.lstrip("/") + "/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL's server binaries (initdb, pg_ctl) are not installed; on Debian: "
        "apt-get install postgresql (make test does it)")


def _run_as() -> str | None:
    """The user the server's commands run as when we are root (initdb refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise PostgresUnavailable("running as root and neither a postgres nor a nobody user exists to run initdb")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    """A running throwaway cluster; `url(database)` is the SQLAlchemy URL of one of its databases."""

    root: Path
    port: int
    password: str
    bin: Path
    user: str | None
    _made: int = field(default=0, repr=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def _admin(self, sql: str) -> None:
        """One statement on the maintenance database, outside a transaction (CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, password=self.password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`, which nobody may be connected to); its URL."""
        if name is None:
            self._made += 1
            name = f"db_{os.getpid()}_{self._made}"
        if not name.replace("_", "").isalnum():
            raise ValueError(f"database names here are letters, digits and _: {name!r}")
        self._admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _command(self, *argv: str) -> list[str]:
        cmd = [str(self.bin / argv[0]), *argv[1:]]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def stop(self) -> None:
        """Stop the server at once (nothing in it is kept) and delete its directory."""
        if (self.root / "data" / "postmaster.pid").exists():
            subprocess.run(self._command("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w",
                                         "stop"), capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_orphans(bindir: Path, user: str | None) -> None:
    """Stop the clusters of processes that died without stopping theirs (killed by a timeout, say).

    `pg_ctl start` daemonises the server, so it outlives a killed owner; each cluster's directory
    names its owner's pid (`owner`), and the next start cleans up after the dead.
    """
    for owner in Path(tempfile.gettempdir()).glob("paiid-pg-*/owner"):
        with contextlib.suppress(OSError, ValueError):
            if not _alive(int(owner.read_text())):
                PostgresCluster(root=owner.parent, port=0, password="", bin=bindir, user=user).stop()


def start_cluster(*, attempts: int = 3) -> PostgresCluster:
    """initdb a cluster in a new temporary directory and start it on a free loopback port.

    A port taken between choosing it and binding it (another process was faster) is retried on
    another one. Stopped at interpreter exit if the caller never stops it, and by the next start
    if this process is killed first.
    """
    bindir = binaries()
    user = _run_as()
    _stop_orphans(bindir, user)
    root = Path(tempfile.mkdtemp(prefix="paiid-pg-"))  # in /tmp: pytest's 0700 dirs are root's alone
    (root / "owner").write_text(str(os.getpid()))
    password = secrets.token_hex(16)
    if user is not None:
        shutil.chown(root, user=user)
    (root / "pw").write_text(password)
    if user is not None:
        shutil.chown(root / "pw", user=user)
    cluster = PostgresCluster(root=root, port=0, password=password, bin=bindir, user=user)
    atexit.register(cluster.stop)
    try:
        out = subprocess.run(
            cluster._command("initdb", "-D", str(root / "data"), "-U", SUPERUSER, f"--pwfile={root / 'pw'}",
                             "--auth=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"),
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({out.returncode}): {out.stderr[-2000:]}")
        for _ in range(attempts):
            cluster.port = _free_port()
            options = (f"-h 127.0.0.1 -p {cluster.port} -k {root} -F -c fsync=off -c synchronous_commit=off "
                       "-c full_page_writes=off -c max_connections=300 -c shared_buffers=64MB")
            out = subprocess.run(
                cluster._command("pg_ctl", "-D", str(root / "data"), "-l", str(root / "server.log"), "-w",
                                 "-t", "60", "-o", options, "start"),
                capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
            if out.returncode == 0:
                return cluster
        log_file = root / "server.log"
        log = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise PostgresUnavailable(f"pg_ctl start failed ({out.returncode}): {out.stderr[-1000:]}\n{log}")
    except BaseException:
        cluster.stop()
        raise


@contextlib.contextmanager
def cluster() -> Iterator[PostgresCluster]:
    """A throwaway cluster for the block's duration."""
    running = start_cluster()
    try:
        yield running
    finally:
        running.stop()
