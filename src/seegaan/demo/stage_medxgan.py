"""Demo stage 11: medXGAN on the Fig. 6 cases with the bundled checkpoint.

The bundled generator was trained against the reference CNN that the demo's stage 7 trains
(same seed, same data, same recipe), turned into a BNPP > 400 classifier by
``P(positive) = sigmoid((log predicted BNPP - log 400) / 0.25)``. The stage records whether
this run's CNN has exactly the weights the checkpoint was trained against; when it does not
(another torch build or thread count can change the last bits), the explanation still runs
and the report says so.
"""

from __future__ import annotations

from typing import Any

from seegaan.demo.stages import DemoRun

# Inversion budget per film: the full demo's stage must stay within about 45 s for four films.
FULL = {"restarts": 3, "steps": 60, "frames": 7, "lig_steps": 16}
QUICK = {"restarts": 2, "steps": 20, "frames": 5, "lig_steps": 8}


def medxgan_stage(run: DemoRun) -> None:
    """Explain the TP/TN/FP/FN films of stage 9 with the bundled medXGAN (run.root/medxgan/)."""
    import torch

    threads = torch.get_num_threads()
    if not run.cfg.threads:
        # The inversion is hundreds of passes over 2-4 films of 64 x 64: thread hand-offs cost
        # more than they save on such small batches, so one thread is faster.
        torch.set_num_threads(1)
    try:
        _medxgan_stage(run)
    finally:
        torch.set_num_threads(threads)


def _medxgan_stage(run: DemoRun) -> None:
    from seegaan.explain import load_model
    from seegaan.medxgan.checkpoint import load_medxgan
    from seegaan.medxgan.explainer import ExplainSettings, classifier_for
    from seegaan.medxgan.invert import InversionSettings
    from seegaan.medxgan.outputs import Film, explain_to_dir, films_from_dataset

    cfg = run.cfg
    G, info = load_medxgan(None)
    if int(info["model"]["image_size"]) != cfg.size:
        run.say(f"      skipped: the bundled medXGAN is {info['model']['image_size']} px, "
                f"the demo runs at {cfg.size} px")
        run.notes["medxgan"] = {"status": "skipped", "reason": "image size"}
        return
    model = load_model(run.root / "cnn")
    C, exact = classifier_for(model, info)
    cases: dict[str, Any] = (run.explain_summary or {}).get("cases") or {}
    ids = {cat: c.get("image_id") for cat, c in cases.items() if isinstance(c, dict) and c.get("image_id")}
    if ids:
        picked = films_from_dataset(run.data_dir, model, "bnpp", cfg.bnpp_threshold,
                                    image_ids=list(ids.values()))
        films = [Film(f.image_id, f.image, cat, f.truth, f.prediction) for cat, f in zip(ids, picked)]
    else:
        films = films_from_dataset(run.data_dir, model, "bnpp", cfg.bnpp_threshold)
    b = QUICK if cfg.quick else FULL
    settings = ExplainSettings(
        inversion=InversionSettings(restarts=b["restarts"], steps=b["steps"], seed=cfg.seed),
        frames=b["frames"], lig_steps=b["lig_steps"])
    # The bundled generator records no cohort version: it was trained on version-1 films.
    gen_version = int(info.get("cohort_version") or 1)
    note = None
    if gen_version != cfg.cohort_version:
        note = (f"The bundled medXGAN generator was trained on cohort version {gen_version} "
                f"films against that version's demo CNN; this demo runs on version "
                f"{cfg.cohort_version}, so its films are inverted into a generator that has not "
                "seen their kind (expect a larger inversion error).")
    rec = explain_to_dir(G, C, films, run.root / "medxgan", info, settings, overwrite=True,
                         echo=lambda line: run.say("      " + line), note=note)
    if not exact:
        run.say("      note: this run's CNN differs bit-wise from the one the bundled medXGAN "
                "was trained against")
    if note:
        run.say("      note: " + note)
    run.notes["medxgan"] = {"status": "ok", "films": len(rec["films"]), "classifier_exact": exact,
                            "checkpoint_step": info.get("step"), "budget": b,
                            "generator_cohort_version": gen_version}
