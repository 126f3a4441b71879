"""`seegaan prepare` end to end: a mixed collection, the cohort preset, and every bad input."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from seegaan.cli import main
from seegaan.data import PreparedDataset
from seegaan.data.prepared import from_uint16


def run(capsys, *args) -> tuple[int, str, str]:
    code = main(["prepare", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_no_output(out_dir):
    """Nothing at the target and no temporary leftovers beside it."""
    assert not out_dir.exists()
    assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.")]


def test_mixed_collection_prepares(mixed, tmp_path, capsys, kit):
    images, csv = mixed
    (images / "stray.png").write_bytes((images / "png8.png").read_bytes())  # no CSV row
    out = tmp_path / "data"
    code, stdout, err = run(capsys, "--images", images, "--csv", csv, "--out", out,
                            "--size", 32, "--workers", 1)
    assert code == 0, err
    assert "prepared 14 radiographs of 7 patients" in stdout and "skipped 1 (1 no CSV row)" in stdout

    ds = PreparedDataset(out)
    assert ds.images.dtype == np.uint16 and ds.images.shape == (14, 32, 32)
    assert list(ds.index.columns[:4]) == ["image_id", "patient_id", "split", "source_path"]
    assert ds.features == {"age": "numeric", "sex": "categorical"}
    x = ds.load_images()
    assert x.min() >= -1 and x.max() <= 1
    # Each image uses the full range: per-image min-max.
    assert np.allclose(x.amin(dim=(1, 2, 3)).numpy(), -1) and np.allclose(x.amax(dim=(1, 2, 3)).numpy(), 1)
    image, meta = ds[0]
    assert image.shape == (1, 32, 32) and meta["image_id"] == ds.index["image_id"][0]

    by_id = dict(zip(ds.index["image_id"], range(len(ds))))
    img = lambda i: from_uint16(ds.images[by_id[i]])  # noqa: E731
    # A known image survives the whole pipeline (16-bit PNG, crop 96x80 -> 80x80 -> 32).
    expected = kit.gradient(96, 80)[8:88]
    from seegaan.data.transform import fit_and_normalise
    ref = fit_and_normalise(expected.astype(np.float32), 32)
    assert np.abs(img("png16") - ref).max() < 2e-4                   # uint16 storage only
    assert np.abs(img("png8") - ref).max() < 0.02                    # 8-bit quantisation
    assert np.abs(img("npy_unit") - ref).max() < 2e-4
    # MONOCHROME1 is the negative of the same pixels read as MONOCHROME2.
    assert np.abs(img("dcm_mono1") + img("dcm_ct16")).max() < 1e-4

    skipped = pd.read_csv(out / "skipped.csv")
    assert skipped["reason"].tolist() == ["no CSV row"] and skipped["image_id"][0] == "stray"
    info = json.loads((out / "prepare.json").read_text())
    assert info["size"] == 32 and info["n_images"] == 14 and info["fit"] == "crop"
    assert info["split"] == [0.8, 0.1, 0.1] and info["seed"] == 0 and info["n_skipped"] == 1
    t1 = pd.read_csv(out / "table1.csv")
    assert str(t1.loc[t1.variable == "radiographs", "overall"].item()) == "14"
    assert (out / "table1.md").read_text().startswith("# Table 1")


def test_workers_give_identical_output(mixed, tmp_path):
    from seegaan.data.prepare import PrepareOptions, prepare

    images, csv = mixed
    a = prepare(images, csv, tmp_path / "a", options=PrepareOptions(size=24, workers=1))
    b = prepare(images, csv, tmp_path / "b", options=PrepareOptions(size=24, workers=2))
    assert a.n_images == b.n_images == 14
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "images.npy"),
                                  np.load(tmp_path / "b" / "images.npy"))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "index.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "index.parquet"))


def test_cohort_preset_auto_detected(tmp_path, capsys, kit):
    root = kit.write_cohort(tmp_path / "cohort")
    out = tmp_path / "data"
    code, stdout, err = run(capsys, "--images", root / "images", "--csv", root / "cohort.csv",
                            "--out", out, "--size", 32, "--seed", 1, "--stratify", "sex")
    assert code == 0, err
    assert "preset seegaan-cohort" in stdout
    info = json.loads((out / "prepare.json").read_text())
    assert info["preset"] == "seegaan-cohort"
    assert info["features"] == {"sex": "categorical", "age": "numeric", "ahf": "categorical",
                                "bnpp": "numeric", "manufacturer": "categorical",
                                "device": "categorical", "gt_ctr": "numeric",
                                "gt_fat": "numeric", "gt_bmd": "numeric"}
    assert info["cohort_version"] == 1  # cohort.json without cohort_version: version 1
    index = pd.read_parquet(out / "index.parquet")
    assert index.groupby("patient_id")["split"].nunique().max() == 1
    assert index["ahf"].dtype == np.int64  # 0/1 stays a number
    # Same seed, same split, from a fresh run (--frontal-only is a no-op: all cohort
    # images are PA by construction).
    code, _, err = run(capsys, "--images", root / "images", "--csv", root / "cohort.csv",
                       "--out", tmp_path / "again", "--size", 32, "--seed", 1, "--stratify",
                       "sex", "--frontal-only")
    assert code == 0, err
    assert pd.read_parquet(tmp_path / "again" / "index.parquet")["split"].equals(index["split"])


def test_cohort_v2_columns_and_version_recorded(tmp_path, capsys, kit):
    """Version 2's site, eGFR and projection become features, its new gt_* columns ground
    truth, and prepare.json records the version (the oracle that reads the films follows it)."""
    from seegaan.cohort.version import dataset_cohort_version

    root = kit.write_cohort(tmp_path / "cohort", version=2)
    out = tmp_path / "data"
    code, stdout, err = run(capsys, "--images", root / "images", "--csv", root / "cohort.csv",
                            "--out", out, "--size", 32)
    assert code == 0, err
    info = json.loads((out / "prepare.json").read_text())
    assert info["cohort_version"] == 2 and dataset_cohort_version(out) == 2
    f = info["features"]
    assert {k: f[k] for k in ("site", "egfr", "projection")} == {
        "site": "categorical", "egfr": "numeric", "projection": "categorical"}
    for gt in ("gt_ap", "gt_lr_marker", "gt_thorax_width", "gt_diaphragm", "gt_ctr"):
        assert f[gt] == "numeric"
    index = pd.read_parquet(out / "index.parquet")
    assert set(index["projection"]) == {"AP", "PA"} and index["egfr"].notna().all()
    # An older prepared folder (no cohort_version) is traced back to its cohort.json.
    del info["cohort_version"]
    (out / "prepare.json").write_text(json.dumps(info))
    assert dataset_cohort_version(out) == 2


def test_skip_bad_lists_unreadable_images_and_keeps_rows_aligned(mixed, tmp_path, capsys, kit):
    images, csv = mixed
    png = images / "png8.png"
    png.write_bytes(png.read_bytes()[:60])  # truncated
    shutil.copy(kit.dicom_file("rtplan.dcm"), images / "dcm_rle.dcm")  # no pixel data
    out = tmp_path / "data"
    code, stdout, err = run(capsys, "--images", images, "--csv", csv, "--out", out, "--size", 16,
                            "--skip-bad")
    assert code == 0, err
    assert "prepared 12 radiographs" in stdout and "skipped 2 (2 unreadable)" in stdout
    index = pd.read_parquet(out / "index.parquet")
    assert set(index["image_id"]) == {"png16", "png_rgb", "jpg8", "jpg_rgb", "tif16",
                                      "tif_float", "npy_unit", "npy_int", "dcm_ct16",
                                      "dcm_mr_window", "dcm_j2k", "dcm_mono1"}
    arr = np.load(out / "images.npy")
    assert arr.shape == (12, 16, 16)
    # Rows still match their images after dropping the bad ones.
    pos = index.index[index["image_id"] == "dcm_mono1"][0]
    ct = index.index[index["image_id"] == "dcm_ct16"][0]
    assert np.abs(from_uint16(arr[pos]) + from_uint16(arr[ct])).max() < 1e-4
    reasons = pd.read_csv(out / "skipped.csv")["reason"]
    assert reasons.str.contains("corrupt or truncated").sum() == 1
    assert reasons.str.contains("no pixel data").sum() == 1


def _bad(kind, images, csv, kit):
    """Damage a good collection in one way."""
    table = pd.read_csv(csv, dtype=str)
    if kind == "corrupt":
        p = images / "png16.png"
        p.write_bytes(p.read_bytes()[:100])
    elif kind == "no_pixels":
        shutil.copy(kit.dicom_file("rtplan.dcm"), images / "dcm_ct16.dcm")
    elif kind == "jpeg_ls":
        shutil.copy(kit.dicom_file("MR_small_jpeg_ls_lossless.dcm"), images / "dcm_rle.dcm")
    elif kind == "missing_file":
        (images / "tif16.tif").unlink()
    elif kind == "two_files_one_id":
        shutil.copy(images / "png16.png", images / "sub" / "png16.tif")
    elif kind == "duplicate":
        table.loc[5, "image_id"] = "png16"
    elif kind == "missing_column":
        table = table.drop(columns=["patient_id"])
    elif kind == "non_numeric":
        table.loc[1, "age"] = "sixty"
    elif kind == "empty":
        table = table.iloc[:0]
    table.to_csv(csv, index=False)


@pytest.mark.parametrize("kind, message", [
    ("corrupt", "png16.png: corrupt or truncated image"),
    ("no_pixels", "dcm_ct16.dcm: DICOM has no pixel data"),
    ("jpeg_ls", "dcm_rle.dcm: cannot decode transfer syntax 'JPEG-LS Lossless"),
    ("missing_file", "table.csv line 7: no file named tif16.* under"),
    ("two_files_one_id", "table.csv line 2: image id 'png16' matches 2 files"),
    ("duplicate", "table.csv lines 2 and 7: duplicate image id 'png16'"),
    ("missing_column", "table.csv: column 'patient_id' not found (set it with --patient-col"),
    ("non_numeric", "table.csv line 3, column 'age': 'sixty' is not a number"),
    ("empty", "no images left to prepare"),
])
def test_bad_input_one_line_exit_2_and_no_output(mixed, tmp_path, capsys, kit, kind, message):
    images, csv = mixed
    _bad(kind, images, csv, kit)
    out = tmp_path / "data"
    code, stdout, err = run(capsys, "--images", images, "--csv", csv, "--out", out, "--size", 16,
                            "--workers", 1)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert message in err
    assert_no_output(out)


def test_existing_output_is_refused_and_kept(mixed, tmp_path, capsys):
    images, csv = mixed
    out = tmp_path / "data"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    code, _, err = run(capsys, "--images", images, "--csv", csv, "--out", out)
    assert code == 2 and "already exists (pass --overwrite" in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_bad_options_are_one_line_errors(mixed, tmp_path, capsys):
    images, csv = mixed
    for extra, message in ((["--size", "4"], "--size 4"),
                           (["--split", "0.5,0.5"], "--split"),
                           (["--stratify", "bmi"], "--stratify 'bmi': not a feature"),
                           (["--frontal-only"], "--frontal-only needs a view column"),
                           (["--clip-percentiles", "99,1"], "--clip-percentiles"),
                           (["--numeric", "sex"], "'F' is not a number")):
        code, _, err = run(capsys, "--images", images, "--csv", csv, "--out", tmp_path / "o",
                           *extra)
        assert code == 2 and message in err and err.count("\n") == 1, (extra, err)
        assert_no_output(tmp_path / "o")


def test_preset_choices_come_from_the_registry(mixed, tmp_path, capsys):
    """The CLI offers exactly the registered presets, so a new preset needs one edit."""
    from seegaan.cli.prepare import prepare as command
    from seegaan.data.presets import PRESETS

    choices = next(p for p in command.params if p.name == "preset").type.choices
    assert list(choices) == ["auto", "none", *PRESETS]
    images, csv = mixed
    code, _, err = run(capsys, "--images", images, "--csv", csv, "--out", tmp_path / "o",
                       "--preset", "no-such-preset")
    assert code == 2 and all(name in err for name in PRESETS)
    assert_no_output(tmp_path / "o")
