import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmat.datasets import _adult as adult_module
from skmat.datasets import fetch_adult, make_colored_digits, make_spurious_memorization

SPLITS = ("train", "valid", "test")


def _adult_data_home():
    env = os.environ.get("SKMAT_DATA_HOME")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for path in candidates:
        if (path / "adult.data").is_file() and (path / "adult.test").is_file():
            return path
    return None


ADULT_HOME = _adult_data_home()
needs_adult = pytest.mark.skipif(
    ADULT_HOME is None,
    reason="Adult files not found (set SKMAT_DATA_HOME or place ../shared/data)",
)


def _assert_bunches_equal(a, b):
    for split in SPLITS:
        for key in ("X", "y", "group_labels"):
            np.testing.assert_array_equal(a[f"{key}_{split}"], b[f"{key}_{split}"])


# --------------------------------------------------------------------------
# make_spurious_memorization


@pytest.fixture(scope="module")
def spurious():
    return make_spurious_memorization(random_state=0)


def test_spurious_shapes_and_dtypes(spurious):
    for split in SPLITS:
        X = spurious[f"X_{split}"]
        y = spurious[f"y_{split}"]
        g = spurious[f"group_labels_{split}"]
        assert X.shape == (1000, 1800)
        assert X.dtype == np.float64
        assert y.shape == g.shape == (1000,)
        assert np.issubdtype(y.dtype, np.integer)
        assert np.issubdtype(g.dtype, np.integer)
        assert set(np.unique(y)) == {0, 1}
        assert set(np.unique(g)) <= {0, 1, 2, 3}
    assert spurious.feature_names[:3] == ["core", "spurious", "noise_0"]
    assert spurious.feature_names[-1] == "noise_1797"
    assert len(spurious.feature_names) == 1800
    assert spurious.minority_groups == [1, 2]
    assert spurious.group_names == {
        0: "y=0, a=0",
        1: "y=0, a=1",
        2: "y=1, a=0",
        3: "y=1, a=1",
    }
    assert "Bayat" in spurious.DESCR


def test_spurious_group_proportions(spurious):
    for split, n_minority in (("train", 100), ("valid", 500), ("test", 500)):
        y = spurious[f"y_{split}"]
        g = spurious[f"group_labels_{split}"]
        assert np.bincount(y).tolist() == [500, 500]
        a = g % 2
        np.testing.assert_array_equal(g // 2, y)
        assert int(np.sum(a != y)) == n_minority
        assert int(np.isin(g, [1, 2]).sum()) == n_minority


def test_spurious_feature_semantics(spurious):
    for split in SPLITS:
        X = spurious[f"X_{split}"]
        y = spurious[f"y_{split}"]
        a = spurious[f"group_labels_{split}"] % 2
        sign_y = 2 * y - 1
        # Core feature agrees in sign with the label everywhere.
        np.testing.assert_array_equal(np.sign(X[:, 0]), -sign_y)
        # Spurious feature agrees with the label exactly on the majority.
        agree = np.sign(X[:, 1]) == -sign_y
        np.testing.assert_array_equal(agree, a == y)
        # Magnitudes: about 1 and about spurious_scale.
        assert abs(np.abs(X[:, 0]).mean() - 1.0) < 0.05
        assert abs(np.abs(X[:, 1]).mean() - 5.0) < 0.25
        # Noise: zero mean, standard deviation 0.5.
        assert abs(X[:, 2:].std() - 0.5) < 0.01
        assert abs(X[:, 2:].mean()) < 0.01


def test_spurious_core_sign_convention():
    # x_core = (core_noise * z - 1) * (2y - 1): negative for y = 1.
    d = make_spurious_memorization(
        n_samples=8, n_features=2, core_noise=0.0, random_state=0
    )
    np.testing.assert_array_equal(d.X_train[:, 0], -(2 * d.y_train - 1))
    a = d.group_labels_train % 2
    np.testing.assert_array_equal(d.X_train[:, 1], -5.0 * (2 * a - 1))


def test_spurious_reproducible():
    kw = dict(n_samples=50, n_features=7)
    a = make_spurious_memorization(**kw, random_state=3)
    b = make_spurious_memorization(**kw, random_state=3)
    c = make_spurious_memorization(**kw, random_state=4)
    _assert_bunches_equal(a, b)
    assert not np.array_equal(a.X_train, c.X_train)
    rng_a = make_spurious_memorization(**kw, random_state=np.random.RandomState(3))
    _assert_bunches_equal(a, rng_a)


def test_spurious_odd_sizes_and_edges():
    d = make_spurious_memorization(
        n_samples=7,
        n_features=2,
        noise=0.0,
        majority_fraction=1.0,
        eval_majority_fraction=0.3,
        random_state=0,
    )
    assert d.X_train.shape == (7, 2)
    assert np.bincount(d.y_train, minlength=2).tolist() == [4, 3]
    assert not np.isin(d.group_labels_train, [1, 2]).any()
    assert int(np.isin(d.group_labels_valid, [1, 2]).sum()) == round(0.7 * 7)
    assert d.feature_names == ["core", "spurious"]


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_samples", 3),
        ("n_samples", 10.0),
        ("n_features", 1),
        ("noise", -0.1),
        ("spurious_scale", 0.0),
        ("core_noise", -1.0),
        ("majority_fraction", 0.0),
        ("majority_fraction", 1.1),
        ("eval_majority_fraction", -0.5),
        ("eval_majority_fraction", float("nan")),
        ("noise", "big"),
    ],
)
def test_spurious_bad_params(param, value):
    with pytest.raises(ValueError, match=param):
        make_spurious_memorization(**{param: value})


# --------------------------------------------------------------------------
# make_colored_digits


@pytest.fixture(scope="module")
def digits():
    return make_colored_digits(random_state=0)


def test_digits_shapes_and_dtypes(digits):
    n_total = 0
    for split in SPLITS:
        X = digits[f"X_{split}"]
        y = digits[f"y_{split}"]
        g = digits[f"group_labels_{split}"]
        assert X.shape[1] == 192
        assert X.dtype == np.float64
        assert X.min() >= 0.0 and X.max() <= 1.0
        assert y.shape == g.shape == (X.shape[0],)
        assert np.issubdtype(y.dtype, np.integer)
        np.testing.assert_array_equal(y, (digits[f"digits_{split}"] < 5).astype(int))
        n_total += X.shape[0]
    assert n_total == 1797
    assert digits.X_valid.shape[0] == round(0.25 * 1797)
    assert digits.X_test.shape[0] == round(0.25 * 1797)
    assert digits.feature_names[0] == "gray_0"
    assert digits.feature_names[64] == "red_0"
    assert digits.feature_names[128] == "green_0"
    assert len(digits.feature_names) == 192
    assert digits.minority_groups == [1, 2]
    assert digits.group_names[2] == "y=1, a=0"


def test_digits_colour_channels(digits):
    from sklearn.datasets import load_digits

    images = load_digits().data / 16.0
    for split in SPLITS:
        X = digits[f"X_{split}"]
        a = digits[f"group_labels_{split}"] % 2
        gray, red, green = X[:, :64], X[:, 64:128], X[:, 128:]
        assert np.all(red[a == 1] == 0)
        assert np.all(green[a == 0] == 0)
        img = red + green
        np.testing.assert_array_equal(img, gray)
        # Every coloured image is one of the original digit images.
        assert img.max() > 0
        row = img[0]
        assert np.any(np.all(np.isclose(images, row), axis=1))


def test_digits_without_grayscale_has_only_the_colour_channels():
    with_gray = make_colored_digits(random_state=0)
    colour_only = make_colored_digits(grayscale=False, random_state=0)
    assert colour_only.X_train.shape[1] == 128
    assert colour_only.feature_names[0] == "red_0"
    np.testing.assert_array_equal(colour_only.X_train, with_gray.X_train[:, 64:])


def test_digits_group_proportions(digits):
    for split, frac in (("train", 0.95), ("valid", 0.5), ("test", 0.5)):
        y = digits[f"y_{split}"]
        g = digits[f"group_labels_{split}"]
        np.testing.assert_array_equal(g // 2, y)
        n = y.shape[0]
        n_major = int(np.sum(g % 2 == y))
        assert n_major == round(frac * n)
        assert int(np.isin(g, [0, 3]).sum()) == n_major


def test_digits_stratified():
    d = make_colored_digits(random_state=1)
    shares = [d[f"y_{s}"].mean() for s in SPLITS]
    assert max(shares) - min(shares) < 0.01


def test_digits_reproducible():
    a = make_colored_digits(random_state=5)
    b = make_colored_digits(random_state=5)
    c = make_colored_digits(random_state=6)
    _assert_bunches_equal(a, b)
    assert not np.array_equal(a.X_train, c.X_train)


def test_digits_custom_sizes():
    d = make_colored_digits(
        majority_fraction=1.0, valid_size=0.1, test_size=0.2, random_state=0
    )
    assert d.X_valid.shape[0] == round(0.1 * 1797)
    assert d.X_test.shape[0] == round(0.2 * 1797)
    assert not np.isin(d.group_labels_train, [1, 2]).any()


@pytest.mark.parametrize(
    "param, value",
    [
        ("majority_fraction", 0.0),
        ("majority_fraction", 1.5),
        ("eval_majority_fraction", 0),
        ("valid_size", 0.0),
        ("valid_size", 1.0),
        ("test_size", -0.1),
        ("test_size", 0.8),
    ],
)
def test_digits_bad_params(param, value):
    with pytest.raises(ValueError, match=param):
        make_colored_digits(**{param: value})


def test_digits_positional_args_rejected():
    with pytest.raises(TypeError):
        make_colored_digits(0.9)


# --------------------------------------------------------------------------
# fetch_adult


@pytest.fixture(scope="module")
def adult_train():
    return fetch_adult(data_home=ADULT_HOME, subset="train", download_if_missing=False)


@pytest.fixture(scope="module")
def adult_test():
    return fetch_adult(data_home=ADULT_HOME, subset="test", download_if_missing=False)


@needs_adult
def test_adult_train_facts(adult_train):
    b = adult_train
    assert b.data.shape[0] == 32561
    assert b.data.dtype == np.float64
    assert b.target.dtype == np.int64
    assert set(np.unique(b.target)) == {0, 1}
    women_rich = int(np.sum((b.sensitive == 0) & (b.target == 1)))
    assert women_rich == 1179
    assert int(np.sum(b.group_labels == 2)) == 1179
    np.testing.assert_array_equal(b.group_labels, 2 * b.target + b.sensitive)
    assert b.group_names == {
        0: "<=50K, Female",
        1: "<=50K, Male",
        2: ">50K, Female",
        3: ">50K, Male",
    }
    assert list(b.target_names) == ["<=50K", ">50K"]
    assert b.frame is None
    assert "fnlwgt" not in " ".join(b.feature_names)
    assert len(b.feature_names) == b.data.shape[1]
    # The sex one-hot column matches the sensitive attribute.
    col = b.feature_names.index("sex_Male")
    np.testing.assert_array_equal(b.data[:, col], b.sensitive)


@needs_adult
def test_adult_test_facts(adult_train, adult_test):
    assert adult_test.data.shape[0] == 16281
    assert set(np.unique(adult_test.target)) == {0, 1}
    assert adult_test.feature_names == adult_train.feature_names
    assert adult_test.data.shape[1] == adult_train.data.shape[1]
    # "Holand-Netherlands" appears only in the training file; its column is
    # still there, all zeros, in the test subset.
    col = adult_test.feature_names.index("native-country_Holand-Netherlands")
    assert adult_test.data[:, col].sum() == 0
    assert adult_train.data[:, col].sum() > 0


@needs_adult
def test_adult_one_hot_missing_values(adult_train):
    b = adult_train
    cols = [i for i, n in enumerate(b.feature_names) if n.startswith("workclass_")]
    row_sums = b.data[:, cols].sum(axis=1)
    assert set(np.unique(row_sums)) == {0.0, 1.0}
    assert int(np.sum(row_sums == 0)) == 1836  # '?' in workclass


@needs_adult
def test_adult_all_subset(adult_train, adult_test):
    X, y = fetch_adult(data_home=ADULT_HOME, subset="all", return_X_y=True)
    assert X.shape == (32561 + 16281, adult_train.data.shape[1])
    np.testing.assert_array_equal(X[:32561], adult_train.data)
    np.testing.assert_array_equal(y[32561:], adult_test.target)


@needs_adult
def test_adult_as_frame():
    tr = fetch_adult(data_home=ADULT_HOME, subset="train", as_frame=True)
    te = fetch_adult(data_home=ADULT_HOME, subset="test", as_frame=True)
    assert isinstance(tr.data, pd.DataFrame)
    assert isinstance(tr.target, pd.Series)
    assert tr.target.name == "income"
    assert "fnlwgt" not in tr.data.columns
    assert list(tr.frame.columns) == list(tr.data.columns) + ["income"]
    assert tr.data.shape == (32561, 13)
    for col in tr.data.columns:
        if isinstance(tr.data[col].dtype, pd.CategoricalDtype):
            assert list(tr.data[col].cat.categories) == list(
                te.data[col].cat.categories
            )
        else:
            assert pd.api.types.is_numeric_dtype(tr.data[col])
    assert isinstance(tr.data["sex"].dtype, pd.CategoricalDtype)
    assert tr.data["workclass"].isna().sum() == 1836
    assert int(((tr.data["sex"] == "Female") & (tr.target == 1)).sum()) == 1179
    X, y = fetch_adult(
        data_home=ADULT_HOME, subset="test", as_frame=True, return_X_y=True
    )
    assert isinstance(X, pd.DataFrame) and X.shape == (16281, 13)
    assert set(y.unique()) == {0, 1}


def test_adult_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        fetch_adult(data_home=tmp_path, subset="valid")


def test_adult_missing_file_no_download(tmp_path):
    with pytest.raises(FileNotFoundError) as excinfo:
        fetch_adult(data_home=tmp_path, download_if_missing=False)
    message = str(excinfo.value)
    assert str(tmp_path / "adult.data") in message
    assert "data_home" in message
    assert list(tmp_path.iterdir()) == []


def test_adult_download_failure(tmp_path, monkeypatch):
    def fail(url, timeout=None):
        raise OSError("network unreachable")

    monkeypatch.setattr(adult_module.urllib.request, "urlopen", fail)
    home = tmp_path / "adult_home"
    with pytest.raises(OSError) as excinfo:
        fetch_adult(data_home=home, subset="test")
    message = str(excinfo.value)
    assert str(home / "adult.test") in message
    assert "data_home" in message
    # No partial file is left behind.
    assert not (home / "adult.test").exists()
    assert not home.exists() or list(home.iterdir()) == []


@needs_adult
def test_adult_download(tmp_path, monkeypatch):
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return open(ADULT_HOME / url.rsplit("/", 1)[-1], "rb")

    monkeypatch.setattr(adult_module.urllib.request, "urlopen", fake_urlopen)
    home = tmp_path / "new_home"
    b = fetch_adult(data_home=home, subset="test")
    assert requested == [
        "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.test"
    ]
    assert b.data.shape[0] == 16281
    assert sorted(p.name for p in home.iterdir()) == ["adult.test"]


@needs_adult
def test_adult_existing_files_not_touched(tmp_path, monkeypatch):
    for name in ("adult.data", "adult.test"):
        shutil.copy(ADULT_HOME / name, tmp_path / name)
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}

    def no_network(url, timeout=None):
        raise AssertionError("must not download when the files exist")

    monkeypatch.setattr(adult_module.urllib.request, "urlopen", no_network)
    fetch_adult(data_home=str(tmp_path), subset="all")
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert before == after
