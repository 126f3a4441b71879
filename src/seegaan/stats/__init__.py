"""seegaan.stats: permutation p-values for maps, exchangeability blocks and corrections."""

from seegaan.stats.blocks import PERMUTE_CHOICES, Permuter, feature_level, group_ids, resolve_scheme
from seegaan.stats.permutation import (
    CORRECTIONS,
    NullStream,
    adjusted_pvalues,
    bh_adjust,
    maxt_pvalues,
    permutation_pvalues,
    power_notes,
    significant,
)

__all__ = ["CORRECTIONS", "PERMUTE_CHOICES", "NullStream", "Permuter", "adjusted_pvalues",
           "bh_adjust", "feature_level", "group_ids", "maxt_pvalues", "permutation_pvalues",
           "power_notes", "resolve_scheme", "significant"]
