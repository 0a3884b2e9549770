"""Property-based tests: any input gives a correct fit or a clear ValueError."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from skmat import MATClassifier, XRMEstimator
from skmat.exceptions import DegenerateEnvironmentWarning

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
