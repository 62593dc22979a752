"""Where Optuna keeps the trials: the storage URL chosen from the environment, and how it is opened."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial

from paiid import config

#: `storage="memory"`: one in-memory Optuna storage per process, for quick single-process runs.
MEMORY = "memory"
_memory_storage: Any = None
#: (process id, URL) whose schema version this process has checked: the check goes through alembic
#: (~0.1 s) and a run opens its storage a dozen times. Later opens skip only that check; the tables are
#: still created if missing (a deleted SQLite file comes back empty, not broken).
_checked: set[tuple[int, str]] = set()


def storage_url() -> str:
    """Where Optuna keeps trials so that workers cooperate.

    `PAIID_OPTUNA_STORAGE` if set; else `PAIID_DATABASE_URL` when it is a server database (several
    machines can reach it); else a separate SQLite file `PAIID_HOME/optuna.db` (kept apart from the bar
    store so Optuna's schema and write bursts never touch it).
    """
    settings = config.settings()
    if settings.optuna_storage:
        return settings.optuna_storage
    db = settings.database_url
    if db and not db.startswith("sqlite"):
        return db
    return f"sqlite:///{config.home() / 'optuna.db'}"


def _sqlite_path(url: str) -> str | None:
    return url[len("sqlite:///"):] if url.startswith("sqlite:///") else None


def open_storage(url: str) -> Any:
    """Optuna's RDB storage on `url` (or the process's in-memory storage for "memory").

    For SQLite: WAL (readers never block the writer), a 60 s busy timeout (concurrent workers queue
    instead of failing) and synchronous=NORMAL (no fsync per trial; in WAL mode a crash of the
    process loses nothing, a power cut at most the last trials).

    For PostgreSQL (`postgresql+psycopg://...`, usually `PAIID_DATABASE_URL` itself): Optuna's tables
    live beside paiid's in the same database without clashing (Optuna's migrations keep the version
    table `alembic_version`, paiid's `paiid_alembic_version`), and connections are checked before
    use (`pool_pre_ping`), so a worker on another machine survives a restart of the database server.
    """
    global _memory_storage
    if url == MEMORY:
        if _memory_storage is None:
            _memory_storage = optuna.storages.InMemoryStorage()
        return _memory_storage
    path = _sqlite_path(url)
    key = (os.getpid(), url)
    kwargs: dict[str, Any] = {}
    if path is not None:

        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(path, timeout=60, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            return con

        kwargs["creator"] = connect
    else:
        kwargs["pool_pre_ping"] = True
    storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs, skip_compatibility_check=key in _checked)
    _checked.add(key)
    return storage


#: The Optuna RDB schema `add_trials` writes (unchanged from Optuna 3.2 to 5.x); any other version, or
#: a storage that is not an `RDBStorage`, goes through Optuna's own `Study.add_trials`.
BULK_SCHEMA = "v3.2.0.a"


def add_trials(url: str, study_name: str, trials: Sequence[FrozenTrial]) -> None:
    """Append finished `trials` to the existing study `study_name`, in order, in one transaction.

    Why not `Study.add_trials`: it writes trial by trial, each in its own transaction of about twenty
    statements (a count of the earlier trials, a query for every parameter's earlier distribution), ~6 ms
    a trial on SQLite, and that runs in the caller after the workers are done: for 120 cheap trials it
    took longer than the trials themselves, so adding workers barely moved the run's wall time. Here
    the rows (trial, values, parameters, attributes, intermediate values) are the ones Optuna writes,
    through its own models (so its datetime and inf/nan encodings apply), flushed in a few statements.
    The study row is locked first, as Optuna does, so trial numbers stay gapless and unique whoever
    else writes to the study; `tests/ml/test_optimize_storage.py` reads the result back against
    `Study.add_trials`. Trials must come from a study with the same distributions (as a worker's
    in-memory copy of this study is); unlike `add_trial`, compatibility is not re-checked.
    """
    if not trials:
        return
    storage = open_storage(url)
    if not isinstance(storage, optuna.storages.RDBStorage) or storage.get_current_version() != BULK_SCHEMA:
        optuna.load_study(study_name=study_name, storage=storage).add_trials(trials)
        return
    from optuna.storages._rdb import models

    for t in trials:
        t._validate()  # what `Study.add_trial` checks: finished, values consistent with the state
    session = storage.scoped_session()
    try:
        study = models.StudyModel.find_or_raise_by_name(study_name, session)
        models.StudyModel.find_or_raise_by_id(study.study_id, session, for_update=True)
        first = models.TrialModel.count(session, study)
        rows = []
        for k, t in enumerate(trials):
            row = models.TrialModel(study_id=study.study_id, number=first + k, state=t.state)
            row.datetime_start = t.datetime_start
            row.datetime_complete = t.datetime_complete
            rows.append(row)
        session.add_all(rows)
        session.flush()  # assigns the trial ids the child rows point at
        children: list[Any] = []
        for row, t in zip(rows, trials, strict=True):
            for objective, value in enumerate(t.values or []):
                stored, kind = models.TrialValueModel.value_to_stored_repr(value)
                children.append(models.TrialValueModel(trial_id=row.trial_id, objective=objective,
                                                        value=stored, value_type=kind))
            for name, value in t.params.items():
                dist = t.distributions[name]
                children.append(models.TrialParamModel(
                    trial_id=row.trial_id, param_name=name, param_value=dist.to_internal_repr(value),
                    distribution_json=optuna.distributions.distribution_to_json(dist)))
            for key, value in t.user_attrs.items():
                children.append(models.TrialUserAttributeModel(trial_id=row.trial_id, key=key,
                                                               value_json=json.dumps(value)))
            for key, value in t.system_attrs.items():
                children.append(models.TrialSystemAttributeModel(trial_id=row.trial_id, key=key,
                                                                 value_json=json.dumps(value)))
            for step, value in t.intermediate_values.items():
                stored, kind = models.TrialIntermediateValueModel.intermediate_value_to_stored_repr(value)
                children.append(models.TrialIntermediateValueModel(
                    trial_id=row.trial_id, step=step, intermediate_value=stored,
                    intermediate_value_type=kind))
        session.add_all(children)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def prepare_storage(url: str) -> None:
    """Create the schema once in the caller: workers creating it at the same moment would race."""
    if url == MEMORY:
        return
    path = _sqlite_path(url)
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    open_storage(url)


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; the report says what matters."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)


def redact(url: str) -> str:
    """Storage URL without a password (reports get shared)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url
