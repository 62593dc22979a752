"""The decision journal: what users did with the answers they were served, and how that turned out.

The modules, in the order they build on each other (this `__init__` imports none of them, because the
prediction log `paiid.engine.tracking` reads the lower ones and the upper ones read the log):

- `entries`: the append-only `journal` table (one short transaction per insert, corrections supersede).
- `facts`: what a logged answer recommended (top template, side, levels, shown win probability, regime).
- `outcomes`: a trade resolved from the bars exactly as the trade model labels its events, point in time.
- `ledger`: every entry with its status and outcome from the bars loaded now.
- `report`: adoption rates, outcomes of adopted vs manual trades vs passed advice, calibration.
- `record`: validated writes and listings (`POST /api/journal`, `paiid journal add|list`).
- `simulate`: a seeded synthetic user replayed over past dates (`paiid journal simulate`).
"""
