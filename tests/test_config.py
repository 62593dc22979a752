"""`paiid.config.Settings`: every PAIID_*/TRADIER_* variable, typed, read at call time, with one-line errors.

What a user expects: a variable they change is seen by the next call, an empty one means unset, a bad one
stops any command with one line naming the variable and what it takes, a secret never shows when the
settings are printed, and the README's Configuration table lists every variable there is.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paiid import config, progress
from paiid.cli.main import app
from paiid.errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
VARIABLES = {f.validation_alias for f in config.Settings.model_fields.values()}


def test_every_variable_the_package_names_is_a_setting() -> None:
    named = set()
    for path in (ROOT / "src" / "paiid").rglob("*.py"):
        named |= set(re.findall(r"\b(?:PAIID|TRADIER)_[A-Z][A-Z_]*[A-Z]\b", path.read_text()))
    assert "PAIID_TRUSTED_HOSTS" in named and "TRADIER_TOKEN" in named  # the scan sees what it should
    assert named <= VARIABLES, sorted(named - VARIABLES)


def test_the_readme_table_is_generated_from_the_settings() -> None:
    spec = importlib.util.spec_from_file_location("readme_tool", ROOT / "tools" / "readme.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    table = tool.render_config()
    for name in VARIABLES | {"PAIID_TRUSTED_HOSTS", "PAIID_MAX_BODY_BYTES"}:
        assert f"| `{name}` |" in table
    assert "| `PAIID_MAX_BODY_BYTES` | `1048576` |" in table
    assert table in (ROOT / "README.md").read_text(), "README is stale: run tools/readme.py"


def test_the_environment_is_read_at_each_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAIID_MAX_BODY_BYTES", "10")
    assert config.settings().max_body_bytes == 10
    monkeypatch.setenv("PAIID_MAX_BODY_BYTES", " 20 ")
    assert config.settings().max_body_bytes == 20
    monkeypatch.delenv("PAIID_MAX_BODY_BYTES")
    assert config.settings().max_body_bytes == 1024 * 1024
    monkeypatch.setenv("PAIID_HOME", str(tmp_path / "a"))
    assert config.home() == tmp_path / "a" and (tmp_path / "a").is_dir()
    # unset (or empty) PAIID_HOME: ~/.paiid of whoever HOME says now, created on first use
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("PAIID_HOME", "")
    assert config.home() == tmp_path / "user" / ".paiid" and config.home().is_dir()
    assert config.database_url() == f"sqlite:///{tmp_path / 'user' / '.paiid' / 'paiid.db'}"


@pytest.mark.parametrize(("name", "value", "takes"), [
    ("PAIID_MAX_BODY_BYTES", "lots", "valid integer"),
    ("PAIID_MAX_BODY_BYTES", "-1", "greater than or equal to 0"),
    ("TRADIER_MAX_RETRIES", "many", "valid integer"),
    ("TRADIER_MAX_RETRIES", "-2", "greater than or equal to 0"),
    ("TRADIER_BACKOFF_BASE", "nan", "finite number"),
    ("PAIID_QUIET", "maybe", "valid boolean"),
    ("PAIID_TRUSTED_HOSTS", "paiid.lan, https://paiid.lan/", "not a host name"),
    ("PAIID_TRUSTED_HOSTS", "paiid.lan:8000", "no scheme, path or port"),
])
def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                     takes: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(BadInput) as err:
        config.settings()
    message = err.value.message
    assert "\n" not in message and f"{name}={value!r}" in message and takes in message, message


def test_a_bad_variable_stops_any_command_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADIER_MAX_RETRIES", "many")
    res = CliRunner().invoke(app, ["data", "list"])
    assert res.exit_code == 2, res.output
    assert res.output.strip().splitlines() == [res.output.strip()]
    assert res.output.startswith("error: TRADIER_MAX_RETRIES='many' is not valid"), res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_API_KEY", "key-that-must-not-leak")
    monkeypatch.setenv("TRADIER_TOKEN", "  token-that-must-not-leak \n")
    s = config.settings()
    for text in (repr(s), str(s), s.model_dump_json(), str(s.model_dump())):
        assert "must-not-leak" not in text, text
    assert s.api_key is not None and s.api_key.get_secret_value() == "key-that-must-not-leak"
    assert s.tradier_token is not None and s.tradier_token.get_secret_value() == "token-that-must-not-leak"
    monkeypatch.setenv("PAIID_MAX_BODY_BYTES", "x")
    with pytest.raises(BadInput) as err:
        config.settings()
    assert "must-not-leak" not in err.value.message


def test_blank_values_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRADIER_TOKEN", "PAIID_API_KEY"):
        monkeypatch.setenv(name, "   ")
    monkeypatch.setenv("PAIID_TRUSTED_HOSTS", " , ")
    monkeypatch.setenv("TRADIER_BASE_URL", "")
    s = config.settings()
    assert (s.tradier_token, s.api_key, s.trusted_hosts) == (None, None, [])
    assert s.tradier_base_url == "https://api.tradier.com"


def test_trusted_hosts_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_TRUSTED_HOSTS", " paiid.lan , *.Corp.Example,10.0.0.5,[fe80::1] ")
    assert config.settings().trusted_hosts == ["paiid.lan", "*.corp.example", "10.0.0.5", "[fe80::1]"]


def test_quiet_is_a_boolean(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAIID_QUIET", "0")
    progress.note("shown when PAIID_QUIET=0")
    monkeypatch.setenv("PAIID_QUIET", "true")
    progress.note("hidden when PAIID_QUIET=true")
    err = capsys.readouterr().err
    assert "shown when PAIID_QUIET=0" in err and "hidden" not in err
