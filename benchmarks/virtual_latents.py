"""A virtual cohort encoded by the bundled checkpoint, for the statistics benchmarks.

Renders ``n`` films of the virtual cohort at 64² (its real patient structure: 1 + Poisson(m)
films per patient, m = 0.7 as in the cohort, or larger for a "many films" variant), encodes
them with the bundled demo64 autoencoder and caches the latent table under
``~/.cache/seegaan/bench`` (never in the repository), keyed by (n, seed, m).

    from virtual_latents import cohort_latents
    table, ae = cohort_latents(600, seed=11)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("SEEGAAN_BENCH_CACHE", Path.home() / ".cache" / "seegaan" / "bench"))


def cohort_latents(n: int, seed: int = 11, films_extra: float = 0.7, size: int = 64):
    import seegaan.cohort.clinical as clinical
    from seegaan.cohort.clinical import sample_subjects, subjects_frame
    from seegaan.cohort.cohort import render_arrays
    from seegaan.cohort.render import ground_truth
    from seegaan.data.prepared import from_uint16
    from seegaan.latent import encode_images, load_latents, save_latents
    from seegaan.models.autoencoder import load_autoencoder

    ae = load_autoencoder(None)
    path = CACHE / f"latents_n{n}_s{seed}_m{films_extra:g}.parquet"
    if path.is_file():
        return load_latents(path), ae
    old = clinical.FILMS_EXTRA_MEAN
    clinical.FILMS_EXTRA_MEAN = films_extra            # read at call time by sample_subjects
    try:
        subjects = sample_subjects(n, seed)
    finally:
        clinical.FILMS_EXTRA_MEAN = old
    x = from_uint16(render_arrays(subjects, size, workers=1))[:, None]
    w = encode_images(ae, x)
    meta = subjects_frame(subjects)
    gt = [ground_truth(s) for s in subjects]
    for k in gt[0]:
        meta[k] = [g[k] for g in gt]
    meta["split"] = "test"
    CACHE.mkdir(parents=True, exist_ok=True)
    save_latents(meta, w, path, {"image_size": size, "checkpoint": "bundled demo64",
                                 "films_extra_mean": films_extra, "seed": seed})
    return load_latents(path), ae


def within_patient_correlation(table) -> float:
    """Mean correlation of two films' centred latents when they share a patient."""
    w = table.w - table.w.mean(0)
    w = w / np.linalg.norm(w, axis=1, keepdims=True)
    pid = table.meta["patient_id"].to_numpy()
    sims = []
    for p in np.unique(pid):
        rows = np.flatnonzero(pid == p)
        if len(rows) > 1:
            s = w[rows] @ w[rows].T
            sims.extend(s[np.triu_indices(len(rows), 1)])
    return float(np.mean(sims)) if sims else float("nan")


def bench_parser(doc: str, n: int = 400):
    """The options every statistics benchmark shares: --n, --threads, --json."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--n", type=int, default=n, help="films in the cohort")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the target is 2 cores)")
    ap.add_argument("--json", default=None, help="also write the results here")
    return ap


def bench_setup(args) -> None:
    """Threads as asked, and no progress bars in the printed results."""
    import torch

    from seegaan.utils.progress import set_quiet

    torch.set_num_threads(args.threads)
    set_quiet(True)
