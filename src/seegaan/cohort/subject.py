"""One radiograph's complete recipe: clinical variables, anatomical factors and pose.

A :class:`Subject` plus an output size determines the image exactly (its random parts come
from the two stored seeds), so re-rendering a subject with one field changed is a true
counterfactual.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    # identity and clinical variables (the cohort.csv columns of the same name)
    image_id: str = "demo"
    patient_id: str = "demo"
    sex: str = "M"  # "F" / "M"
    age: float = 63.0  # years
    ahf: int = 0  # acute heart failure, 0/1
    bnpp: float = 300.0  # NT-proBNP, pg/mL
    manufacturer: str = "Carestream"  # one of vendors.NAMES
    # anatomical factors (drive the image; recorded as gt_*)
    heart_scale: float = 1.0  # heart size relative to the source CT (CTR ~0.56), 0.70..1.40
    fat_mm: float = 10.0  # added subcutaneous fat shell, 0..40 mm
    breast_mm: float = 0.0  # breast soft-tissue thickness at its centre, 0 (men) .. 65 mm
    bmd: float = 1.0  # bone mineral density relative to a young adult, 0.4..1.3
    effusion_r_mm: float = 0.0  # fluid height above the right lateral costophrenic angle, mm
    effusion_l_mm: float = 0.0  # same, left
    congestion: float = 0.0  # pulmonary venous congestion / oedema, 0..1
    device: int = 0  # pacemaker with lead, 0/1
    # pose and individual anatomy (recorded as gt_* too)
    zoom: float = 1.0  # overall body size relative to the field, 0.85..1.15
    rotation_deg: float = 0.0  # in-plane rotation, degrees
    shift_x: float = 0.0  # translation, fraction of the image side (+ = to image right)
    shift_y: float = 0.0  # translation, fraction of the image side (+ = down)
    inspiration: float = 1.0  # cranio-caudal lung stretch about the apex, 0.88..1.10
    deform_mm: float = 6.0  # amplitude of the smooth random anatomy deformation, mm
    deform_seed: int = 0  # patient-level: the same patient keeps the same anatomy
    device_seed: int = 0  # patient-level placement of the pacemaker can and lead
    noise_seed: int = 0  # film-level quantum noise
    # -- cohort version 2 only (version 1 ignores every field below) --------------------------
    version: int = 1  # renderer generation: 1 (original) or 2 (PA framing, shape model, ...)
    site: str = "A"  # hospital site; the population and the vendor go with it
    egfr: float = 80.0  # renal function, mL/min/1.73 m² (v2 BNPP model)
    ap: int = 0  # 0: erect PA film; 1: AP portable (magnified heart, scapulae, text marker)
    lr_marker: int = 1  # lead side marker ("L") on the film, 0/1
    thorax_width: float = 1.0  # shape model: lateral scale of the chest, 0.85..1.15
    thorax_height: float = 1.0  # shape model: cranio-caudal scale (rib spacing follows), 0.88..1.12
    diaphragm_mm: float = 0.0  # shape model: dome elevation (+ = higher), -25..+25 mm
    heart_shift_mm: float = 0.0  # shape model: heart position (+ = to the patient's left), mm

    def replace(self, **changes) -> Subject:
        """A copy with some fields changed (see :func:`seegaan.cohort.counterfactual`)."""
        return dataclasses.replace(self, **changes)


# Fields a counterfactual may change, each with the gt_* column it drives.
FACTORS = {"heart_scale": "gt_ctr", "fat_mm": "gt_fat", "breast_mm": "gt_breast", "bmd": "gt_bmd",
           "effusion_r_mm": "gt_effusion", "effusion_l_mm": "gt_effusion",
           "congestion": "gt_congestion", "device": "gt_device",
           # version 2 only
           "ap": "gt_ap", "lr_marker": "gt_lr_marker", "thorax_width": "gt_thorax_width",
           "thorax_height": "gt_thorax_height", "diaphragm_mm": "gt_diaphragm",
           "heart_shift_mm": "gt_heart_shift"}
