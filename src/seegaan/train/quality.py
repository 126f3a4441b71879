"""How faithful is a checkpoint's reconstruction? SSIM, MSE and, on the virtual cohort, factors.

SEE-GAAN explains through reconstructions: a sequence starts at ``G(E(x))``, so whatever
the autoencoder loses (a faint breast shadow, bone density) cannot appear in any sequence.
This module measures that loss on held-out images:

- per-image SSIM (Gaussian 11×11, as in validation) and MSE of ``x`` vs ``G(E(x))``;
- with an oracle (the virtual cohort's factor reader), the Pearson correlation between the
  factors it reads on the originals and on the reconstructions: r near 1 means the
  reconstruction keeps each patient's heart size, fat, breast tissue and bone density.

Which factors matter and what the targets are is the cohort's business:
``seegaan.validate.checks.quality_rows`` turns these figures into truth-table rows.

Example::

    ae = seegaan.load_autoencoder()
    q = reconstruction_quality(ae, PreparedDataset("data/c64", split="test").load_images(),
                               oracle=load_oracle(64))
    q["ssim_mean"], q["oracle_r"]["gt_ctr"]

or ``python -m seegaan.train.quality CHECKPOINT|demo DATA_DIR [--split test] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from seegaan.train.metrics import ssim


def reconstruction_quality(ae: Any, images: torch.Tensor,
                           oracle: Callable[[np.ndarray], Any] | Any | None = None,
                           batch_size: int = 128,
                           factors: Sequence[str] | None = None,
                           latents: torch.Tensor | np.ndarray | None = None) -> dict[str, Any]:
    """SSIM/MSE of reconstructions and (with ``oracle``) factor correlations; JSON-ready.

    ``latents``, when the caller already encoded ``images`` (row for row), are decoded
    instead of encoding the images again.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be (N, 1, S, S), got {tuple(images.shape)}")
    if latents is not None and len(latents) != len(images):
        raise ValueError(f"{len(latents)} latents for {len(images)} images")
    recs, ss, mse = [], [], []
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].float()
            if latents is None:
                r = ae.reconstruct(x).float().cpu()
            else:
                r = ae.decode(latents[i:i + batch_size]).float().cpu()
            ss.append(ssim(x, r))
            mse.append(((x - r) ** 2).mean(dim=(1, 2, 3)))
            recs.append(r)
    s = torch.cat(ss).numpy()
    out: dict[str, Any] = {"n": int(len(images)), "ssim_mean": float(s.mean()),
                           "ssim_median": float(np.median(s)), "ssim_p10": float(np.percentile(s, 10)),
                           "mse_mean": float(torch.cat(mse).mean())}
    if oracle is not None:
        predict = getattr(oracle, "predict", oracle)
        a = predict(images.numpy())
        b = predict(torch.cat(recs).numpy())
        names = list(factors) if factors is not None else list(a.columns)
        out["oracle_r"] = {f: float(np.corrcoef(a[f].to_numpy(float), b[f].to_numpy(float))[0, 1])
                           for f in names}
    return out


def main(argv: list[str] | None = None) -> int:
    import seegaan
    from seegaan.data.prepared import PreparedDataset
    from seegaan.errors import SeegaanError

    ap = argparse.ArgumentParser(prog="python -m seegaan.train.quality",
                                 description="Reconstruction quality of a checkpoint on a prepared dataset.")
    ap.add_argument("checkpoint", help="checkpoint directory, or 'demo' for the bundled one")
    ap.add_argument("data_dir")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--no-oracle", action="store_true")
    ap.add_argument("--cohort-version", type=int, default=1, choices=(1, 2),
                    help="which cohort the films come from (selects the oracle)")
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args(argv)
    try:
        ae = seegaan.load_autoencoder(None if a.checkpoint == "demo" else a.checkpoint)
        ds = PreparedDataset(a.data_dir, split=a.split)
        pos = np.arange(len(ds) if a.limit <= 0 else min(a.limit, len(ds)))
        x = ds.load_images(pos)
        oracle = None
        if not a.no_oracle:
            from seegaan.cohort.oracle import load_oracle

            oracle = load_oracle(int(ae.image_size), version=a.cohort_version)
        q = reconstruction_quality(ae, x, oracle)
    except SeegaanError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(q, indent=2)
    print(text)
    if a.json:
        from seegaan.utils.fsio import write_json

        write_json(a.json, q)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
