"""seegaan.gvr: Generative Visual Rationales on seegaan's autoencoder.

    fit_predictor / save_predictor / load_predictor   w -> target (linear or one-hidden-layer MLP)
    find_rationale                                     gradient steps on f(w) + β‖w − w₀‖²/r²
    overlay_rgb / save_overlay / save_path_gif         orange = density removed, purple = added
    explain_cases                                      the `seegaan gvr explain` run
    bias_test                                          correct vs overfitted predictor, read by the oracle
    shortcut_test                                      inverse GVR on a cohort with a device shortcut
"""

from seegaan.gvr.predictor import (
    LatentPredictor,
    PredictorConfig,
    fit_predictor,
    load_predictor,
    save_predictor,
)
from seegaan.gvr.rationale import Rationale, RationaleConfig, find_rationale

__all__ = ["LatentPredictor", "PredictorConfig", "Rationale", "RationaleConfig", "find_rationale",
           "fit_predictor", "load_predictor", "save_predictor"]
