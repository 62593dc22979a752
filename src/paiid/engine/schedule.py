"""The refit calendar: which fitted models may serve an answer as of a given bar.

Why a calendar rather than "the newest model": an answer as of D must use only what was knowable at
the close of D, fitted models included. Models are therefore fitted on a fixed schedule (every month,
quarter or year end, `PAIID_REFIT_EVERY`, default quarter): the models serving an answer as of D are
the ones fitted on data up to the last refit date on or before D. Because that date depends on D and
the calendar alone, replaying D on a store that ends at D gives exactly the answer the full store gives
(`tests/engine/test_point_in_time.py`), and an answer never depends on which other dates were asked
for before. The price is freshness: a live answer uses models up to one refit period old; `paiid
train` fits on data up to the last refit date of the newest bar.

Dates: a daily bar stamped at midnight stands for the close of that day, so data "up to B" is every
bar stamped on or before the end of day B; an intraday bar is known at its own timestamp.
"""

from __future__ import annotations

import pandas as pd

from paiid import config
from paiid.data import timeframe_of

_PERIOD = {"month": "M", "quarter": "Q", "year": "Y"}
_DAY = pd.Timedelta(days=1)
_NS = pd.Timedelta(1, "ns")


def knowledge_time(bars: pd.DataFrame) -> pd.Timestamp:
    """When the last bar of `bars` was known: the end of its day for daily (or longer) bars, its own
    timestamp for intraday ones."""
    last = pd.Timestamp(bars.index[-1])
    if len(bars) > 1 and timeframe_of(bars.index) not in ("daily", "weekly", "monthly"):
        return last
    return last.normalize() + _DAY - _NS


def refit_date(known_at: pd.Timestamp) -> pd.Timestamp:
    """The last scheduled refit date (a period's last day, at midnight) whose whole day is before or at
    `known_at`."""
    ts = pd.Timestamp(known_at)
    period = ts.to_period(_PERIOD[config.settings().refit_every])
    end = period.end_time.normalize()
    if ts >= end + _DAY - _NS:
        return end
    return (period - 1).end_time.normalize()


def cap(refit: pd.Timestamp) -> pd.Timestamp:
    """The last instant of data a model refit on `refit` may see (the end of that day)."""
    return pd.Timestamp(refit).normalize() + _DAY - _NS


def refit_for(bars: pd.DataFrame) -> pd.Timestamp:
    """The refit date of the models that may answer as of the last bar of `bars`."""
    return refit_date(knowledge_time(bars))
