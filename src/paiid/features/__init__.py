"""Feature engineering: TA-Lib indicators and the no-lookahead feature frame."""

from paiid.features.frame import (
    CLOSE_ONLY_FEATURES,
    CLOSE_ONLY_SUBSTITUTES,
    FEATURE_INPUTS,
    SCALE_FREE,
    WARMUP,
    build_features,
    feature_rows,
    features_for,
)

__all__ = [
    "CLOSE_ONLY_FEATURES",
    "CLOSE_ONLY_SUBSTITUTES",
    "FEATURE_INPUTS",
    "SCALE_FREE",
    "WARMUP",
    "build_features",
    "feature_rows",
    "features_for",
]
