"""Table 1: the cohort summary that SEE-GAAN reports, overall and per split.

Radiographs are the unit, as in the paper. For each feature:

* numeric: mean ± SD (SD with n - 1), compared across splits by one-way ANOVA, which for
  two non-empty splits is exactly Student's t-test (reported as ``t-test`` then);
* skewed numeric (|skewness| > 1 overall, like most lab values; or named in ``skewed``):
  median [IQR], compared by the Kruskal–Wallis rank test (Mann–Whitney U for two splits),
  since a mean ± SD such as 4483 ± 11388 describes no patient;
* categorical: n (%) per level (percent of the split's radiographs, missing included),
  compared by a chi-squared test of independence on the non-missing levels, without
  Yates' continuity correction so that 2×2 and larger tables are treated alike.

Counts of radiographs and of distinct patients head the table.

Example::

    t = table1(index, {"age": "numeric", "sex": "categorical"})
    write_table1(t, "data/")          # data/table1.csv and data/table1.md
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from seegaan.data.prepared import SPLITS
from seegaan.utils.fsio import atomic_file

ALPHA = 0.05
SKEW_LIMIT = 1.0   # |sample skewness| above which a numeric row shows median [IQR]


def is_skewed(x: np.ndarray) -> bool:
    """Whether ``x`` is skewed enough that median [IQR] describes it better than mean ± SD."""
    x = x[np.isfinite(x)]
    if len(x) < 8 or np.ptp(x) == 0:
        return False
    return bool(abs(stats.skew(x)) > SKEW_LIMIT)


def _fmt_median_iqr(x: np.ndarray, decimals: int) -> str:
    if not len(x):
        return "–"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{med:.{decimals}f} [{q1:.{decimals}f}, {q3:.{decimals}f}]"


def _rank_test(groups: list[np.ndarray]) -> tuple[str, float]:
    groups = [g for g in groups if len(g) >= 1]
    if len(groups) < 2 or len(np.unique(np.concatenate(groups))) < 2:
        return "", float("nan")
    if len(groups) == 2:
        return "Mann–Whitney U", float(stats.mannwhitneyu(groups[0], groups[1]).pvalue)
    return "Kruskal–Wallis", float(stats.kruskal(*groups).pvalue)


def _decimals(sd: float) -> int:
    """Decimals that show three significant digits of the SD (0 to 4)."""
    if not np.isfinite(sd) or sd <= 0:
        return 2
    return int(min(4, max(0, 2 - math.floor(math.log10(sd)))))


def _fmt_mean_sd(mean: float, sd: float, decimals: int) -> str:
    if not np.isfinite(mean):
        return "–"
    sd_text = f"{sd:.{decimals}f}" if np.isfinite(sd) else "–"
    return f"{mean:.{decimals}f} ± {sd_text}"


def _fmt_count(n: int, total: int) -> str:
    return f"{n} ({100.0 * n / total:.1f}%)" if total else "0"


def _numeric_test(groups: list[np.ndarray]) -> tuple[str, float]:
    groups = [g for g in groups if len(g) >= 1]
    if len(groups) < 2 or sum(len(g) for g in groups) - len(groups) < 1:
        return "", float("nan")
    if len(groups) == 2:
        res = stats.ttest_ind(groups[0], groups[1], equal_var=True)
        return "t-test", float(res.pvalue)
    return "ANOVA", float(stats.f_oneway(*groups).pvalue)


def _chi2_test(table: np.ndarray) -> tuple[str, float]:
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return "", float("nan")
    res = stats.chi2_contingency(table, correction=False)
    return "chi-squared", float(res.pvalue)


def table1(index: pd.DataFrame, features: dict[str, str], group_col: str = "split",
           skewed: list[str] | None = None) -> pd.DataFrame:
    """Build Table 1 from an index (one row per radiograph) and its features' value types.

    Columns: ``variable``, ``level``, ``statistic``, ``overall``, one per split present,
    ``method`` (the test used), ``p_value`` (float; blank where no test applies).
    ``skewed`` names the numeric features shown as median [IQR] with a rank test; ``None``
    detects them (|skewness| > 1).

    Example::

        t = table1(pd.read_parquet("data/index.parquet"), {"age": "numeric"})
        t.loc[t.variable == "age", "overall"].item()        # '63.2 ± 16.1'
    """
    groups = [g for g in SPLITS if (index[group_col] == g).any()]
    parts = {"overall": index, **{g: index[index[group_col] == g] for g in groups}}
    rows: list[dict] = []

    def add(variable, level, statistic, cells, method="", p=float("nan")):
        rows.append({"variable": variable, "level": level, "statistic": statistic, **cells,
                     "method": method, "p_value": p})

    add("radiographs", "", "n", {k: str(len(v)) for k, v in parts.items()})
    add("patients", "", "n", {k: str(v["patient_id"].nunique()) for k, v in parts.items()})
    for name, value_type in features.items():
        if name not in index.columns:
            continue
        if value_type == "numeric":
            values = {k: pd.to_numeric(v[name], errors="coerce").dropna().to_numpy(dtype=float)
                      for k, v in parts.items()}
            skew = (is_skewed(values["overall"]) if skewed is None else name in skewed)
            cells = {}
            decimals = None  # one precision per row, set by the overall SD
            for k, x in values.items():
                sd = x.std(ddof=1) if len(x) > 1 else np.nan
                decimals = _decimals(sd) if decimals is None else decimals
                cells[k] = (_fmt_median_iqr(x, decimals) if skew else
                            _fmt_mean_sd(x.mean() if len(x) else np.nan, sd, decimals))
            test, p = (_rank_test if skew else _numeric_test)([values[g] for g in groups])
            add(name, "", "median [IQR]" if skew else "mean ± SD", cells, test, p)
            n_missing = {k: int(v[name].isna().sum()) for k, v in parts.items()}
            if n_missing["overall"]:
                add(name, "missing", "n (%)",
                    {k: _fmt_count(n_missing[k], len(parts[k])) for k in parts})
        else:
            values = index[name]
            levels = sorted(values.dropna().unique(), key=lambda v: (str(type(v)), v))
            counts = np.array([[int((parts[g][name] == lv).sum()) for lv in levels]
                               for g in groups])
            test, p = _chi2_test(counts) if len(levels) else ("", float("nan"))
            for j, level in enumerate(levels):
                cells = {k: _fmt_count(int((v[name] == level).sum()), len(v))
                         for k, v in parts.items()}
                add(name, str(level), "n (%)", cells, test if j == 0 else "",
                    p if j == 0 else float("nan"))
            if values.isna().any():
                add(name, "missing", "n (%)",
                    {k: _fmt_count(int(v[name].isna().sum()), len(v)) for k, v in parts.items()})
    return pd.DataFrame(rows, columns=["variable", "level", "statistic", "overall", *groups,
                                       "method", "p_value"])


def format_p(p: float) -> str:
    """The one p-value format of Table 1 (Markdown and the report): ``0.042 *``, ``<0.001 *``."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(p):
        return ""
    text = "<0.001" if p < 0.001 else f"{p:.3f}"
    return text + (" *" if p < ALPHA else "")


_fmt_p = format_p


def imbalance_sentence(t: pd.DataFrame) -> str:
    """One sentence naming the variables whose distribution differs across splits (p < α)."""
    if "p_value" not in t.columns:
        return ""
    p = pd.to_numeric(t["p_value"], errors="coerce")
    hits = t[p < ALPHA]
    tested = int(p.notna().sum())
    if not tested:
        return ""
    if hits.empty:
        return (f"No variable differs significantly across the splits (all {tested} tests "
                f"p ≥ {ALPHA}).")
    names = ", ".join(f"{r.variable} (p {format_p(r.p_value).rstrip(' *')})"
                      for r in hits.itertuples(index=False))
    return (f"Imbalance across splits: {names} differ{'s' if len(hits) == 1 else ''} "
            f"significantly (p < {ALPHA}); sequences on one split may then reflect it. With "
            f"{tested} tests, about {tested * ALPHA:.1f} would be expected by chance alone.")


def to_markdown(t: pd.DataFrame) -> str:
    """Table 1 as a Markdown table with a short legend.

    Example::

        print(to_markdown(table1(index, features)))
    """
    groups = [c for c in t.columns if c in SPLITS]
    head = ["variable", "overall", *groups, "comparison", "p"]
    lines = ["# Table 1", "", "| " + " | ".join(head) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    previous = None
    for r in t.itertuples(index=False):
        groups_cells = [getattr(r, g) for g in groups]
        if r.level and r.variable != previous:
            # A categorical feature: a header row carries the test, its levels follow.
            lines.append("| " + " | ".join([f"**{r.variable}**, n (%)", "", *[""] * len(groups),
                                            r.method, _fmt_p(r.p_value)]) + " |")
            cells = [f"&nbsp;&nbsp;{r.level}", r.overall, *groups_cells, "", ""]
        elif r.level:
            cells = [f"&nbsp;&nbsp;{r.level}", r.overall, *groups_cells, "", ""]
        else:
            cells = [f"**{r.variable}**, {r.statistic}", r.overall, *groups_cells, r.method,
                     _fmt_p(r.p_value)]
        previous = r.variable
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", "Radiographs are the unit. Numeric: mean ± SD, one-way ANOVA across splits "
              "(Student's t-test when two splits); skewed numeric: median [IQR], Kruskal–Wallis "
              "(Mann–Whitney U when two splits). Categorical: n (% of the split's "
              f"radiographs), chi-squared test without continuity correction. * p < {ALPHA}.",
              "", imbalance_sentence(t), ""]
    return "\n".join(lines)


def write_table1(t: pd.DataFrame, out_dir: str | os.PathLike) -> None:
    """Write ``table1.csv`` (p-values as numbers) and ``table1.md`` into ``out_dir``."""
    out = Path(out_dir)
    with atomic_file(out / "table1.csv", mode="w") as fh:
        t.to_csv(fh, index=False, lineterminator="\n")
    with atomic_file(out / "table1.md", mode="w") as fh:
        fh.write(to_markdown(t))
