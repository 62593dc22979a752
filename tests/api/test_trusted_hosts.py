"""`PAIID_TRUSTED_HOSTS` and a server bound to an address other than 127.0.0.1 (here 127.0.0.2, which is this
machine too, standing in for `paiid serve --host 0.0.0.0` reached by a LAN address).

What a user expects: the names they list are served (exact names and `*.domain` wildcards), the loopback
names still are, a request naming the very IP address it was sent to is served without configuration, and
any other name is still refused.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

HOST = "127.0.0.2"


@pytest.fixture
def server_host() -> str:
    return HOST


@pytest.fixture
def server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAIID_TRUSTED_HOSTS", " paiid.lan , *.corp.example ")


@pytest.mark.parametrize("host", ["paiid.lan", "PAIID.LAN:8000", "a.corp.example", "b.a.corp.example:1",
                                  "localhost", f"{HOST}", f"{HOST}:{{port}}"])
def test_listed_loopback_and_own_address_hosts_are_served(server: str, host: str) -> None:
    r = httpx.get(server + "/health", headers={"Host": host.format(port=urlsplit(server).port)}, timeout=30)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("host", ["corp.example", "evil.example", "paiid.lan.evil.example", "127.0.0.3",
                                  "evilcorp.example"])
def test_other_hosts_are_refused(server: str, host: str) -> None:
    r = httpx.get(server + "/health", headers={"Host": host}, timeout=30)
    assert r.status_code == 400, r.text
    assert "paiid.lan" in r.json()["detail"] and "*.corp.example" in r.json()["detail"]
