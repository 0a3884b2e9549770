"""Property-based tests: any input gives a correct fit or a clear ValueError."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

from skmat import MATClassifier, XRMEstimator
from skmat.baselines import ERMClassifier
from skmat.exceptions import DegenerateEnvironmentWarning, DivergedError

TINY = dict(max_epochs=2, batch_size=8, random_state=0)


@st.composite
def datasets(draw):
    n_samples = draw(st.one_of(st.integers(0, 6), st.integers(7, 40)))
    n_features = draw(st.integers(0, 4))
    x_dtype = draw(st.sampled_from([np.float32, np.float64, np.int64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = (rng.standard_normal((n_samples, n_features)) * 3).astype(x_dtype)
    if n_samples and n_features and draw(st.integers(0, 4)) == 0:
        X = X.astype(np.float64)
        X[draw(st.integers(0, n_samples - 1)), 0] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    n_classes = draw(st.sampled_from([1, 2, 2, 3, 4]))
    codes = rng.integers(0, n_classes, size=n_samples)
    kind = draw(st.sampled_from(["int", "int", "str", "str", "bool", "float"]))
    if kind == "int":
        y = codes * 7 - 3
    elif kind == "str":
        y = np.array([f"class {c}" for c in codes], dtype=object)
    elif kind == "bool":
        y = codes % 2 == 1
    else:  # continuous targets are not class labels
        y = codes + rng.random(n_samples)
    return X, y


def _fit_or_value_error(estimator, X, y):
    X_before, y_before = X.copy(), y.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateEnvironmentWarning)
            estimator.fit(X, y)
    except ValueError as error:
        assert str(error), "a ValueError must say what is wrong"
        event("ValueError")
        return None
    finally:
        np.testing.assert_array_equal(X, X_before)
        np.testing.assert_array_equal(y, y_before)
    event("fitted")
    return estimator


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), early_stopping=st.booleans())
def test_mat_fits_or_raises_value_error(data, early_stopping):
    X, y = data
    clf = _fit_or_value_error(
        MATClassifier(**TINY, early_stopping=early_stopping), X, y
    )
    if clf is None:
        return
    assert np.isfinite(X.astype(float)).all()
    assert len(np.unique(y)) >= 2
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert set(pred) <= set(clf.classes_)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(clf.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets())
def test_xrm_fits_or_raises_value_error(data):
    X, y = data
    xrm = _fit_or_value_error(XRMEstimator(**TINY), X, y)
    if xrm is None:
        return
    assert xrm.heldout_logits_.shape == (len(X), len(xrm.classes_))
    groups = xrm.infer_group_labels(X, y)
    assert groups.min() >= 0 and groups.max() < 2 * len(xrm.classes_)


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
