"""Bars that users import or fetch, kept in the database.

Writes are idempotent upserts inside one transaction: importing the same file twice changes
nothing, and an import that fails part-way leaves the earlier bars exactly as they were.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, Float, String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from paiid.data.db import Base, ensure_tables, get_engine
from paiid.data.validate import COLUMNS


class BarRow(Base):
    __tablename__ = "bars"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)


class SymbolRow(Base):
    __tablename__ = "symbols"
    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    timeframe: Mapped[str] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(DateTime)


def upsert_bars(symbol: str, bars: pd.DataFrame, source: str, timeframe: str) -> dict[str, int]:
    """Insert new bars and overwrite existing timestamps, atomically. Returns counts."""
    engine = get_engine()
    ensure_tables(engine)
    records = [
        {"symbol": symbol, "ts": ts.to_pydatetime(), **dict(zip(COLUMNS, map(float, row), strict=True))}
        for ts, row in zip(bars.index, bars[COLUMNS].to_numpy(), strict=True)
    ]
    with engine.begin() as conn:
        existing = {
            r[0]
            for r in conn.execute(
                select(BarRow.ts).where(
                    BarRow.symbol == symbol,
                    BarRow.ts >= bars.index[0].to_pydatetime(),
                    BarRow.ts <= bars.index[-1].to_pydatetime(),
                )
            )
        }
        new = [r for r in records if r["ts"] not in existing]
        old = [r for r in records if r["ts"] in existing]
        if new:
            conn.execute(BarRow.__table__.insert(), new)
        if old:
            from sqlalchemy import bindparam

            stmt = (
                update(BarRow.__table__)
                .where(BarRow.__table__.c.symbol == bindparam("b_symbol"))
                .where(BarRow.__table__.c.ts == bindparam("b_ts"))
                .values({c: bindparam(f"b_{c}") for c in COLUMNS})
            )
            conn.execute(stmt, [{f"b_{k}": v for k, v in r.items()} for r in old])
        conn.execute(delete(SymbolRow).where(SymbolRow.symbol == symbol))
        conn.execute(
            SymbolRow.__table__.insert(),
            [{"symbol": symbol, "source": source, "timeframe": timeframe,
              "updated_at": datetime.now(UTC).replace(tzinfo=None)}],
        )
    return {"inserted": len(new), "updated": len(old)}


def stored_timeframe(symbol: str) -> str | None:
    """The timeframe recorded for a stored symbol, or None if it was never stored."""
    engine = get_engine()
    with engine.connect() as conn:
        query = select(SymbolRow.timeframe).where(SymbolRow.symbol == symbol)
        return conn.execute(query).scalar_one_or_none()


def read_bars(symbol: str) -> pd.DataFrame | None:
    """All stored bars of `symbol` in the bar schema, or None if it was never stored."""
    engine = get_engine()
    with engine.connect() as conn:
        rows = conn.execute(
            select(BarRow.ts, BarRow.open, BarRow.high, BarRow.low, BarRow.close, BarRow.volume)
            .where(BarRow.symbol == symbol)
            .order_by(BarRow.ts)
        ).all()
    if not rows:
        return None
    arr = np.array([r[1:] for r in rows], dtype="float64")
    index = pd.DatetimeIndex([r[0] for r in rows]).astype("datetime64[ns]").rename("date")
    return pd.DataFrame(arr, index=index, columns=COLUMNS)


def stored_symbols() -> list[dict]:
    """Symbol metadata with bar counts and date ranges, straight from the database."""
    engine = get_engine()
    with engine.connect() as conn:
        meta = {r.symbol: r for r in conn.execute(select(SymbolRow)).all()}
        stats = conn.execute(
            select(BarRow.symbol, func.min(BarRow.ts), func.max(BarRow.ts), func.count())
            .group_by(BarRow.symbol)
        ).all()
    out = []
    for sym, first, last, count in stats:
        m = meta.get(sym)
        out.append({
            "symbol": sym,
            "source": m.source if m else "imported",
            "timeframe": m.timeframe if m else "unknown",
            "first": pd.Timestamp(first).isoformat(),
            "last": pd.Timestamp(last).isoformat(),
            "bars": int(count),
        })
    return out
