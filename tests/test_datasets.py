import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skmat.datasets import _adult as adult_module
from skmat.datasets import fetch_adult, make_colored_digits, make_spurious_memorization

SPLITS = ("train", "valid", "test")


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RAW_FILES = ("adult.data", "adult.test")
# Captured before any test monkeypatches it.
PACKAGE_DATA = adult_module._PACKAGE_DATA


def _raw_adult(name):
    """The uncompressed bytes of a raw Adult file, from the packaged copy."""
    return gzip.decompress((PACKAGE_DATA / f"{name}.gz").read_bytes())


@pytest.fixture
def no_network(monkeypatch):
    def fail(url, timeout=None):
        raise AssertionError(f"the network must not be used (asked for {url})")

    monkeypatch.setattr(adult_module.urllib.request, "urlopen", fail)


@pytest.fixture
def no_packaged_copy(tmp_path, monkeypatch):
    """Pretend the data files were not shipped, and use an empty download cache."""
    monkeypatch.setattr(adult_module, "_PACKAGE_DATA", tmp_path / "no_package_data")
    monkeypatch.setattr(
        adult_module, "_default_data_home", lambda: tmp_path / "default_home"
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


def test_digits_params_validated_by_sklearn():
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="make_colored_digits") as exc:
        make_colored_digits(majority_fraction=1.5)
    assert isinstance(exc.value, ValueError)
    assert "(0, 1]" in str(exc.value) or "(0.0, 1.0]" in str(exc.value)
    with pytest.raises(InvalidParameterError, match="grayscale"):
        make_colored_digits(grayscale="no")
    with pytest.raises(InvalidParameterError, match="random_state"):
        make_colored_digits(random_state="seed")


@pytest.fixture(scope="module")
def digits3():
    return make_colored_digits(n_classes=3, random_state=0)


def test_digits_multiclass_shapes(digits3):
    d = digits3
    n_total = 0
    for split in SPLITS:
        X, y, g = d[f"X_{split}"], d[f"y_{split}"], d[f"group_labels_{split}"]
        assert X.shape[1] == 64 * 4
        assert y.shape == g.shape == (X.shape[0],)
        assert set(np.unique(y)) == {0, 1, 2}
        assert g.min() >= 0 and g.max() <= 8
        # {0, 1, 2, 3} -> 0, {4, 5, 6} -> 1, {7, 8, 9} -> 2
        expected = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])[d[f"digits_{split}"]]
        np.testing.assert_array_equal(y, expected)
        n_total += X.shape[0]
    assert n_total == 1797
    assert d.colour_names == ["red", "green", "blue"]
    assert d.feature_names[64] == "red_0"
    assert d.feature_names[128] == "green_0"
    assert d.feature_names[192] == "blue_0"
    assert len(d.feature_names) == 256
    assert d.group_names == {
        3 * c + k: f"y={c}, a={k}" for c in range(3) for k in range(3)
    }
    assert d.minority_groups == [1, 2, 3, 5, 6, 7]
    shares = [np.bincount(d[f"y_{s}"]) / len(d[f"y_{s}"]) for s in SPLITS]
    assert np.ptp(shares, axis=0).max() < 0.01  # stratified on y


def test_digits_multiclass_colours(digits3):
    d = digits3
    for split, frac in (("train", 0.95), ("valid", 0.5), ("test", 0.5)):
        X, y, g = d[f"X_{split}"], d[f"y_{split}"], d[f"group_labels_{split}"]
        a = g % 3
        np.testing.assert_array_equal(g // 3, y)
        assert int(np.sum(a == y)) == round(frac * len(y))
        assert np.isin(g[a != y], d.minority_groups).all()
        gray = X[:, :64]
        for k in range(3):
            channel = X[:, 64 * (k + 1) : 64 * (k + 2)]
            assert np.all(channel[a != k] == 0)
            np.testing.assert_array_equal(channel[a == k], gray[a == k])


def test_digits_multiclass_minority_colours_uniform():
    # On the minority, the colour is another class's, uniformly at random.
    d = make_colored_digits(
        n_classes=3, majority_fraction=0.1, eval_majority_fraction=0.1, random_state=0
    )
    g = np.concatenate([d[f"group_labels_{s}"] for s in SPLITS])
    counts = np.bincount(g, minlength=9).reshape(3, 3)
    for c in range(3):
        others = np.delete(counts[c], c)
        assert abs(others[0] - others[1]) < 0.25 * others.sum()
    # The minority share matches the fraction in every split.
    for split in SPLITS:
        y, g = d[f"y_{split}"], d[f"group_labels_{split}"]
        assert int(np.sum(g % 3 == y)) == round(0.1 * len(y))


@pytest.mark.parametrize("n_classes", [3, 4, 7, 10])
def test_digits_multiclass_sizes(n_classes):
    d = make_colored_digits(n_classes=n_classes, grayscale=False, random_state=1)
    assert d.X_train.shape[1] == 64 * n_classes
    assert len(d.feature_names) == 64 * n_classes
    assert len(d.group_names) == n_classes**2
    assert len(d.minority_groups) == n_classes * (n_classes - 1)
    assert set(np.unique(d.y_train)) == set(range(n_classes))
    if n_classes == 10:
        np.testing.assert_array_equal(d.y_train, d.digits_train)
    # Contiguous blocks of digits of nearly equal sizes, larger ones first.
    blocks = [np.unique(d.digits_train[d.y_train == c]) for c in range(n_classes)]
    np.testing.assert_array_equal(np.concatenate(blocks), np.arange(10))
    sizes = [len(b) for b in blocks]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] - sizes[-1] <= 1


def test_digits_multiclass_reproducible():
    a = make_colored_digits(n_classes=4, random_state=5)
    b = make_colored_digits(n_classes=4, random_state=5)
    c = make_colored_digits(n_classes=4, random_state=6)
    _assert_bunches_equal(a, b)
    assert not np.array_equal(a.group_labels_train, c.group_labels_train)


def test_digits_default_is_binary():
    a = make_colored_digits(random_state=2)
    b = make_colored_digits(n_classes=2, random_state=2)
    _assert_bunches_equal(a, b)
    assert a.colour_names == ["red", "green"]


@pytest.mark.parametrize("value", [1, 0, 11, -3, 2.0, 3.5, "3", None])
def test_digits_bad_n_classes(value):
    with pytest.raises(ValueError, match="'n_classes' parameter") as excinfo:
        make_colored_digits(n_classes=value)
    assert "int in the range [2, 10]" in str(excinfo.value)


# --------------------------------------------------------------------------
# fetch_adult


@pytest.fixture(scope="module")
def adult_train():
    return fetch_adult(subset="train", download_if_missing=False)


@pytest.fixture(scope="module")
def adult_test():
    return fetch_adult(subset="test", download_if_missing=False)


def test_adult_train_facts(adult_train):
    b = adult_train
    assert b.data.shape == (32561, 104)
    assert b.data.dtype == np.float64
    assert b.target.dtype == np.int64
    assert set(np.unique(b.target)) == {0, 1}
    women_rich = int(np.sum((b.sensitive == 0) & (b.target == 1)))
    assert women_rich == 1179
    assert np.bincount(b.group_labels).tolist() == [9592, 15128, 1179, 6662]
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


def test_adult_feature_kinds(adult_train):
    b = adult_train
    assert b.numeric_features == [
        "age",
        "education-num",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
    ]
    assert len(b.categorical_features) == 8
    assert "sex" in b.categorical_features
    # Every numeric feature is a column of the array; every array column is
    # either numeric or a one-hot column of a categorical feature.
    numeric = [b.feature_names.index(c) for c in b.numeric_features]
    assert b.data[:, numeric].max(axis=0).tolist() == [90, 16, 99999, 4356, 99]
    for name in b.feature_names:
        assert name in b.numeric_features or any(
            name.startswith(f"{c}_") for c in b.categorical_features
        )
    frame = fetch_adult(as_frame=True).data
    assert sorted(b.numeric_features + b.categorical_features) == sorted(frame)
    for c in b.numeric_features:
        assert pd.api.types.is_numeric_dtype(frame[c])
    # The Bunch holds copies: changing them does not change later results.
    b2 = fetch_adult()
    b2.numeric_features.append("fnlwgt")
    assert "fnlwgt" not in fetch_adult().numeric_features


def test_adult_test_facts(adult_train, adult_test):
    assert adult_test.data.shape[0] == 16281
    assert set(np.unique(adult_test.target)) == {0, 1}
    assert np.bincount(adult_test.group_labels).tolist() == [4831, 7604, 590, 3256]
    assert adult_test.feature_names == adult_train.feature_names
    assert adult_test.data.shape[1] == adult_train.data.shape[1]
    # "Holand-Netherlands" appears only in the training file; its column is
    # still there, all zeros, in the test subset.
    col = adult_test.feature_names.index("native-country_Holand-Netherlands")
    assert adult_test.data[:, col].sum() == 0
    assert adult_train.data[:, col].sum() > 0


def test_adult_one_hot_missing_values(adult_train):
    b = adult_train
    cols = [i for i, n in enumerate(b.feature_names) if n.startswith("workclass_")]
    row_sums = b.data[:, cols].sum(axis=1)
    assert set(np.unique(row_sums)) == {0.0, 1.0}
    assert int(np.sum(row_sums == 0)) == 1836  # '?' in workclass


def test_adult_all_subset(adult_train, adult_test):
    X, y = fetch_adult(subset="all", return_X_y=True)
    assert X.shape == (32561 + 16281, adult_train.data.shape[1])
    np.testing.assert_array_equal(X[:32561], adult_train.data)
    np.testing.assert_array_equal(y[32561:], adult_test.target)


def test_adult_as_frame():
    tr = fetch_adult(subset="train", as_frame=True)
    te = fetch_adult(subset="test", as_frame=True)
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
    X, y = fetch_adult(subset="test", as_frame=True, return_X_y=True)
    assert isinstance(X, pd.DataFrame) and X.shape == (16281, 13)
    assert set(y.unique()) == {0, 1}


def test_adult_packaged_copy_needs_no_network(tmp_path, no_network):
    # The copy shipped with the package is used when data_home is not given,
    # and when the given data_home does not hold the files.
    X, y = fetch_adult(subset="all", return_X_y=True)
    assert X.shape == (48842, 104)
    empty = tmp_path / "empty"
    empty.mkdir()
    b = fetch_adult(data_home=empty, subset="test", download_if_missing=False)
    assert b.data.shape == (16281, 104)
    assert list(empty.iterdir()) == []


def test_adult_packaged_checksums():
    for name in RAW_FILES:
        content = _raw_adult(name)
        assert hashlib.sha256(content).hexdigest() == adult_module._SHA256[name]
        if (SHARED_DATA / name).is_file():
            assert content == (SHARED_DATA / name).read_bytes()
    readme = (PACKAGE_DATA / "README.md").read_text()
    assert "10.24432/C5XW20" in readme
    assert "CC BY 4.0" in readme


def test_adult_returns_copies():
    a = fetch_adult(as_frame=True)
    a.data.loc[0, "age"] = -1
    a.target.iloc[0] = 5
    a.frame.loc[1, "age"] = -1
    X, y = fetch_adult(return_X_y=True)
    X[:] = 0
    y[:] = 9
    b = fetch_adult(as_frame=True)
    assert b.data["age"].min() == 17
    assert set(b.target.unique()) == {0, 1}
    assert fetch_adult().data.max() > 0


def test_adult_data_home_takes_precedence(tmp_path, no_network, monkeypatch):
    for name in RAW_FILES:
        (tmp_path / name).write_bytes(_raw_adult(name))
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    read = []
    original = adult_module._read_verified

    def spy(path, name):
        read.append(path)
        return original(path, name)

    monkeypatch.setattr(adult_module, "_read_verified", spy)
    b = fetch_adult(data_home=str(tmp_path), subset="all")
    assert b.data.shape[0] == 48842
    assert read == [tmp_path / "adult.data", tmp_path / "adult.test"]
    after = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert before == after


def test_adult_data_home_gzip(tmp_path, no_network):
    (tmp_path / "adult.test.gz").write_bytes(gzip.compress(_raw_adult("adult.test")))
    assert fetch_adult(data_home=tmp_path, subset="test").data.shape[0] == 16281


def test_adult_corrupted_data_home(tmp_path, no_network):
    content = _raw_adult("adult.data").replace(b"Female", b"Male", 1)
    (tmp_path / "adult.data").write_bytes(content)
    with pytest.raises(ValueError, match="SHA-256 checksum mismatch") as excinfo:
        fetch_adult(data_home=tmp_path)
    message = str(excinfo.value)
    assert str(tmp_path / "adult.data") in message
    assert adult_module._SHA256["adult.data"] in message
    assert hashlib.sha256(content).hexdigest() in message


def test_adult_corrupted_gzip(tmp_path, no_network):
    (tmp_path / "adult.test.gz").write_bytes(b"not a gzip file")
    with pytest.raises(ValueError, match="checksum"):
        fetch_adult(data_home=tmp_path, subset="test")


def test_adult_packaged_checksum_verified_on_every_load(monkeypatch, no_network):
    fetch_adult(subset="test")  # fills the in-memory cache
    monkeypatch.setitem(adult_module._SHA256, "adult.test", "0" * 64)
    with pytest.raises(ValueError, match="SHA-256 checksum mismatch") as excinfo:
        fetch_adult(subset="test")
    assert "adult.test.gz" in str(excinfo.value)


def test_adult_bad_subset(tmp_path):
    with pytest.raises(ValueError, match="subset"):
        fetch_adult(data_home=tmp_path, subset="valid")


@pytest.mark.parametrize(
    "param, value",
    [("data_home", 3), ("download_if_missing", "yes"), ("as_frame", None)],
)
def test_adult_bad_params(param, value):
    with pytest.raises(ValueError, match=param):
        fetch_adult(**{param: value})


def test_adult_missing_file_no_download(tmp_path, no_packaged_copy, no_network):
    home = tmp_path / "home"
    home.mkdir()
    with pytest.raises(FileNotFoundError) as excinfo:
        fetch_adult(data_home=home, download_if_missing=False)
    message = str(excinfo.value)
    assert str(home / "adult.data") in message
    assert "data_home" in message
    assert list(home.iterdir()) == []


def test_adult_download_failure(tmp_path, no_packaged_copy, monkeypatch):
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


def test_adult_download(tmp_path, no_packaged_copy, monkeypatch):
    requested = []

    def fake_urlopen(url, timeout=None):
        requested.append(url)
        return io.BytesIO(_raw_adult(url.rsplit("/", 1)[-1]))

    monkeypatch.setattr(adult_module.urllib.request, "urlopen", fake_urlopen)
    home = tmp_path / "new_home"
    b = fetch_adult(data_home=home, subset="test")
    assert requested == [
        "https://archive.ics.uci.edu/ml/machine-learning-databases/adult/adult.test"
    ]
    assert b.data.shape[0] == 16281
    assert sorted(p.name for p in home.iterdir()) == ["adult.test"]
    # The download is reused, without the network, by later calls.
    monkeypatch.setattr(adult_module.urllib.request, "urlopen", None)
    assert fetch_adult(data_home=home, subset="test").data.shape[0] == 16281


def test_adult_download_default_home(tmp_path, no_packaged_copy, monkeypatch):
    monkeypatch.setattr(
        adult_module.urllib.request,
        "urlopen",
        lambda url, timeout=None: io.BytesIO(_raw_adult("adult.data")),
    )
    assert fetch_adult().data.shape[0] == 32561
    assert (tmp_path / "default_home" / "adult.data").is_file()


def test_adult_download_bad_checksum(tmp_path, no_packaged_copy, monkeypatch):
    monkeypatch.setattr(
        adult_module.urllib.request,
        "urlopen",
        lambda url, timeout=None: io.BytesIO(b"<html>moved</html>"),
    )
    home = tmp_path / "home"
    with pytest.raises(ValueError, match="SHA-256 checksum mismatch") as excinfo:
        fetch_adult(data_home=home, subset="test")
    assert "https://archive.ics.uci.edu" in str(excinfo.value)
    assert list(home.iterdir()) == []
