"""Feature engineering: TA-Lib indicators and the no-lookahead feature frame."""

from paiid.features.frame import SCALE_FREE, WARMUP, build_features, feature_rows

__all__ = ["SCALE_FREE", "WARMUP", "build_features", "feature_rows"]
