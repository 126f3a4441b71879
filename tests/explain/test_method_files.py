"""The explanation interface's files: what a method writes is what every consumer reads."""

import numpy as np
import pytest
import torch

from seegaan.errors import InputError, OptionError
from seegaan.explain.methods import (
    Case,
    Context,
    Method,
    available,
    case_folder,
    get_method,
    load_explanation,
    names,
    read_manifest,
    register,
    save_explanation,
    unregister,
    write_manifest,
)


class _Flat(Method):
    name = "flat_test_method"
    title = "Flat"
    needs_model = False

    def run(self, case, ctx):
        img = case.image[0, 0].numpy()
        frames = np.stack([img, img + 0.5])
        return self.explanation(map=np.full_like(img, 2.0), frames=frames,
                                steps=np.array([0.0, 1.0]), predictions=np.array([1.0, np.nan]),
                                scalars={"calls": np.int64(3), "lam": np.float32(0.25)})


@pytest.fixture
def flat():
    register(_Flat)
    yield
    unregister(_Flat.name)


def test_round_trip_keeps_every_array_and_scalar(tmp_path, flat):
    case = Case("img 1", torch.linspace(-1, 1, 16).reshape(1, 1, 4, 4))
    exp = get_method("flat_test_method").run(case, Context())
    back = load_explanation(save_explanation(exp, case_folder(tmp_path, case.image_id, exp.method)))
    assert back.method == exp.method and back.kind == exp.kind
    np.testing.assert_array_equal(back.map, exp.map)
    np.testing.assert_array_equal(back.frames, exp.frames.astype(np.float32))
    np.testing.assert_array_equal(back.steps, [0.0, 1.0])
    assert np.isnan(back.predictions[1])
    assert back.scalars == {"calls": 3, "lam": 0.25}
    np.testing.assert_allclose(back.difference, np.full((4, 4), 0.5), atol=1e-6)


def test_case_folder_never_leaves_the_run(tmp_path):
    for hostile in ("../../etc/passwd", "/abs/path", "..", "a\\..\\b"):
        folder = case_folder(tmp_path, hostile, "m").resolve()
        assert tmp_path.resolve() / "cases" in folder.parents


def test_registry_refuses_unknown_and_lists_registered(flat):
    assert "flat_test_method" in names()
    assert "flat_test_method" in available(Context())
    with pytest.raises(OptionError, match="unknown explanation method"):
        get_method("no_such_method")


def test_a_method_needing_a_model_is_unavailable_without_one():
    class NeedsModel(_Flat):
        name = "needs_model_test"
        needs_model = True

    register(NeedsModel)
    try:
        assert "needs_model_test" not in available(Context())
        assert "needs a model" in get_method("needs_model_test").unavailable(Context())
    finally:
        unregister("needs_model_test")


def test_manifest_round_trip_and_foreign_file(tmp_path):
    write_manifest(tmp_path, [{"image_id": "a", "category": "TP"}], ["x"], {"target": "bnpp"})
    m = read_manifest(tmp_path)
    assert m["cases"][0]["category"] == "TP" and m["target"] == "bnpp"
    (tmp_path / "manifest.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a seegaan explanation manifest"):
        read_manifest(tmp_path)
