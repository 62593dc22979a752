"""Chart and candlestick pattern recognition with measured success rates.

- `swings`: zigzag pivots with an ATR-scaled threshold, each with the bar it became known at.
- `detection`: `Detection`, the one shape every chart and candlestick detector reports.
- `candidate`: the chart detectors' tolerances (`ChartParams`) and the candidate pattern they propose.
- `reversals`: double tops/bottoms and (inverse) head and shoulders.
- `consolidations`: triangles and support/resistance breaks.
- `chart`: `scan_chart`, which runs every chart detector, confirms the breakouts and drops overlaps.
- `candles`: TA-Lib's 61 CDL functions in the same shape.
- `scan`: chart patterns and candles together, and the scorer's input matrix.
- `outcomes`: target-before-stop labels and the old random-entry baseline (percentage distances).
- `baseline`: the matched random-entry baseline (near in time, distances in ATRs), the one edges use.
- `rates`: how a rate is stated (Wilson interval, `MIN_RESOLVED_CASES`, edge over the matched baseline).
- `dataset`: resolved detections of a symbol (unresolved ones dropped: point in time under `as_of`).
- `scorer`: the `pattern_scorer` model (success-rate tables + confidence + typicality) and its trainer.
- `holdout`: `paiid retrain`'s test of the scorer on detections confirmed after a cutoff.
- `answer`: the detect-patterns JSON; `plot`: the HTML chart; `synthetic` / `evaluate`: the honest report.
"""

from paiid.ml.patterns.answer import MIN_BARS, patterns_answer, to_timeframe
from paiid.ml.patterns.candidate import ChartParams
from paiid.ml.patterns.candles import CANDLE_TYPES
from paiid.ml.patterns.chart import CHART_TYPES
from paiid.ml.patterns.detection import Detection
from paiid.ml.patterns.holdout import holdout_score
from paiid.ml.patterns.scan import scan
from paiid.ml.patterns.scorer import PatternScorer, train

__all__ = [
    "CANDLE_TYPES",
    "CHART_TYPES",
    "MIN_BARS",
    "ChartParams",
    "Detection",
    "PatternScorer",
    "holdout_score",
    "patterns_answer",
    "scan",
    "to_timeframe",
    "train",
]
