"""Presets for public collections, on tiny excerpts of their real tables (tests/data/fixtures)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from seegaan.data.prepare import PrepareOptions, prepare, resolve_spec
from seegaan.data.presets import detect_preset
from seegaan.data.table import build_table, read_csv


def _touch_png(path, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (20, 24), dtype=np.uint8)).save(path)


def test_nih_preset(tmp_path, kit):
    csv = kit.fixtures / "nih_Data_Entry_2017_excerpt.csv"
    ids = read_csv(csv)["Image Index"]
    for k, name in enumerate(ids):  # NIH ships images in images_001/images/... folders
        _touch_png(tmp_path / "nih" / f"images_00{k % 2 + 1}" / "images" / name, k)
    spec = resolve_spec(csv, tmp_path / "nih")
    assert spec.name == "nih-cxr14"
    res = build_table(csv, tmp_path / "nih", spec, frontal_only=True)
    t = res.table
    assert len(t) == 7 and t["image_id"][0] == "00000001_000.png"
    assert t["patient_id"].tolist() == ["1", "1", "1", "2", "3", "3", "4"]
    assert t["age"].tolist() == [57, 58, 58, 80, 74, 75, 82]
    assert t["sex"].tolist()[:4] == ["M", "M", "M", "M"]
    assert t["cardiomegaly"].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert t["effusion"].tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert t["view"].tolist()[-1] == "AP"
    assert res.features["age"] == "numeric" and res.features["hernia"] == "categorical"


def test_chexpert_preset_paths_and_frontal_only(tmp_path, kit):
    csv = kit.fixtures / "chexpert_train_synthetic.csv"
    root = tmp_path / "CheXpert-v1.0-small"
    for k, p in enumerate(read_csv(csv)["Path"]):
        _touch_png(tmp_path / p, k)  # .jpg names, PNG bytes: Pillow reads by content
    assert detect_preset(list(read_csv(csv, nrows=0).columns)) == "chexpert"
    # --images may point at the CheXpert folder itself or at its parent.
    for images in (root, tmp_path):
        res = build_table(csv, images, resolve_spec(csv, images), frontal_only=True)
        t = res.table
        assert t["image_id"].tolist() == ["patient00001/study1/view1_frontal",
                                          "patient00002/study1/view1_frontal",
                                          "patient00002/study2/view1_frontal",
                                          "patient00003/study1/view1_frontal"]
        assert t["patient_id"].tolist() == ["patient00001", "patient00002", "patient00002",
                                            "patient00003"]
        assert t["cardiomegaly"].fillna("?").tolist() == ["?", "positive", "negative", "uncertain"]
        assert t["sex"].tolist() == ["Female", "Male", "Male", "Female"]
        assert [s["reason"] for s in res.skipped] == ["not frontal (view Lateral)"]


def test_padchest_preset_age_from_birth_year(tmp_path, kit):
    csv = kit.fixtures / "padchest_synthetic.csv"
    table = read_csv(csv)
    for k, (d, name) in enumerate(zip(table["ImageDir"], table["ImageID"])):
        p = tmp_path / "pc" / d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        kit.save_png16(p, kit.gradient(30, 30) ** (k + 1))  # PadChest images are 16-bit PNGs
    res = build_table(csv, tmp_path / "pc", resolve_spec(csv, tmp_path / "pc"),
                      frontal_only=True)
    t = res.table
    assert t["image_id"].tolist() == ["111_aa.png", "222_aa.png", "333_aa.png"]
    assert t["age"].tolist()[:2] == [84.0, 65.0] and np.isnan(t["age"][2])
    assert t["sex"].fillna("?").tolist() == ["F", "M", "?"]
    assert t["manufacturer"].tolist() == ["ImagingDynamicsCompanyLtd", "PhilipsMedicalSystems",
                                          "PhilipsMedicalSystems"]
    assert t["view"].tolist() == ["PA", "PA", "AP"]
    assert [s["reason"] for s in res.skipped] == ["not frontal (view L)"]


def test_mimic_preset(tmp_path, kit):
    csv = kit.fixtures / "mimic_cxr_metadata_synthetic.csv"
    table = read_csv(csv)
    for k, row in table.iterrows():
        sub = row["subject_id"]
        _touch_png(tmp_path / "files" / f"p{sub[:2]}" / f"p{sub}" / f"s{row['study_id']}"
                   / f"{row['dicom_id']}.jpg", k)
    spec = resolve_spec(csv, tmp_path / "files")
    assert spec.name == "mimic-cxr-jpg"
    res = build_table(csv, tmp_path / "files", spec, frontal_only=True)
    assert res.table["patient_id"].tolist() == ["10000001", "10000002"]
    assert res.features == {"view": "categorical"}  # no age/sex unless merged in


def test_nih_prepares_end_to_end(tmp_path, kit):
    csv = kit.fixtures / "nih_Data_Entry_2017_excerpt.csv"
    for k, name in enumerate(read_csv(csv)["Image Index"]):
        _touch_png(tmp_path / "nih" / name, k)
    res = prepare(tmp_path / "nih", csv, tmp_path / "data", options=PrepareOptions(size=16))
    assert res.preset == "nih-cxr14" and res.n_images == 7 and res.n_patients == 4
    t1 = pd.read_csv(tmp_path / "data" / "table1.csv")
    assert {"age", "sex", "view", "cardiomegaly"} <= set(t1["variable"])


def test_explicit_columns_with_a_path_column(tmp_path, kit):
    (tmp_path / "imgs" / "a").mkdir(parents=True)
    for k in range(6):
        kit.save_png16(tmp_path / "imgs" / "a" / f"x{k}.png", kit.gradient(20, 20) ** (k + 1))
    pd.DataFrame({"file": [f"a/x{k}.png" for k in range(6)],
                  "mrn": ["m1", "m1", "m2", "m3", "m4", "m5"],
                  "bmi": [20, 22.5, 31, 27, 24, 29], "smoker": ["y", "y", "n", "n", "y", "n"],
                  "note": ["ok"] * 6}).to_csv(tmp_path / "t.csv", index=False)
    spec = resolve_spec(tmp_path / "t.csv", tmp_path / "imgs", "none", path_col="file",
                        patient_col="mrn", numeric=["bmi"], categorical=["smoker"])
    res = build_table(tmp_path / "t.csv", tmp_path / "imgs", spec)
    assert res.table["image_id"].tolist() == [f"a/x{k}" for k in range(6)]
    assert res.features == {"bmi": "numeric", "smoker": "categorical"}
    # Without feature options, every other column is a feature with an inferred type.
    spec = resolve_spec(tmp_path / "t.csv", tmp_path / "imgs", "none", path_col="file",
                        patient_col="mrn")
    res = build_table(tmp_path / "t.csv", tmp_path / "imgs", spec)
    assert res.features == {"bmi": "numeric", "smoker": "categorical", "note": "categorical"}


def test_cohort_detected_before_gt_columns_exist(tmp_path, kit):
    """Tolerant: an older cohort without some columns still prepares with what it has."""
    root = kit.write_cohort(tmp_path / "c", n=6)
    df = pd.read_csv(root / "cohort.csv").drop(columns=["gt_fat", "gt_bmd", "device"])
    df.to_csv(root / "cohort.csv", index=False)
    res = build_table(root / "cohort.csv", root / "images",
                      resolve_spec(root / "cohort.csv", root / "images"))
    assert list(res.features) == ["sex", "age", "ahf", "bnpp", "manufacturer", "gt_ctr"]


@pytest.mark.parametrize("preset", ["nih-cxr14", "padchest"])
def test_wrong_preset_names_the_missing_column(tmp_path, kit, preset, capsys):
    from seegaan.cli import main

    root = kit.write_cohort(tmp_path / "c", n=3)
    shutil.rmtree(root / "images")
    (root / "images").mkdir()
    code = main(["prepare", "--images", str(root / "images"), "--csv", str(root / "cohort.csv"),
                 "--out", str(tmp_path / "o"), "--preset", preset])
    err = capsys.readouterr().err
    assert code == 2 and "not found" in err and f"preset {preset}" in err
