"""Failures during training, progress output, parallel reproducibility."""

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_wine, make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from skorch.callbacks import Callback

from skmat import MATClassifier, WorstGroupScorer, XRMEstimator, _torch
from skmat.baselines import ERMClassifier
from skmat.exceptions import DegenerateEnvironmentWarning, FeatureScaleWarning

FAST = dict(module="mlp", module_params={"hidden_layer_sizes": (8,)},
            max_epochs=8, lr=0.05, random_state=0)


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=160, n_features=5, random_state=1)


class _InterruptAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_keyboard_interrupt_leaves_a_usable_model(data, monkeypatch):
    X, y = data
    original = _torch.build_net

    def build_with_interrupt(net_class, *args, callbacks=(), **kwargs):
        if net_class is _torch.MATNet:
            callbacks = [*callbacks, ("interrupt", _InterruptAt(3))]
        return original(net_class, *args, callbacks=callbacks, **kwargs)

    monkeypatch.setattr(_torch, "build_net", build_with_interrupt)
    clf = MATClassifier(**FAST, early_stopping=False).fit(X, y)
    assert clf.n_epochs_ == 3
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.isfinite(proba).all()


def test_verbose_shows_progress_and_a_summary(data, capsys):
    X, y = data
    clf = MATClassifier(**FAST, verbose=1).fit(X, y)
    out, err = capsys.readouterr()
    assert "XRM: flip rate" in out
    assert "MATClassifier:" in out
    # What chose the shift strength and the head.
    assert (
        f"MATClassifier: temperature {clf.temperature_:g}, {clf.module_} head; "
        f"held-out mistake spread {clf.heldout_mistake_spread_:.3f}"
    ) in out
    assert "minority lift" in out and "cross-fitted" in out
    assert "epoch" in err  # tqdm bars go to stderr
    # The candidate temperatures train in one pass, under one bar.
    n_candidates = len(clf.temperature_scores_)
    assert n_candidates >= 2 and f"{n_candidates} candidate heads" in err


def test_silent_by_default(data, capsys):
    X, y = data
    XRMEstimator(**FAST).fit(X, y)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_grid_search_is_reproducible_under_n_jobs(data):
    X, y = data

    def run(n_jobs):
        search = GridSearchCV(
            MATClassifier(**FAST),
            {"temperature": [0.1, 1.0]},
            scoring=WorstGroupScorer(fallback="class"),
            cv=2,
            n_jobs=n_jobs,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateEnvironmentWarning)
            search.fit(X, y)
        return search

    serial, parallel = run(1), run(2)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        serial.predict_proba(X), parallel.predict_proba(X)
    )


def test_sparse_input_is_refused_with_advice(data):
    X, y = data
    with pytest.raises(TypeError, match="dense data is required"):
        MATClassifier(**FAST).fit(sp.csr_matrix(X), y)


def test_empty_and_object_input(data):
    X, y = data
    with pytest.raises(ValueError, match="0 sample"):
        MATClassifier(**FAST).fit(X[:0], y[:0])
    frame = pd.DataFrame({"a": ["x"] * len(X), "b": X[:, 0]})
    with pytest.raises(ValueError, match="could not convert string to float"):
        MATClassifier(**FAST).fit(frame, y)


def test_memmap_input_gives_the_same_model(data, tmp_path):
    X, y = data
    X32 = X.astype(np.float32)
    mm = np.memmap(tmp_path / "X.dat", dtype=np.float32, mode="w+", shape=X32.shape)
    mm[:] = X32
    mm.flush()
    readonly = np.memmap(tmp_path / "X.dat", dtype=np.float32, mode="r",
                         shape=X32.shape)
    from_memmap = MATClassifier(**FAST).fit(readonly, y).predict_proba(X32)
    from_array = MATClassifier(**FAST).fit(X32, y).predict_proba(X32)
    np.testing.assert_array_equal(from_memmap, from_array)


def test_float32_input_is_not_copied_for_training(data, monkeypatch):
    X, y = data
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    seen = []
    original = _torch.as_tensor

    def spy(array):
        tensor = original(array)
        seen.append(np.shares_memory(tensor.numpy(), X32))
        return tensor

    # training_data looks as_tensor up in the module that defines both.
    monkeypatch.setattr(_torch._data, "as_tensor", spy)
    MATClassifier(**FAST, early_stopping=False).fit(X32, y)
    # XRM and MAT both train on a tensor that shares X's memory.
    assert seen[:2] == [True, True]


def _scale_warnings(estimator, X, y):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        estimator.fit(X, y)
    return [w for w in record if w.category is FeatureScaleWarning]


@pytest.mark.parametrize("Estimator", [MATClassifier, ERMClassifier, XRMEstimator])
def test_features_on_very_different_scales_are_warned_about_once(Estimator):
    # The raw wine data: proline (column 12) in the hundreds beside features
    # below 1; a network at defaults falls far below logistic regression.
    X, y = load_wine(return_X_y=True)
    X_before = X.copy()
    fast = dict(max_epochs=2, random_state=0)  # lr="auto": no divergence
    found = _scale_warnings(Estimator(**fast), X, y)
    assert len(found) == 1  # MAT's nested XRM does not say it again
    message = str(found[0].message)
    assert "feature 12 has a root mean square of 810" in message
    assert f"make_pipeline(StandardScaler(), {Estimator.__name__}())" in message
    assert found[0].filename == __file__  # it points at the user's line
    np.testing.assert_array_equal(X, X_before)

    frame = pd.DataFrame(X, columns=load_wine().feature_names)
    found = _scale_warnings(Estimator(**fast), frame, y)
    assert "feature 'proline'" in str(found[0].message)


def test_no_scale_warning_on_standardised_one_hot_or_pixel_data():
    X, y = load_wine(return_X_y=True)
    assert not _scale_warnings(
        MATClassifier(**FAST), StandardScaler().fit_transform(X), y
    )
    # Standardised numbers beside one-hot columns, one of a rare category.
    rng = np.random.RandomState(0)
    categories = rng.choice(12, size=len(X), p=[0.01] + [0.09] * 11)
    one_hot = OneHotEncoder(sparse_output=False).fit_transform(categories[:, None])
    mixed = np.hstack([StandardScaler().fit_transform(X), one_hot])
    assert not _scale_warnings(MATClassifier(**FAST), mixed, y)
    # Every feature on the same large scale: the step size adapts to it.
    assert not _scale_warnings(ERMClassifier(**FAST), 255 * rng.rand(len(X), 8), y)


def test_the_built_in_data_sets_raise_no_scale_warning():
    # The warning's threshold must stay clear of the data sets skmat ships.
    from skmat._base import _check_feature_scales
    from skmat.datasets import make_colored_digits, make_spurious_memorization

    for data in (
        make_spurious_memorization(random_state=0),
        make_colored_digits(random_state=0),
        make_colored_digits(grayscale=False, random_state=0),
        make_colored_digits(n_classes=3, random_state=0),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", FeatureScaleWarning)
            _check_feature_scales(data.X_train, "MATClassifier")
