"""The demo writes the sequences of one figure with one colour range, unless asked not to."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from seegaan.demo.stages import _write_figure
from seegaan.latent import global_sequence
from seegaan.viz import symmetric_limit

from .conftest import make_table


@pytest.mark.parametrize("per_figure", [False, True])
def test_one_colour_range_per_figure(tmp_path, fake_ae, per_figure):
    ae = fake_ae()
    table = make_table(n=40)
    opts = dict(frames=3, permutations=0, split="test")
    results = [global_sequence(ae, table, "ahf", from_level="0", to_level="1", **opts),
               global_sequence(ae, table, "age", **opts)]
    lims = [symmetric_limit(r.diffs) for r in results]
    assert abs(lims[0] - lims[1]) > 1e-3          # the two sequences change by different amounts
    run = SimpleNamespace(cfg=SimpleNamespace(per_figure_range=per_figure))
    _write_figure(run, [(r, tmp_path / f"s{i}") for i, r in enumerate(results)])
    written = [json.loads((tmp_path / f"s{i}" / "summary.json").read_text())["vlim"]
               for i in range(2)]
    if per_figure:
        assert written == pytest.approx(lims)
    else:
        assert written == pytest.approx([max(lims)] * 2)
