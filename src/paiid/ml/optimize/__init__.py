"""Walk-forward parameter optimisation of the strategy templates, with the luck taken out.

For each walk-forward window an Optuna study (TPE sampler seeded, median pruning) searches the template's
parameter ranges for the best in-sample Sharpe, seeing only the bars before its test window; the winner
trades that window, beside the defaults and buy-and-hold. A final study on all history gives the
parameters that look best on all history, reported with the deflated Sharpe ratio (deflated by every
trial of the search, guarded by the winner's trade count) and the probability of backtest overfitting
(median and range over several block partitions). Nothing else in the package uses the optimised
parameters: backtests and the selector use the template defaults. A trial first runs on the earlier
half of its in-sample bars and is stopped there if it is below the median of earlier trials. One
worker per study keeps results reproducible (same seed, same numbers on one process or a cluster);
`workers_per_study > 1` lets workers share a study live through the storage (faster, but no longer
bit-for-bit reproducible).

- `space`: the parameter ranges searched (`search_space`) and how a trial draws from them.
- `objective`: a parameter set's returns after costs and the in-sample Sharpe a study maximises.
- `storage`: which Optuna storage holds the trials (`storage_url`, `MEMORY`) and how it is opened.
- `study`: `StudyTask` and `run_study`, the unit a worker runs, and reading its trials back.
- `walkforward`: the windows of a run, their stitched out-of-sample score and its bootstrap margin.
- `ledger`: every trial of the search, counted for the deflated Sharpe (`count_trials`).
- `partitions`: PBO over several block partitions (`pbo_spread`: median, range, runs).
- `report`: deflated Sharpe and PBO of the full-history winner.
- `summary`: the verdict and the `summary` sentences.
- `results`: the stored reports (`save_result`, `load_result`, `list_results`).
- `run`: `optimize`, the public entry that ties them together.

Optuna is imported at module level here: only `paiid optimize` (which imports this package inside the
command), the bench and the workers load it, so CLI start-up does not pay for it.
"""

from paiid.ml.optimize.ledger import count_trials
from paiid.ml.optimize.partitions import pbo_spread
from paiid.ml.optimize.results import list_results, load_result, results_dir, save_result
from paiid.ml.optimize.run import optimize
from paiid.ml.optimize.space import search_space
from paiid.ml.optimize.storage import MEMORY, storage_url

__all__ = [
    "MEMORY",
    "count_trials",
    "list_results",
    "load_result",
    "optimize",
    "pbo_spread",
    "results_dir",
    "save_result",
    "search_space",
    "storage_url",
]
