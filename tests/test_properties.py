"""Property-based tests: any input gives a correct fit or a clear ValueError."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

from skmat import MATClassifier, XRMEstimator
from skmat.baselines import ERMClassifier
from skmat.exceptions import DivergedError

TINY = dict(max_epochs=2, batch_size=8, random_state=0)


# One defect per generated case, and the message that must name it. Every
# case without a defect must fit.
_DEFECTS = {
    "no rows": "Found array with 0 sample(s)",
    "no features": "Found array with 0 feature(s)",
    "NaN in X": "Input X contains NaN",
    "infinity in X": "Input X contains infinity",
    "one class": "needs samples of at least 2 classes in the data; got 1 class",
    "continuous y": "Unknown label type: continuous",
    "y of another length": "inconsistent numbers of samples",
    # Only early stopping's validation split needs two rows per class.
    "a class of one row": "has only 1 sample; the validation split of early stopping",
}


@st.composite
def datasets(draw, defect):
    """Valid data (every class with at least 4 rows), then ``defect`` if any."""
    n_classes = draw(st.integers(2, 4))
    n_samples = draw(st.integers(4 * n_classes, 40))
    n_features = draw(st.integers(1, 4))
    x_dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = (rng.standard_normal((n_samples, n_features)) * 3).astype(x_dtype)
    codes = rng.permutation(np.arange(n_samples) % n_classes)
    if defect == "one class":
        codes[:] = codes[0]
    elif defect == "a class of one row":
        codes[draw(st.integers(0, n_samples - 1))] = n_classes
    # Booleans hold two classes: not a third one of one row.
    two_classes = n_classes == 2 and defect != "a class of one row"
    kind = draw(st.sampled_from(["int", "str", "bool"] if two_classes
                                else ["int", "str"]))
    if kind == "int":
        y = codes * 7 - 3
    elif kind == "str":
        y = np.array([f"class {c}" for c in codes], dtype=object)
    else:
        y = codes == 1
    if defect == "no rows":
        X, y = X[:0], y[:0]
    elif defect == "no features":
        X = X[:, :0]
    elif defect in ("NaN in X", "infinity in X"):
        X = X.astype(np.float64)
        if defect == "NaN in X":
            value = np.nan
        else:
            value = draw(st.sampled_from([np.inf, -np.inf]))
        row = draw(st.integers(0, n_samples - 1))
        X[row, draw(st.integers(0, n_features - 1))] = value
    elif defect == "continuous y":
        y = codes + rng.random(n_samples)
    elif defect == "y of another length":
        y = y[: n_samples - draw(st.integers(1, 3))]
    return X, y


def _expected_message(defect, estimator):
    """The message the fit must raise, or None when it must fit."""
    early_stopping = getattr(estimator, "early_stopping", False)
    if defect == "a class of one row" and not early_stopping:
        return None
    return _DEFECTS.get(defect)


def _fit_or_value_error(estimator, X, y, defect):
    """Fit; return the estimator, or check the ValueError names the defect."""
    expected = _expected_message(defect, estimator)
    X_before, y_before = X.copy(), y.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X, y)
    except ValueError as error:
        assert expected is not None, f"valid data failed to fit: {error}"
        assert expected in str(error), (defect, str(error))
        event(f"ValueError: {defect}")
        return None
    finally:
        np.testing.assert_array_equal(X, X_before)
        np.testing.assert_array_equal(y, y_before)
    assert expected is None, f"{defect!r} was not caught"
    event("fitted")
    return estimator


_CASES = [None, *sorted(_DEFECTS)]


@pytest.mark.parametrize("defect", _CASES)
@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), early_stopping=st.booleans())
def test_mat_fits_or_names_the_defect(defect, data, early_stopping):
    X, y = data.draw(datasets(defect))
    clf = _fit_or_value_error(
        MATClassifier(**TINY, early_stopping=early_stopping), X, y, defect
    )
    if clf is None:
        return
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert set(pred) <= set(clf.classes_)
    np.testing.assert_array_equal(clf.classes_, np.unique(y))
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("defect", _CASES)
@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_xrm_fits_or_names_the_defect(defect, data):
    X, y = data.draw(datasets(defect))
    xrm = _fit_or_value_error(XRMEstimator(**TINY), X, y, defect)
    if xrm is None:
        return
    assert xrm.heldout_logits_.shape == (len(X), len(xrm.classes_))
    groups = xrm.infer_group_labels(X, y)
    assert groups.min() >= 0 and groups.max() < 2 * len(xrm.classes_)
    np.testing.assert_array_equal(groups // 2, np.searchsorted(xrm.classes_, y))


@pytest.mark.filterwarnings("ignore::skmat.exceptions.DegenerateEnvironmentWarning")
@pytest.mark.parametrize("n_features", [1, 3])
def test_mat_handles_the_smallest_valid_problem(n_features):
    X = np.arange(4 * n_features, dtype=float).reshape(4, n_features)
    y = np.array([0, 1, 0, 1])
    clf = MATClassifier(**TINY, early_stopping=False).fit(X, y)
    assert clf.predict(X).shape == (4,)


class _WidthModule(nn.Module):
    """A custom module taking ``n_features`` whose output width is a parameter."""

    def __init__(self, n_features, width):
        super().__init__()
        self.linear = nn.Linear(n_features, width)

    def forward(self, X):
        return self.linear(X)


class _FixedInputModule(nn.Module):
    """A custom module that takes neither ``n_features`` nor ``n_classes``."""

    def __init__(self, in_features, width):
        super().__init__()
        self.linear = nn.Linear(in_features, width)

    def forward(self, X):
        return self.linear(X)


_ESTIMATORS = {"MAT": MATClassifier, "XRM": XRMEstimator, "ERM": ERMClassifier}


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(n_classes=st.integers(2, 3), width=st.integers(1, 4),
       takes_n_features=st.booleans(), in_features=st.integers(1, 4),
       name=st.sampled_from(sorted(_ESTIMATORS)))
def test_custom_module_fits_or_names_the_mismatch(
    n_classes, width, takes_n_features, in_features, name
):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.arange(30) % n_classes
    if takes_n_features:
        module, params = _WidthModule, {"width": width}
    else:
        module, params = _FixedInputModule, {"in_features": in_features, "width": width}
    estimator = _ESTIMATORS[name](module=module, module_params=params, **TINY)
    reads_the_rows = takes_n_features or in_features == 3
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator.fit(X, y)
    except ValueError as error:
        message = str(error)
        event("ValueError")
        assert module.__name__ in message, message
        if not reads_the_rows:
            assert "fails on a row of X with 3 features" in message, message
        else:
            assert width != n_classes, message
            assert f"returns {width} output" in message, message
            assert f"n_classes={n_classes}" in message, message
        return
    event("fitted")
    assert reads_the_rows and width == n_classes
    assert estimator.predict_proba(X).shape == (30, n_classes)


_FLOAT32_MAX = float(np.finfo(np.float32).max)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(magnitude=st.sampled_from([1e-40, 1e10, 1e30, 3e38, 3.5e38, 1e39, 1e300]),
       sign=st.sampled_from([1.0, -1.0]),
       where=st.sampled_from(["X", "X_val", "predict"]),
       row=st.integers(0, 29), col=st.integers(0, 2))
def test_extreme_finite_values_fit_or_name_the_cause(magnitude, sign, where, row, col):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    y = np.arange(30) % 2
    extreme = X.copy()
    extreme[row, col] = sign * magnitude
    beyond = magnitude > _FLOAT32_MAX
    clf = MATClassifier(**TINY)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if where == "X":
                clf.fit(extreme, y)
            elif where == "X_val":
                clf.fit(X, y, X_val=extreme, y_val=y)
            else:
                proba = clf.fit(X, y).predict_proba(extreme)
    except ValueError as error:
        message = str(error)
        event(f"ValueError at {where}")
        if beyond:
            name = "X_val" if where == "X_val" else "X"
            assert f"{name} has values beyond float32's range" in message, message
        else:  # a finite float32 value so large that training diverged
            assert where == "X" and isinstance(error, DivergedError), message
            assert "lower `lr`" in message.lower(), message
        return
    event(f"no error at {where}")
    assert not beyond
    if where == "predict":
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
