"""Panel models: one model pooled over the whole real universe, on the features closes define.

* `universe` - `PANEL_FEATURES`, `close_view`, `universe_bars`: the common ground of every symbol;
* `dataset` - the panel selector's rows (close-only features, template state, cross-sectional columns);
* `selector` - the panel strategy selector, validated in held-out time, held-out symbols and
  against per-symbol models (`evaluate`), and `fit_panel_selector`;
* `report` - the three models' scores on the same rows, with intervals, and plain sentences;
* `trade` - the panel trade model: close-only events, triple barrier on closes with the close view's
  ATR, scored pooled / held-out symbols / per-symbol on the same events (`evaluate`), `fit_panel_trade`;
* `evaluate` - both models' reports on the whole universe (`paiid evaluate --part universe`).
"""

from paiid.ml.panel.universe import INDEX_SYMBOL, PANEL_FEATURES, UNIVERSE, close_view, universe_bars

__all__ = ["INDEX_SYMBOL", "PANEL_FEATURES", "UNIVERSE", "close_view", "universe_bars"]
