"""Demo stage: GVR for Fig. 6's four films, inverse GVR for its TN, and the bias test.

Writes ``gvr/`` in the run directory::

    gvr/predictor/   the linear latent predictor of log BNPP (safetensors + JSON)
    gvr/fig6/        GVR of the Fig. 6 TP, TN, FP, FN (overlay.png, sequence.png, rationale.gif ...)
    gvr/inverse/     inverse GVR of the Fig. 6 TN to BNPP 250, 1000 and 4000 pg/mL
    gvr/bias/        the correct-vs-overfitted bias test (bias_table.md, bias_pairs.png ...)

The demo's latent table holds only the test split, so the predictors are fitted on 80% of
its patients and scored, explained and bias-tested on the other 20%.
"""

from __future__ import annotations

from typing import Any

CATEGORIES = ("TP", "TN", "FP", "FN")


def gvr_stage(run: Any) -> None:
    """Run the stage on a :class:`seegaan.demo.stages.DemoRun` (after the explain stage)."""
    from seegaan.gvr import PredictorConfig, fit_predictor, save_predictor
    from seegaan.gvr.bias import BiasConfig, bias_test
    from seegaan.gvr.explain import GVRConfig, explain_cases

    cfg = run.cfg
    out = run.root / "gvr"
    out.mkdir(exist_ok=True)
    pred, rep = fit_predictor(run.table, PredictorConfig(target="bnpp", architecture="linear", log_scale=True,
                                                          threshold=cfg.bnpp_threshold, seed=cfg.seed))
    save_predictor(pred, out / "predictor")
    h = rep["heldout"]
    run.say(f"      latent predictor: held-out AUC {h.get('auc', float('nan')):.3f}, "
            f"R² {h.get('r2', float('nan')):.3f} (n={h['n']})")
    cases = (run.explain_summary or {}).get("cases", {})
    picked = [(c, cases[c]["image_id"]) for c in CATEGORIES
              if isinstance(cases.get(c), dict) and cases[c].get("image_id")]
    note: dict[str, Any] = {"predictor": {"heldout": h, "n_fit": rep["n_fit"]}}
    if picked:
        echo = lambda line: run.say("      " + line)  # noqa: E731
        explain_cases(run.ae, run.table, pred, out / "fig6", images=[i for _, i in picked],
                      labels=[f"Fig. 6 {c}" for c, _ in picked], data_dir=run.data_dir,
                      config=GVRConfig(frames=cfg.frames), echo=echo)
        tn = [i for c, i in picked if c == "TN"] or [picked[0][1]]
        explain_cases(run.ae, run.table, pred, out / "inverse", images=tn[:1], labels=["Fig. 6 TN"],
                      data_dir=run.data_dir, config=GVRConfig(frames=cfg.frames, inverse=True), echo=echo)
    else:
        note["cases"] = "the explain stage picked no films"
    res = bias_test(run.ae, run.table, out / "bias", target="bnpp", log_scale=True,
                    threshold=cfg.bnpp_threshold, config=BiasConfig(seed=cfg.seed),
                    echo=lambda line: run.say("      " + line))
    heart = res["table"][0]
    note["bias_test"] = {"n_films": res["n_films"], "heart_size_correct_pct": heart["correct %"],
                         "heart_size_overfitted_pct": heart["overfitted %"]}
    run.notes["gvr"] = note
