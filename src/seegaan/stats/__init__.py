"""seegaan.stats: permutation p-values for maps and multiple-comparison corrections."""

from seegaan.stats.permutation import (
    CORRECTIONS,
    adjusted_pvalues,
    bh_adjust,
    maxt_pvalues,
    permutation_pvalues,
    significant,
)

__all__ = ["CORRECTIONS", "adjusted_pvalues", "bh_adjust", "maxt_pvalues",
           "permutation_pvalues", "significant"]
