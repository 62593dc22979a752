"""Every setting paiid takes from the environment, typed and validated in one place: `Settings`.

Everything comes from the environment so that tests and users can point a run at a scratch directory
without touching anyone's real data. `settings()` answers for the environment as it is at the call
(tests change it per test); a bad value is a `BadInput` naming the variable and what it takes, so the
CLI and the server stop with one line instead of failing later with a traceback. Secrets are
`SecretStr`: printing the settings, or an error about them, never shows a token or key.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from paiid.errors import BadInput

#: Host names a browser can only reach on this machine: trusting them cannot open a DNS-rebinding hole
#: (a page on evil.example re-pointed at 127.0.0.1 still sends `Host: evil.example`, so only names the
#: server trusts are answered). `testserver` is the host Starlette's TestClient sends (it never resolves
#: to another machine either).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "testserver")

#: One `PAIID_TRUSTED_HOSTS` entry: `*`, a name or IP address, or `*.` and a domain (no scheme, path or port,
#: which would never match the Host the server compares).
_HOST = re.compile(r"\*|(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\]")


class Settings(BaseSettings):
    """The `PAIID_*` and `TRADIER_*` environment variables (each field's alias is its variable).

    An empty variable counts as unset. Names are case-sensitive, as the environment is.
    """

    model_config = SettingsConfigDict(case_sensitive=True, env_ignore_empty=True, frozen=True)

    home: Path = Field(
        Path("~/.paiid"), validation_alias="PAIID_HOME", validate_default=True,
        description="folder for the SQLite database file, models and optimisation results; "
                    "created on first use")
    database_url: str | None = Field(
        None, validation_alias="PAIID_DATABASE_URL",
        description="SQLAlchemy URL of the database: SQLite or PostgreSQL "
                    "(`postgresql+psycopg://user:password@host/db`); unset: SQLite file `paiid.db` in "
                    "PAIID_HOME")
    api_key: SecretStr | None = Field(
        None, validation_alias="PAIID_API_KEY",
        description="value the `X-API-Key` header must carry on endpoints that write or train; unset: "
                    "those endpoints are closed")
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="PAIID_TRUSTED_HOSTS",
        description="extra host names or `*.domain` the server answers to, comma-separated (`*`: any, "
                    "only behind a proxy that checks Host); loopback names and the server's own IP are "
                    "always accepted")
    max_body_bytes: int = Field(
        1024 * 1024, ge=0, validation_alias="PAIID_MAX_BODY_BYTES",
        description="largest request body the API reads, in bytes; a larger one is answered 413")
    dask_scheduler: str | None = Field(
        None, validation_alias="PAIID_DASK_SCHEDULER",
        description="Dask scheduler address (`tcp://host:8786`) for scale-out; unset or `local`: local "
                    "processes")
    optuna_storage: str | None = Field(
        None, validation_alias="PAIID_OPTUNA_STORAGE",
        description="Optuna storage URL the optimisation workers share; unset: PAIID_DATABASE_URL if it "
                    "is a server database, else `optuna.db` in PAIID_HOME")
    refit_every: Literal["month", "quarter", "year"] = Field(
        "quarter", validation_alias="PAIID_REFIT_EVERY",
        description="how often models are refit on the calendar: an answer as of D is served by the models "
                    "fitted on data up to the last `month`, `quarter` or `year` end on or before D")
    quiet: bool = Field(
        False, validation_alias="PAIID_QUIET",
        description="`1` silences progress bars and status notes on stderr")
    debug: bool = Field(
        False, validation_alias="PAIID_DEBUG",
        description="`1` shows the traceback of an internal error instead of its one-line message")
    tradier_token: SecretStr | None = Field(
        None, validation_alias="TRADIER_TOKEN",
        description="Tradier API access token, needed by `paiid data fetch`")
    tradier_base_url: str = Field(
        "https://api.tradier.com", validation_alias="TRADIER_BASE_URL",
        description="Tradier API address (e.g. the sandbox's)")
    tradier_max_retries: int = Field(
        4, ge=0, validation_alias="TRADIER_MAX_RETRIES",
        description="retries of a Tradier request that was rate-limited (429) or failed (5xx, network)")
    tradier_backoff_base: float = Field(
        1.0, ge=0, allow_inf_nan=False, validation_alias="TRADIER_BACKOFF_BASE",
        description="seconds of the first wait between Tradier retries, doubling each time (at most 60 s) "
                    "unless Tradier sends `Retry-After`")

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("api_key", "tradier_token", mode="before")
    @classmethod
    def _strip_secret(cls, value: Any) -> Any:
        """Surrounding blanks are a copy-paste slip (HTTP strips them from headers anyway); blank is unset."""
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        hosts = [h.strip().lower() for h in value.split(",") if h.strip()]
        bad = [h for h in hosts if not _HOST.fullmatch(h)]
        if bad:
            raise ValueError(f"not a host name, IP address or *.domain (no scheme, path or port): "
                             f"{', '.join(map(repr, bad))}")
        return hosts


#: The variables `Settings` reads, and HOME (the default PAIID_HOME is under it).
_VARIABLES = (*(f.validation_alias for f in Settings.model_fields.values()), "HOME")


def settings() -> Settings:
    """The settings the environment gives now.

    Validated once per distinct set of values: building `Settings` costs far more than reading a dozen
    variables, and `home()` is on the path of every answer.
    """
    return _settings_for(tuple(os.environ.get(name) for name in _VARIABLES))


@functools.lru_cache(maxsize=8)
def _settings_for(_values: tuple[str | None, ...]) -> Settings:
    """`Settings()` for the environment whose values are `_values` (the cache key; read again here)."""
    try:
        return Settings()
    except ValidationError as err:
        raise BadInput("; ".join(_explain(e) for e in err.errors())) from None


def _explain(error: Any) -> str:
    """One validation error as `NAME='value' is not valid (why); NAME: <what it is>`.

    Only non-secret fields can fail (a secret takes any text), so the value shown is never a secret.
    """
    name = str(error["loc"][0])
    field = next(f for f in Settings.model_fields.values() if f.validation_alias == name)
    why = str(error["msg"]).removeprefix("Value error, ")
    return f"{name}={error['input']!r} is not valid ({why[:1].lower()}{why[1:]}); {name}: {field.description}"


def home() -> Path:
    """`PAIID_HOME`, created on first use."""
    path = settings().home
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """`PAIID_DATABASE_URL`, default a SQLite file under `PAIID_HOME`."""
    return settings().database_url or f"sqlite:///{home() / 'paiid.db'}"


def models_dir() -> Path:
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path
