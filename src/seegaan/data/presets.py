"""Column mappings: how a clinical CSV names its image id, patient, view and features.

A :class:`TableSpec` says which CSV column holds what. Presets are ready-made specs for the
public collections people already have, checked against their real label tables:

============== ============================================ ==================================
preset         table                                        images
============== ============================================ ==================================
nih-cxr14      ``Data_Entry_2017.csv`` (or ``_v2020``)       ``images*/…/00000001_000.png``
chexpert       ``train.csv`` / ``valid.csv``                 ``CheXpert-v1.0*/train/patient…``
mimic-cxr-jpg  ``mimic-cxr-2.0.0-metadata.csv`` (optionally  ``files/p10/p1000…/s5…/{dicom_id}.jpg``
               merged with the CheXpert-label CSV / MIMIC-IV
               ``patients`` for ``gender``/``anchor_age``)
padchest       ``PADCHEST_chest_x_ray_images_labels_160K…``  ``{ImageDir}/{ImageID}`` (16-bit)
seegaan-cohort ``cohort.csv`` of ``seegaan cohort``          ``images/{image_id}.png``
============== ============================================ ==================================

Example::

    spec = get_preset("padchest")
    spec.patient_col            # "PatientID"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from seegaan.errors import OptionError

# View values (case-insensitive) that count as frontal for --frontal-only, across presets.
FRONTAL_VIEWS = frozenset({"pa", "ap", "frontal", "ap_horizontal", "ap supine",
                           "posteroanterior", "anteroposterior"})


@dataclass
class TableSpec:
    """Where each piece of information lives in the CSV (column names, or ``None``)."""

    image_col: str | None = "image_id"     # id matched to file stems (an extension is ignored)
    path_col: str | None = None            # file path relative to --images (instead of stems)
    patient_col: str | None = "patient_id"  # patient id; the split never separates a patient
    view_col: str | None = None            # projection, for --frontal-only
    numeric: dict[str, str] = field(default_factory=dict)      # feature name -> source column
    categorical: dict[str, str] = field(default_factory=dict)  # feature name -> source column
    infer_rest: bool = False               # every other column becomes a feature, type inferred
    optional: frozenset[str] = frozenset()  # features silently left out when their column is absent
    derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None  # adds computed columns first
    all_frontal: bool = False              # every image is frontal: --frontal-only is a no-op
    name: str = "columns"                  # preset name, recorded in prepare.json

    def with_overrides(self, **kwargs) -> TableSpec:
        """A copy with the given non-``None`` fields replaced (explicit CLI options win)."""
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})


# --- seegaan-cohort ----------------------------------------------------------------------

def cohort_spec(columns: list[str] | None = None) -> TableSpec:
    """The virtual cohort's ``cohort.csv``: clinical features plus every ``gt_*`` factor."""
    cols = list(columns or [])
    gt = [c for c in cols if c.startswith("gt_")]
    # Version 2 adds site, eGFR and projection (PA / AP portable) after device; version 1
    # has none of them, and a column that is absent is left out (``optional``).
    numeric = {c: c for c in ("age", "bnpp", "egfr") if c in cols or c in ("age", "bnpp")}
    categorical = {c: c for c in ("sex", "ahf", "manufacturer", "device", "site", "projection")
                   if c in cols or c in ("sex", "ahf", "manufacturer", "device")}
    return TableSpec(
        image_col="image_id", patient_col="patient_id",
        numeric={**numeric, **{c: c for c in gt}},
        categorical=categorical,
        # Tolerant of an older or newer cohort that lacks a column: drop it, do not fail.
        optional=frozenset({*numeric, *categorical, *gt}),
        all_frontal=True,  # PA and AP portable films: every one is frontal
        name="seegaan-cohort",
    )


# --- NIH ChestX-ray14 --------------------------------------------------------------------

NIH_FINDINGS = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion",
                "Emphysema", "Fibrosis", "Hernia", "Infiltration", "Mass", "Nodule",
                "Pleural_Thickening", "Pneumonia", "Pneumothorax")


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _nih(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    # Some releases write ages as '058Y'; the 2017/2020 tables use plain integers.
    df["Patient Age"] = df["Patient Age"].astype("string").str.replace(r"[Yy]$", "", regex=True)
    labels = df["Finding Labels"].fillna("").astype(str).str.split("|")
    for finding in NIH_FINDINGS:
        df[f"__{_snake(finding)}"] = labels.map(lambda ls, f=finding: int(f in ls))
    return df


def nih_spec() -> TableSpec:
    """NIH ChestX-ray14 ``Data_Entry_2017.csv``: ids like ``00000001_000.png``."""
    return TableSpec(
        image_col="Image Index", patient_col="Patient ID", view_col="View Position",
        numeric={"age": "Patient Age"},
        categorical={"sex": "Patient Gender", "view": "View Position",
                     **{_snake(f): f"__{_snake(f)}" for f in NIH_FINDINGS}},
        derive=_nih, name="nih-cxr14",
    )


# --- CheXpert ----------------------------------------------------------------------------

CHEXPERT_OBSERVATIONS = ("No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly",
                         "Lung Opacity", "Lung Lesion", "Edema", "Consolidation", "Pneumonia",
                         "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                         "Fracture", "Support Devices")
# CheXpert's label coding: 1 positive, 0 negative, -1 uncertain, blank not mentioned.
_CHEXPERT_CODES = {"1.0": "positive", "1": "positive", "0.0": "negative", "0": "negative",
                   "-1.0": "uncertain", "-1": "uncertain"}


def _chexpert(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    path = df["Path"].astype(str)
    # Stems repeat across studies (view1_frontal.jpg), so the id keeps patient and study.
    df["__image_id"] = path.str.extract(r"(patient\d+/study\d+/[^/]+?)(?:\.\w+)?$")[0]
    df["__image_id"] = df["__image_id"].fillna(path.str.replace(r"\.\w+$", "", regex=True))
    df["__patient"] = path.str.extract(r"(patient\d+)")[0]
    for obs in CHEXPERT_OBSERVATIONS:
        if obs in df.columns:
            df[f"__{_snake(obs)}"] = df[obs].astype("string").map(_CHEXPERT_CODES.get,
                                                                  na_action="ignore")
    return df


def chexpert_spec() -> TableSpec:
    """CheXpert ``train.csv``/``valid.csv``: a ``Path`` column, patient taken from the path."""
    obs = {_snake(o): f"__{_snake(o)}" for o in CHEXPERT_OBSERVATIONS}
    return TableSpec(
        image_col="__image_id", path_col="Path", patient_col="__patient",
        view_col="Frontal/Lateral",
        numeric={"age": "Age"},
        categorical={"sex": "Sex", "view": "AP/PA", **obs},
        optional=frozenset(obs), derive=_chexpert, name="chexpert",
    )


# --- MIMIC-CXR-JPG -----------------------------------------------------------------------

MIMIC_LABELS = CHEXPERT_OBSERVATIONS  # the mimic-cxr-2.0.0-chexpert.csv columns


def _mimic(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for obs in MIMIC_LABELS:
        if obs in df.columns:
            df[f"__{_snake(obs)}"] = df[obs].astype("string").map(_CHEXPERT_CODES.get,
                                                                  na_action="ignore")
    return df


def mimic_spec() -> TableSpec:
    """MIMIC-CXR-JPG ``mimic-cxr-2.0.0-metadata.csv`` (files ``…/{dicom_id}.jpg``).

    The metadata table has no age or sex; merge MIMIC-IV ``patients`` (``gender``,
    ``anchor_age``) or the CheXpert-label CSV into it first and those columns are used too.
    """
    obs = {_snake(o): f"__{_snake(o)}" for o in MIMIC_LABELS}
    return TableSpec(
        image_col="dicom_id", patient_col="subject_id", view_col="ViewPosition",
        numeric={"age": "anchor_age"},
        categorical={"sex": "gender", "view": "ViewPosition", **obs},
        optional=frozenset({"age", "sex", *obs}), derive=_mimic, name="mimic-cxr-jpg",
    )


# --- PadChest ----------------------------------------------------------------------------

def _padchest(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    # Age at the study = study year - birth year (PadChest gives only the year of birth).
    study_year = pd.to_numeric(df["StudyDate_DICOM"].astype("string").str[:4], errors="coerce")
    birth = pd.to_numeric(df["PatientBirth"], errors="coerce")
    df["__age"] = (study_year - birth).astype("float64")
    df["__sex"] = df["PatientSex_DICOM"].replace({"None": np.nan})
    df["__manufacturer"] = df["Manufacturer_DICOM"].replace({"None": np.nan})
    return df


def padchest_spec() -> TableSpec:
    """PadChest ``PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv``."""
    return TableSpec(
        image_col="ImageID", patient_col="PatientID", view_col="Projection",
        numeric={"age": "__age"},
        categorical={"sex": "__sex", "manufacturer": "__manufacturer", "view": "Projection"},
        derive=_padchest, name="padchest",
    )


# --- registry and auto-detection ---------------------------------------------------------

PRESETS: dict[str, Callable[..., TableSpec]] = {
    "seegaan-cohort": cohort_spec,
    "nih-cxr14": nih_spec,
    "chexpert": chexpert_spec,
    "mimic-cxr-jpg": mimic_spec,
    "padchest": padchest_spec,
}

# Columns whose joint presence identifies each public table.
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "nih-cxr14": ("Image Index", "Patient ID", "Finding Labels"),
    "chexpert": ("Path", "Frontal/Lateral"),
    "mimic-cxr-jpg": ("dicom_id", "subject_id", "ViewPosition"),
    "padchest": ("ImageID", "PatientID", "PatientBirth"),
    "seegaan-cohort": ("image_id", "patient_id", "ahf", "bnpp"),
}


def get_preset(name: str, columns: list[str] | None = None) -> TableSpec:
    """The :class:`TableSpec` of a named preset (``columns`` lets the cohort find its ``gt_*``).

    Example::

        get_preset("nih-cxr14").image_col        # "Image Index"
    """
    if name not in PRESETS:
        raise OptionError(f"--preset {name!r}: unknown (choose from {', '.join(PRESETS)})")
    factory = PRESETS[name]
    return factory(columns) if name == "seegaan-cohort" else factory()


def detect_preset(columns: list[str], csv_path: Path | None = None,
                  images_dir: Path | None = None) -> str | None:
    """Guess the preset from a ``cohort.json`` beside the data, then from the CSV's columns.

    Returns ``None`` when nothing matches (plain column options then apply).

    Example::

        detect_preset(["Path", "Sex", "Age", "Frontal/Lateral"])     # "chexpert"
    """
    places = []
    if csv_path is not None:
        places.append(Path(csv_path).parent)
    if images_dir is not None:
        places += [Path(images_dir), Path(images_dir).parent]
    if any((p / "cohort.json").is_file() for p in places):
        return "seegaan-cohort"
    cols = set(columns)
    for name, needed in _SIGNATURES.items():
        if all(c in cols for c in needed):
            return name
    return None
