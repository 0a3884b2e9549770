"""load_embeddings: layouts, formats and errors."""

import re

import numpy as np
import pytest
import torch

from skmat.datasets import load_embeddings

SPLITS = ("train", "valid", "test")


def _split(rng, n, n_features=6, n_attributes=2, n_classes=2):
    return {
        "X": rng.randn(n, n_features).astype(np.float32),
        "y": rng.randint(n_classes, size=n),
        "attribute": rng.randint(n_attributes, size=n),
    }


def _splits(seed=0, **kwargs):
    rng = np.random.RandomState(seed)
    return {
        s: _split(rng, n, **kwargs) for s, n in zip(SPLITS, (30, 20, 25), strict=True)
    }


def _save(path, arrays):
    if path.suffix == ".npz":
        np.savez(path, **arrays)
    else:
        torch.save({k: torch.as_tensor(v) for k, v in arrays.items()}, path)


def _write_dir(folder, splits, suffix, valid_stem="valid"):
    folder.mkdir(parents=True, exist_ok=True)
    for split, arrays in splits.items():
        stem = valid_stem if split == "valid" else split
        _save(folder / f"{stem}{suffix}", arrays)
    return folder


def _check(data, splits, n_attributes=2):
    for split in SPLITS:
        a = splits[split]
        np.testing.assert_array_equal(data[f"X_{split}"], a["X"])
        assert data[f"X_{split}"].dtype == np.float32
        np.testing.assert_array_equal(data[f"y_{split}"], a["y"])
        np.testing.assert_array_equal(data[f"attribute_{split}"], a["attribute"])
        np.testing.assert_array_equal(
            data[f"group_labels_{split}"], a["y"] * n_attributes + a["attribute"]
        )
        assert data[f"group_labels_{split}"].dtype == np.int64


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
@pytest.mark.parametrize("valid_stem", ["valid", "val"])
def test_directory_round_trip(tmp_path, suffix, valid_stem):
    splits = _splits()
    folder = _write_dir(tmp_path / "emb", splits, suffix, valid_stem)
    data = load_embeddings(folder)
    _check(data, splits)
    assert data.n_attributes == 2
    assert data.name is None
    assert "y * 2 + attribute" in data.DESCR


@pytest.mark.parametrize("suffix", [".npz", ".pt"])
def test_single_file_round_trip(tmp_path, suffix):
    splits = _splits(seed=1)
    flat = {f"{k}_{s}": v for s, a in splits.items() for k, v in a.items()}
    path = tmp_path / f"all{suffix}"
    _save(path, flat)
    _check(load_embeddings(path), splits)


def test_single_file_val_alias(tmp_path):
    splits = _splits()
    flat = {
        f"{k}_{'val' if s == 'valid' else s}": v
        for s, a in splits.items()
        for k, v in a.items()
    }
    np.savez(tmp_path / "all.npz", **flat)
    _check(load_embeddings(tmp_path / "all.npz"), splits)


def test_group_is_used_as_given(tmp_path):
    splits = _splits()
    for a in splits.values():
        a["group"] = 10 + a.pop("attribute")
    data = load_embeddings(_write_dir(tmp_path / "e", splits, ".npz"))
    for split in SPLITS:
        np.testing.assert_array_equal(
            data[f"group_labels_{split}"], splits[split]["group"]
        )
        assert data[f"attribute_{split}"] is None
    assert data.n_attributes is None


def test_n_attributes_spans_all_splits(tmp_path):
    splits = _splits(n_attributes=2, n_classes=3)
    splits["test"]["attribute"][0] = 2  # a third value, only in the test split
    data = load_embeddings(_write_dir(tmp_path / "e", splits, ".pt"))
    assert data.n_attributes == 3
    _check(data, splits, n_attributes=3)


def test_name_selects_a_subfolder(tmp_path):
    splits = _splits()
    _write_dir(tmp_path / "waterbirds", splits, ".npz")
    data = load_embeddings(tmp_path, name="waterbirds")
    _check(data, splits)
    assert data.name == "waterbirds"
    assert "Waterbirds" in data.DESCR


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_embeddings(missing)


def test_missing_split_file_is_named(tmp_path):
    splits = _splits()
    folder = _write_dir(tmp_path / "e", splits, ".npz")
    (folder / "test.npz").unlink()
    with pytest.raises(FileNotFoundError, match=r"'test' split in .*test\.npz"):
        load_embeddings(folder)


def test_split_without_labels(tmp_path):
    splits = _splits()
    del splits["valid"]["y"]
    folder = _write_dir(tmp_path / "e", splits, ".npz")
    with pytest.raises(ValueError, match="No labels for split 'valid'"):
        load_embeddings(folder)


def test_split_without_groups(tmp_path):
    splits = _splits()
    del splits["train"]["attribute"]
    with pytest.raises(ValueError, match="No groups for split 'train'.*'group'"):
        load_embeddings(_write_dir(tmp_path / "e", splits, ".npz"))


def test_single_file_missing_keys(tmp_path):
    splits = _splits()
    flat = {f"{k}_{s}": v for s, a in splits.items() for k, v in a.items()}
    del flat["X_test"]
    np.savez(tmp_path / "all.npz", **flat)
    with pytest.raises(ValueError, match="No features for split 'test'.*'X_test'"):
        load_embeddings(tmp_path / "all.npz")


def test_mismatched_lengths(tmp_path):
    splits = _splits()
    splits["train"]["y"] = splits["train"]["y"][:-1]
    with pytest.raises(ValueError, match="'y' of split 'train'.*30 rows"):
        load_embeddings(_write_dir(tmp_path / "e", splits, ".pt"))


def test_mismatched_features(tmp_path):
    splits = _splits()
    splits["test"]["X"] = splits["test"]["X"][:, :3]
    with pytest.raises(ValueError, match="different numbers of features"):
        load_embeddings(_write_dir(tmp_path / "e", splits, ".npz"))


def test_non_integer_labels(tmp_path):
    splits = _splits()
    splits["train"]["y"] = splits["train"]["y"] + 0.5
    with pytest.raises(ValueError, match="integer ids"):
        load_embeddings(_write_dir(tmp_path / "e", splits, ".npz"))


def test_pt_file_must_hold_a_dict(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "all.pt")
    with pytest.raises(ValueError, match="must hold a dict"):
        load_embeddings(tmp_path / "all.pt")


def test_unsupported_suffix(tmp_path):
    (tmp_path / "all.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match="Unsupported file type '.csv'"):
        load_embeddings(tmp_path / "all.csv")
