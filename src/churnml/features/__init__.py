"""Point-in-time features and labels at monthly snapshots, built from an account × month panel.

`build_features(tables, features_cfg, labels_cfg, snapshots=None)` is the entry point;
`data_end(tables)` is the first month after the latest order; the feature dictionary is in
`churnml.features.dictionary`.
"""

from churnml.features.build import build_features, data_end, default_snapshots
from churnml.features.dictionary import FEATURES, feature_columns, format_reason

__all__ = [
    "FEATURES",
    "build_features",
    "data_end",
    "default_snapshots",
    "feature_columns",
    "format_reason",
]
