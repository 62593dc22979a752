"""The repository's two gates on user input: the date parser every command and endpoint goes through, and
the symbol rules (character set, NFKC, no look-alike of a stored symbol when a new one is created).

Real SQLite file under the test's PAIID_HOME (and, for the stored-symbol rules, a PostgreSQL database
too: the `database` fixture); the bundled SPX (1999-01-04 .. 2018-12-31, 5031 bars, as the
README lists it) is the reference series. Expected values are pandas' documented Timestamp bounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from paiid.data import as_of, available_symbols, load_bars, normalise_symbol
from paiid.data.importer import import_bars
from paiid.data.repository import claim_symbol, parse_timestamp
from paiid.data.tradier import TradierClient, fetch_and_store
from paiid.errors import BadInput

SPX_BARS = 5031
RANGE = ("1677-09-22", "2262-04-11")


def make_bars(n: int = 30, start: str = "2021-03-01") -> pd.DataFrame:
    dates = pd.date_range(start, periods=n, freq="B")
    close = 50 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    return pd.DataFrame({"date": dates, "open": close, "high": close * 1.01, "low": close * 0.99,
                         "close": close, "volume": np.full(n, 1000.0)})


# --------------------------------------------------------------------------------------------- dates


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "2999-01-01", "2262-04-12", "1677-09-21",
                                   "2262-04-11T23:50", "9999-12-31T23:59+05:00", "0001-01-01T00:00-05:00"])
@pytest.mark.parametrize("key", ["start", "end"])
def test_dates_beyond_the_timestamp_range_are_bad_input_naming_it(value: str, key: str) -> None:
    with pytest.raises(BadInput) as err:
        load_bars("SPX", **{key: value})
    msg = err.value.message
    assert f"{key} date {value!r} is out of range" in msg
    assert all(bound in msg for bound in RANGE)
    assert "SPX has bars from 1999-01-04 to 2018-12-31" in msg


def test_the_bounds_themselves_are_valid_dates() -> None:
    assert len(load_bars("SPX", end=RANGE[1])) == SPX_BARS  # as of the last representable day: everything
    assert len(load_bars("SPX", start=RANGE[0])) == SPX_BARS
    assert len(load_bars("SPX", start=RANGE[0], end=RANGE[1])) == SPX_BARS
    assert load_bars("SPX", end=RANGE[0]).empty and load_bars("SPX", start=RANGE[1]).empty
    assert parse_timestamp(RANGE[1], "end") == pd.Timestamp(2262, 4, 11)
    assert parse_timestamp(pd.Timestamp.max, "end") == pd.Timestamp.max


def test_parsed_dates_are_nanosecond_naive_utc() -> None:
    ts = parse_timestamp("2018-01-05T09:00-05:00", "end")
    assert ts == pd.Timestamp("2018-01-05T14:00") and ts.tzinfo is None and ts.unit == "ns"
    assert parse_timestamp(None, "end") is None and parse_timestamp("  ", "end") is None


def test_as_of_refuses_an_out_of_range_date() -> None:
    with pytest.raises(BadInput, match="out of range"), as_of("9999-12-31"):
        pass


# ------------------------------------------------------------------------------------------- symbols


@pytest.mark.parametrize(("raw", "expected"), [
    ("spx", "SPX"), (" brk.b ", "BRK.B"), ("^gspc", "^GSPC"), ("eurusd=x", "EURUSD=X"),
    ("btc/usd", "BTC/USD"), ("ＳＰＸ", "SPX"), ("ｂｒｋ．ｂ", "BRK.B"),
    ("A_B-C", "A_B-C"), ("x" * 32, "X" * 32),
])
def test_symbols_are_nfkc_normalised_and_upper_cased(raw: str, expected: str) -> None:
    assert normalise_symbol(raw) == expected


@pytest.mark.parametrize("raw", [
    ".", "..", "../../etc/passwd", "A/../B", "A/./B", "./A", "/A", "A/", "A//B", "A..B", "-A", "A-", "A.",
    "_A", "sp x", "", "x" * 33, "SPΧ", "ß", "A\\B", "A:B", "A%2FB", "A\x00B", "ｓｐｘ／．．",
])
def test_symbols_outside_the_documented_set_are_refused_listing_it(raw: str) -> None:
    with pytest.raises(BadInput, match=r"invalid symbol .*letters, digits and \. - _ \^ = /"):
        normalise_symbol(raw)


@pytest.mark.parametrize(("new", "existing"), [
    ("G00G", "GOOG"), ("SPX", None), ("EUR-USD", None), ("EURUSD", None), ("EURU5D", None),
])
def test_claiming_a_symbol_refuses_look_alikes_of_bundled_ones(new: str, existing: str | None) -> None:
    if existing is None:
        assert claim_symbol(new) == new
    else:
        with pytest.raises(BadInput, match=f"looks like the existing symbol '{existing}'"):
            claim_symbol(new)


@pytest.mark.parametrize("look_alike", ["BRK-B", "BRK_B", "BRK/B", "ＢＲＫ－Ｂ"])
def test_an_import_may_not_create_a_look_alike_of_a_stored_symbol(look_alike: str) -> None:
    import_bars(make_bars(), "BRK.B", source="test")
    with pytest.raises(BadInput, match="looks like the existing symbol 'BRK.B'"):
        import_bars(make_bars(), look_alike, source="test")
    assert normalise_symbol(look_alike) not in available_symbols()


def test_re_importing_a_stored_symbol_is_not_a_look_alike(database) -> None:
    import_bars(make_bars(), "BRK.B", source="test")
    assert import_bars(make_bars(40), "brk.b", source="test")["symbol"] == "BRK.B"
    with pytest.raises(BadInput, match="looks like the existing symbol 'BRK.B'"):
        import_bars(make_bars(), "BRK-B", source="test")
    assert database.rows("SELECT symbol, count(*) FROM bars GROUP BY symbol") == [("BRK.B", 40)]


@pytest.mark.parametrize(("first", "second"), [("C1", "CL"), ("CO", "C0"), ("AIL", "A1L")])
def test_o_0_and_i_1_l_are_one_letter(first: str, second: str) -> None:
    import_bars(make_bars(), first, source="test")
    with pytest.raises(BadInput, match=f"'{second}' looks like the existing symbol '{first}'"):
        import_bars(make_bars(), second, source="test")


def test_a_fetch_refuses_a_look_alike_before_sending_any_request() -> None:
    """The client points at a closed port: reaching the network would raise another error."""
    client = TradierClient(token="unused", base_url="http://127.0.0.1:9")
    with pytest.raises(BadInput, match="looks like the existing symbol 'GOOG'"):
        fetch_and_store("g00g", "2020-01-01", "2020-02-01", client=client)
