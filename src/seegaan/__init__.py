"""seegaan: SEE-GAAN, GVR and medXGAN explanations for chest radiographs, scored against truth.

The pipeline, each stage an artefact on disk you can open::

    images + CSV -> prepared dataset -> autoencoder checkpoint -> latent table
      -> sequences and subtraction maps -> explanations -> report

Quick use::

    import seegaan
    ae = seegaan.load_autoencoder()          # the bundled demo checkpoint
    w = ae.encode(images)                    # (N, 1, 64, 64) in [-1, 1] -> (N, 512)
    frames = ae.decode(w)
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "load_autoencoder"]


def load_autoencoder(path=None, device="cpu"):
    """Load an autoencoder checkpoint directory (or the bundled demo one when ``path`` is None).

    See :func:`seegaan.models.autoencoder.load_autoencoder`.
    """
    from seegaan.models.autoencoder import load_autoencoder as _load

    return _load(path, device=device)
