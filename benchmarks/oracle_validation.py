"""How far can the oracle be trusted on blurred and reconstructed films?

Renders the statistics benchmarks' virtual cohort (``virtual_latents``: 400 films, seed 11),
reads every factor with the oracle on the films as they are, Gaussian-blurred by σ = 0.5 to
2.5 px, and reconstructed by the bundled checkpoint (decoding the cached latents), and prints
the readout's bias (mean readout − truth) and Pearson r per factor and condition. Also the
same after sharpness matching of each blurred film against its original (what the truth
checks do), which should bring the blur bias near zero.

    python benchmarks/oracle_validation.py [--n 400] [--json OUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from virtual_latents import bench_parser, bench_setup, cohort_latents  # noqa: E402


def main() -> None:
    ap = bench_parser(__doc__)
    a = ap.parse_args()
    bench_setup(a)
    from scipy.ndimage import gaussian_filter

    from seegaan.cohort.clinical import sample_subjects
    from seegaan.cohort.cohort import render_arrays
    from seegaan.cohort.oracle import load_oracle
    from seegaan.data.prepared import from_uint16
    from seegaan.latent import decode_latents
    from seegaan.latent.truth import blur_to, high_frequency
    from seegaan.validate.checks import CORE_FACTORS, oracle_validation

    table, ae = cohort_latents(a.n, seed=11)
    x = from_uint16(render_arrays(sample_subjects(a.n, 11), 64, workers=1))[:, None]
    truth = table.meta[list(CORE_FACTORS)].reset_index(drop=True)
    recon = decode_latents(ae, table.w)[:, None]
    oracle = load_oracle(64)
    val = oracle_validation(oracle.predict, x, truth, recon)
    # Sharpness-matched pairs: original blurred to its blurred copy's detail, both read.
    rows = []
    orig = x[:, 0]
    # Not powers of two: the bisection on σ would land on those exactly.
    for s in (1.3, 2.2):
        blurred = gaussian_filter(orig, (0, s, s), mode="nearest")
        matched = np.stack([blur_to(o, high_frequency(b)) for o, b in zip(orig, blurred)])
        pa, pb = oracle.predict(matched[:, None]), oracle.predict(blurred[:, None])
        raw = oracle.predict(orig[:, None])
        for f in CORE_FACTORS:
            rows.append({"sigma": s, "factor": f,
                         "raw_shift": float((pb[f] - raw[f]).mean()),
                         "matched_shift": float((pb[f] - pa[f]).mean())})
    matched = pd.DataFrame(rows)
    print(val.pivot(index="condition", columns="factor", values="bias").round(3).to_string())
    print(val.pivot(index="condition", columns="factor", values="r").round(3).to_string())
    print("blur's readout shift (blurred − original) without and with sharpness matching:")
    print(matched.round(3).to_string(index=False))
    if a.json:
        Path(a.json).write_text(json.dumps({"validation": val.to_dict(orient="records"),
                                            "matched": matched.to_dict(orient="records")}, indent=2))


if __name__ == "__main__":
    main()
