"""What point-in-time serving costs: an answer as of a past date served by models fitted up to it.

Three figures, in a throwaway home trained on SPX: the first answer of a refit period (it fits the
models that answer reads, once), the same answer again (warm: vintage loaded) against the answer as of
the last bar (the promoted models, the peer), and a later answer of the same period in a new process
state (the vintage is read from the registry, not refitted).
"""

from __future__ import annotations

import time

from paiid.bench import BenchResult, best_time, case
from paiid.bench.api import scratch_home
from paiid.engine import answers, service, training, vintages

DATE = "2016-07-29"


@case("vintages")
def bench_vintages() -> list[BenchResult]:
    with scratch_home("paiid-bench-vintages-"):
        t0 = time.perf_counter()
        training.train_all(["SPX"])
        full_train = time.perf_counter() - t0
        answers.recommendation("SPX")  # load the promoted models
        t0 = time.perf_counter()
        answers.recommendation("SPX", DATE)
        cold = time.perf_counter() - t0
        warm = best_time(lambda: answers.recommendation("SPX", DATE), repeat=5)
        latest = best_time(lambda: answers.recommendation("SPX"), repeat=5)
        service.clear_cache()
        vintages.clear_cache()
        t0 = time.perf_counter()
        answers.recommendation("SPX", "2016-08-31")
        reread = time.perf_counter() - t0
    return [
        BenchResult(
            name=f"recommendation as of {DATE}, first of its refit period (fits selector + regime up to "
                 "2016-06-30)",
            ours_s=cold, peer="a full `paiid train` on SPX (all four models)", peer_s=full_train,
            ratio=full_train / cold, target="< a full training run", meets_target=cold < full_train,
        ),
        BenchResult(
            name=f"recommendation as of {DATE}, warm (vintage in memory)",
            ours_s=warm, peer="the same answer as of the last bar (promoted models)", peer_s=latest,
            ratio=latest / warm, target=">= 0.7x (a past date costs about what today costs)",
            meets_target=latest / warm >= 0.7,
        ),
        BenchResult(
            name="recommendation as of 2016-08-31 in a new process (vintage read from the registry)",
            ours_s=reread, peer="the first answer of the period (fits the models)", peer_s=cold,
            ratio=cold / reread, target="> 3x (fitted once per refit date, then reused)",
            meets_target=cold / reread > 3,
        ),
    ]
