"""Behaviour of XRMEstimator, MATClassifier and the ERM baseline."""

import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from skmat import MATClassifier, WorstGroupScorer, XRMEstimator
from skmat._torch import mat_shift
from skmat.baselines import ERMClassifier
from skmat.datasets import make_spurious_memorization
from skmat.exceptions import DegenerateEnvironmentWarning, DivergedError
from skmat.metrics import worst_group_accuracy

FAST = dict(module="mlp", module_params={"hidden_layer_sizes": (16,)}, max_epochs=10,
            lr=0.05)
PAPER = dict(
    module="linear",
    module_params={"bias": False},
    optimizer="sgd",
    momentum=0.0,
    lr=1e-2,
    batch_size=None,
    max_epochs=1000,
)


@pytest.fixture(scope="module")
def interpretable():
    return make_spurious_memorization(n_samples=1000, random_state=0)


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=4, random_state=0
    )
    return X, y


def _minority_accuracy(clf, X, y, groups):
    minority = (groups == 1) | (groups == 2)
    return np.mean(clf.predict(X[minority]) == y[minority])


# --------------------------------------------------------------------------
# The paper's interpretable experiment, with a looser bound than the benchmark
# --------------------------------------------------------------------------
def test_mat_beats_erm_on_the_minority_with_the_paper_recipe(interpretable):
    d = interpretable
    erm = ERMClassifier(**PAPER, early_stopping=False, random_state=0)
    mat = MATClassifier(**PAPER, temperature=0.1, early_stopping=False, random_state=0)
    erm.fit(d.X_train, d.y_train)
    mat.fit(d.X_train, d.y_train)
    erm_minority = _minority_accuracy(erm, d.X_test, d.y_test, d.group_labels_test)
    mat_minority = _minority_accuracy(mat, d.X_test, d.y_test, d.group_labels_test)
    assert erm_minority < 0.4
    assert mat_minority > 0.75
    assert mat.score(d.X_test, d.y_test) > erm.score(d.X_test, d.y_test)


def test_xrm_cross_mistakes_single_out_the_minority(interpretable):
    d = interpretable
    xrm = XRMEstimator(**PAPER, random_state=0).fit(d.X_train, d.y_train)
    minority = np.isin(d.group_labels_train, [1, 2])
    assert xrm.cross_mistakes_[minority].mean() > 0.8
    assert xrm.cross_mistakes_[~minority].mean() < 0.1
    # Held-out logits predict the spurious label for the minority.
    heldout_pred = xrm.heldout_logits_.argmax(axis=1)
    assert np.mean(heldout_pred[minority] == d.y_train[minority]) < 0.2
    assert 0.0 < xrm.flip_rate_ < 0.5
    assert not xrm.degenerate_
    # Inferred groups of the test split recover the true minority.
    inferred = xrm.infer_group_labels(d.X_test, d.y_test)
    assert set(np.unique(inferred)) <= {0, 1, 2, 3}
    true_minority = np.isin(d.group_labels_test, [1, 2])
    assert np.mean((inferred % 2 == 1) == true_minority) > 0.8


# --------------------------------------------------------------------------
# XRM
# --------------------------------------------------------------------------
def test_xrm_fitted_attributes(blobs):
    X, y = blobs
    xrm = XRMEstimator(**FAST, random_state=0).fit(X, y)
    n = len(X)
    assert xrm.heldout_logits_.shape == (n, 2)
    assert xrm.heldin_logits_.shape == (n, 2)
    assert set(np.unique(xrm.twin_assignment_)) == {0, 1}
    assert 0.3 < xrm.twin_assignment_.mean() < 0.7
    assert xrm.flip_rate_ == np.mean(xrm.dynamic_labels_ != y)
    assert len(xrm.history_) == 10
    assert xrm.group_labels_.shape == (n,)
    np.testing.assert_array_equal(xrm.group_labels_ // 2, y)
    scores = xrm.memorization_scores()
    assert scores.shape == (n,) and np.all(np.abs(scores) <= 1)
    proba = xrm.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)


def test_xrm_heldout_logits_come_from_the_other_twin(blobs):
    X, y = blobs
    xrm = XRMEstimator(**FAST, random_state=0).fit(X, y)
    xt = torch.as_tensor(X, dtype=torch.float32)
    twins = xrm.net_.module_.twins
    with torch.no_grad():
        logits = np.stack([twin(xt).numpy() for twin in twins])
    rows = np.arange(len(X))
    expected = logits[1 - xrm.twin_assignment_, rows]
    np.testing.assert_allclose(xrm.heldout_logits_, expected, rtol=1e-5, atol=1e-6)


def test_xrm_flip_rate_selection_keeps_the_best_epoch(blobs):
    X, y = blobs
    xrm = XRMEstimator(**FAST, selection="flip_rate", random_state=0).fit(X, y)
    last = XRMEstimator(**FAST, selection="last", random_state=0).fit(X, y)
    rates = np.asarray(xrm.history_[:, "flip_rate"])
    sound = np.asarray(xrm.history_[:, "max_class_flip_rate"]) <= 0.5
    # On these settings the flip rate peaks before the last epoch, so the two
    # selections keep different twins.
    peak = int(np.argmax(np.where(sound, rates, -np.inf))) + 1
    assert peak < len(rates)
    assert xrm.best_epoch_ == peak
    assert last.best_epoch_ == len(rates)
    assert xrm.flip_rate_ == pytest.approx(rates[peak - 1])
    assert not np.allclose(xrm.heldout_logits_, last.heldout_logits_)
    # Both runs trained the same way: only the kept epoch differs.
    np.testing.assert_array_equal(
        xrm.history_[:, "flip_rate"], last.history_[:, "flip_rate"]
    )


def test_xrm_reports_a_degenerate_run():
    # Perfectly separable data: the twins never err, so no class splits.
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 50)
    X = np.c_[10.0 * (2 * y - 1), rng.randn(100, 2) * 0.01]
    xrm = XRMEstimator(module="linear", max_epochs=20, random_state=0)
    with pytest.warns(DegenerateEnvironmentWarning,
                      match=r"no mistake on class\(es\) \[0, 1\]"):
        xrm.fit(X, y)
    assert xrm.degenerate_


def test_xrm_says_when_a_class_is_all_mistakes():
    # A class misclassified in full whose labels were mostly flipped is a
    # runaway, not a class without a shortcut: a warning of its own, with
    # the advice that fits it.
    X, y = make_classification(n_samples=60, random_state=0)
    xrm = XRMEstimator(module="linear", max_epochs=2, random_state=0).fit(X, y)
    y_enc = np.repeat([0, 1], 5)
    mistakes = np.r_[np.ones(5, dtype=int), [0, 1, 0, 1, 0]]
    flipped = np.r_[[1, 1, 1, 0, 0], np.zeros(5)].astype(bool)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert xrm._check_degenerate(y_enc, mistakes, flipped)
    messages = [str(w.message) for w in record]
    assert len(messages) == 1
    assert messages[0].startswith("XRM's twins misclassified every example "
                                  "of class(es) [0] and flipped most")
    assert "ran away" in messages[0] and "fewer `max_epochs`" in messages[0]
    # The estimator already uses SGD: no advice to switch to it.
    assert "optimizer" not in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not xrm._check_degenerate(y_enc, np.tile([0, 1], 5), flipped)


def test_xrm_says_when_a_class_was_never_learned():
    # Labels mostly kept on a class misclassified in full: the twins never
    # learned it, and fewer epochs would not help. Features that say
    # nothing of y: each twin predicts one class everywhere (not the same
    # one), so every row is some twin's mistake, with few labels flipped.
    y = np.repeat([0, 1, 2], 30)
    X = np.zeros((90, 2))
    xrm = XRMEstimator(module="linear", max_epochs=5, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        xrm.fit(X, y)
    assert xrm.degenerate_ and 0 < xrm.flip_rate_ < 0.5
    messages = [str(w.message) for w in record
                if "misclassified every" in str(w.message)]
    assert len(messages) == 1
    assert messages[0].startswith("XRM's twins misclassified every example "
                                  "of class(es) [0, 1, 2], though most")
    assert "never learned" in messages[0] and "Train longer" in messages[0]
    assert "ran away" not in messages[0]


@pytest.fixture(scope="module")
def five_blobs():
    # Five overlapping blobs, no shortcut: XRM's echo chamber flips most of
    # some class's labels after a few epochs, and XRM keeps an early epoch.
    X, y = make_blobs(200, centers=5, n_features=2, cluster_std=1.5,
                      random_state=47)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def test_xrm_keeps_a_sound_epoch_and_says_the_echo_chamber_ran_away(five_blobs):
    from skmat._xrm import _RECOVERED_RUNAWAY

    X, y = five_blobs
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        xrm = XRMEstimator(module="linear", random_state=1).fit(X, y)
    assert xrm.runaway_ and xrm.best_epoch_ < len(xrm.history_)
    messages = [str(w.message) for w in record if "ran away" in str(w.message)]
    assert len(messages) == 1
    assert f"the twins of epoch {xrm.best_epoch_}," in messages[0]
    assert re.match(_RECOVERED_RUNAWAY, messages[0])

    # A class the twins had not learned at that epoch is reported as such,
    # not with the advice to train longer.
    y_enc = np.repeat(np.arange(5), 5)
    mistakes = np.r_[np.ones(5, dtype=int), np.tile([0, 1, 0, 1, 0], 4)]
    flipped = np.r_[[1, 0, 0, 0, 0], np.zeros(20)].astype(bool)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert xrm._check_degenerate(y_enc, mistakes, flipped)
    (message,) = [str(w.message) for w in record]
    assert message.startswith(
        f"XRM's echo chamber ran away, and at epoch {xrm.best_epoch_}, the last "
        "sound one, the twins misclassified every example of class(es) [0]"
    )
    assert "Train longer" not in message
    assert re.match(_RECOVERED_RUNAWAY, message)


def test_mat_keeps_a_recovered_runaway_of_its_own_xrm_to_xrm_attributes(five_blobs):
    X, y = five_blobs
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = MATClassifier(random_state=1).fit(X, y)
    assert clf.xrm_.runaway_ and clf.xrm_.best_epoch_ < len(clf.xrm_.history_)
    assert not [w for w in record
                if issubclass(w.category, DegenerateEnvironmentWarning)]
    # With another optimizer than SGD, the runaway is passed on, with the
    # advice to use SGD.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = MATClassifier(optimizer="adam", random_state=1).fit(X, y)
    assert clf.xrm_.runaway_
    messages = [str(w.message) for w in record if "ran away" in str(w.message)]
    assert messages and "optimizer='sgd'" in messages[0]


def test_xrm_advises_sgd_only_to_other_optimizers():
    X, y = make_classification(n_samples=60, random_state=0)
    y_enc = np.repeat([0, 1], 5)
    mistakes = np.r_[np.ones(5, dtype=int), [0, 1, 0, 1, 0]]
    flipped = np.r_[np.ones(5), np.zeros(5)].astype(bool)
    xrm = XRMEstimator(module="linear", optimizer="adam", max_epochs=2,
                       random_state=0).fit(X, y)
    with pytest.warns(DegenerateEnvironmentWarning,
                      match=r"fewer `max_epochs`, or use `optimizer='sgd'`"):
        xrm._check_degenerate(y_enc, mistakes, flipped)


def test_infer_group_labels_rejects_unknown_labels(blobs):
    X, y = blobs
    xrm = XRMEstimator(**FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="unseen in fit"):
        xrm.infer_group_labels(X, np.full(len(X), 7))
    with pytest.raises(ValueError, match="1-d with"):
        xrm.infer_group_labels(X, y[:-1])


# --------------------------------------------------------------------------
# MAT
# --------------------------------------------------------------------------
def _shift_by_the_formula(heldout, y, tau, k, eps=1e-8):
    p_hat = softmax(heldout / tau, axis=1)
    joint = np.zeros((k, k))
    for i, label in enumerate(y):
        joint[label] += p_hat[i] / len(y)
    cond = joint / joint.sum(axis=0, keepdims=True)
    shift = np.zeros_like(p_hat)
    for i in range(len(y)):
        for c in range(k):
            shift[i, c] = np.log(np.sum(p_hat[i] * cond[c]) + eps)
    return shift


@pytest.mark.parametrize("k", [2, 3])
def test_mat_shift_matches_the_formula(k):
    rng = np.random.RandomState(0)
    heldout = rng.randn(50, k) * 3
    y = rng.randint(k, size=50)
    shift = mat_shift(heldout, y, 0.5, k)
    np.testing.assert_allclose(shift, _shift_by_the_formula(heldout, y, 0.5, k),
                               rtol=1e-5, atol=1e-6)


def test_uninformative_heldout_logits_give_the_log_prior():
    y = np.array([0] * 30 + [1] * 10)
    shift = mat_shift(np.zeros((40, 2)), y, 1.0, 2)
    np.testing.assert_allclose(shift, np.log([[0.75, 0.25]] * 40), atol=1e-6)


def test_precomputed_heldout_logits_skip_xrm(blobs):
    X, y = blobs
    heldout = np.random.RandomState(0).randn(len(X), 2)
    clf = MATClassifier(**FAST, temperature=2.0, early_stopping=False, random_state=0)
    clf.fit(X, y, heldout_logits=heldout)
    assert clf.xrm_ is None
    # The temperature acts on the held-out logits calibrated against y.
    calibrated = heldout / clf.heldout_temperature_
    np.testing.assert_allclose(
        clf.shift_, mat_shift(calibrated, y, 2.0, 2), atol=1e-6
    )
    assert clf.temperature_ == 2.0
    assert clf.validation_groups_source_ is None
    with pytest.raises(AttributeError, match="no XRM"):
        clf.infer_group_labels(X, y)


def test_shift_is_used_in_training_only(blobs):
    X, y = blobs
    clf = MATClassifier(**FAST, early_stopping=False, random_state=0).fit(X, y)
    # Without a validation set there are no validation scores.
    assert clf.validation_score_.shape == (0,)
    assert clf.best_validation_score_ is None
    with torch.no_grad():
        logits = clf.net_.module_(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(clf.predict_proba(X), softmax(logits, axis=1),
                               rtol=1e-5, atol=1e-6)


def test_training_loss_is_cross_entropy_of_the_shifted_logits(blobs):
    X, y = blobs
    # Informative held-out logits, so that the shift differs between classes
    # (not left to an XRM fit on data without a shortcut).
    heldout = 2 * (np.eye(2)[y] + np.random.RandomState(0).randn(len(X), 2))
    clf = MATClassifier(**FAST, temperature=1.0, early_stopping=False,
                        random_state=0).fit(X, y, heldout_logits=heldout)
    rows = np.arange(12)
    xb = torch.as_tensor(X[rows], dtype=torch.float32)
    yb = torch.as_tensor(y[rows])
    shift = torch.as_tensor(clf.shift_[rows])
    with torch.no_grad():
        logits = clf.net_.module_(xb)
    batch = {"X": xb, "shift": shift}
    loss = clf.net_.get_loss(logits, yb, X=batch, training=True)
    expected = torch.nn.functional.cross_entropy(logits + shift, yb)
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    # Outside training (validation, scoring) the shift is not added.
    plain = torch.nn.functional.cross_entropy(logits, yb)
    loss = clf.net_.get_loss(logits, yb, X=batch, training=False)
    assert float(loss) == pytest.approx(float(plain), rel=1e-6)
    assert abs(float(expected) - float(plain)) > 1e-3


def test_mat_nests_a_cloned_xrm(blobs):
    X, y = blobs
    xrm = XRMEstimator(**{**FAST, "module": "linear", "module_params": None})
    clf = MATClassifier(**FAST, xrm=xrm, random_state=0).fit(X, y)
    assert clf.xrm_ is not xrm
    assert not hasattr(xrm, "heldout_logits_")
    assert clf.xrm_.module == "linear"
    # XRM is fitted on the training rows only: the validation rows are held
    # out; the refit then trains on every row (their shift from XRM's twins).
    assert clf.xrm_.heldout_logits_.shape[0] < len(X)
    assert clf.refitted_ and clf.shift_.shape[0] == len(X)
    assert clf.validation_groups_source_ == "inferred"
    groups = clf.infer_group_labels(X, y)
    assert groups.shape == (len(X),)


def test_validation_uses_true_groups_when_given(blobs, recorded_splits):
    X, y = blobs
    g = np.arange(len(X)) % 2
    # refit=False: the kept network is the one scored on the held-out rows.
    clf = MATClassifier(**FAST, temperature=1.0, refit=False, random_state=0).fit(
        X, y, group_labels=g
    )
    assert clf.validation_groups_source_ == "group_labels"
    assert clf.best_epoch_ <= clf.n_epochs_
    # One validation score per epoch, as HistGradientBoosting's.
    assert clf.validation_score_.shape == (clf.n_epochs_,)
    assert clf.validation_score_[clf.best_epoch_ - 1] == clf.best_validation_score_
    # The score is the kept network's worst-group accuracy on the true groups
    # of the held-out rows.
    (_, valid), = recorded_splits
    by_hand = worst_group_accuracy(y[valid], clf.predict(X[valid]),
                                   group_labels=g[valid])
    assert clf.best_validation_score_ == pytest.approx(by_hand, abs=1e-12)


def test_validation_score_with_an_explicit_validation_set(blobs):
    X, y = blobs
    g = (X[:, 1] > 0).astype(int)
    tr, va = slice(0, 150), slice(150, None)
    clf = MATClassifier(**FAST, temperature=1.0, random_state=0).fit(
        X[tr], y[tr], X_val=X[va], y_val=y[va], group_labels_val=g[va]
    )
    assert clf.validation_groups_source_ == "group_labels"
    by_hand = worst_group_accuracy(y[va], clf.predict(X[va]), group_labels=g[va])
    assert clf.best_validation_score_ == pytest.approx(by_hand, abs=1e-12)


def test_explicit_validation_set(blobs):
    X, y = blobs
    clf = MATClassifier(**FAST, random_state=0)
    clf.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    assert clf.shift_.shape[0] == 150
    assert clf.validation_groups_source_ == "inferred"
    clf.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:],
            group_labels_val=y[150:])
    assert clf.validation_groups_source_ == "group_labels"
    with pytest.raises(ValueError, match="both X_val and y_val"):
        clf.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="early_stopping=False"):
        clf.set_params(early_stopping=False).fit(X, y, X_val=X, y_val=y)


@pytest.mark.parametrize("labels", [["cat", "dog", "emu"], [-1, 5, 9]])
def test_any_label_type_and_three_classes(labels):
    X, y = make_classification(n_samples=240, n_features=6, n_informative=4,
                               n_classes=3, random_state=0)
    y_named = np.asarray(labels)[y]
    clf = MATClassifier(**FAST, temperature=1.0, random_state=0).fit(X, y_named)
    np.testing.assert_array_equal(clf.classes_, np.sort(labels))
    assert set(clf.predict(X)) <= set(labels)
    assert clf.predict_proba(X).shape == (240, 3)
    assert clf.score(X, y_named) > 0.5
    groups = clf.infer_group_labels(X, y_named)
    assert groups.max() < 6


def test_pandas_input_keeps_feature_names(blobs):
    X, y = blobs
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    labels = pd.Series(np.where(y == 1, "yes", "no"))
    clf = MATClassifier(**FAST, random_state=0).fit(frame, labels)
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    assert set(clf.predict(frame)) <= {"yes", "no"}


def test_custom_module_class(blobs):
    class Tiny(torch.nn.Module):
        def __init__(self, n_features, n_classes, width=4):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(n_features, width), torch.nn.Tanh(),
                torch.nn.Linear(width, n_classes),
            )

        def forward(self, X):
            return self.net(X)

    X, y = blobs
    clf = MATClassifier(module=Tiny, module_params={"width": 3}, max_epochs=5,
                        random_state=0).fit(X, y)
    assert clf.net_.module_.net[0].out_features == 3
    assert clf.xrm_.net_.module_.twins[0].net[0].out_features == 3


# --------------------------------------------------------------------------
# Reproducibility and persistence
# --------------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", [MATClassifier, XRMEstimator, ERMClassifier])
def test_same_random_state_same_model(blobs, Estimator):
    X, y = blobs
    p1 = Estimator(**FAST, random_state=3).fit(X, y).predict_proba(X)
    p2 = Estimator(**FAST, random_state=3).fit(X, y).predict_proba(X)
    p3 = Estimator(**FAST, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_fit_does_not_touch_the_global_torch_rng(blobs):
    X, y = blobs
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MATClassifier(**FAST, random_state=0).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


@pytest.mark.parametrize("Estimator", [MATClassifier, XRMEstimator])
def test_clone_and_pickle_round_trips(blobs, Estimator):
    X, y = blobs
    est = Estimator(**FAST, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    refit = clone(est).fit(X, y)
    np.testing.assert_array_equal(refit.predict_proba(X), est.predict_proba(X))


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize("Estimator", [MATClassifier, XRMEstimator])
def test_bad_input_raises_clear_errors(blobs, Estimator):
    X, y = blobs
    est = Estimator(**FAST)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN"):
        est.fit(X_nan, y)
    with pytest.raises(ValueError, match="infinity"):
        est.fit(X_inf, y)
    with pytest.raises(ValueError, match="1 class"):
        est.fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        est.fit(X, y[:-1])
    with pytest.raises(ValueError, match="module"):
        Estimator(module="resnet").fit(X, y)


def test_mat_specific_bad_input(blobs):
    X, y = blobs
    for tau in (0, -1.0):
        with pytest.raises(ValueError, match="temperature"):
            MATClassifier(temperature=tau).fit(X, y)
    with pytest.raises(ValueError, match="group_labels"):
        MATClassifier(**FAST).fit(X, y, group_labels=y[:-1])
    with pytest.raises(ValueError, match="missing values"):
        MATClassifier(**FAST).fit(X, y, group_labels=np.r_[np.nan, y[1:]])
    with pytest.raises(ValueError, match="heldout_logits"):
        MATClassifier(**FAST).fit(X, y, heldout_logits=np.zeros((len(X), 3)))
    fitted = MATClassifier(**FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X[:, :3])


def test_user_arrays_are_not_modified(blobs):
    X, y = blobs
    X32 = X.astype(np.float32)
    g = np.arange(len(X)) % 3
    copies = [X32.copy(), y.copy(), g.copy()]
    MATClassifier(**FAST, random_state=0).fit(X32, y, group_labels=g)
    for before, after in zip(copies, [X32, y, g], strict=True):
        np.testing.assert_array_equal(before, after)


def test_diverging_loss_stops_with_a_clear_error(blobs):
    X, y = blobs
    with pytest.raises(DivergedError, match="non-finite"):
        MATClassifier(module="linear", lr=1e30, max_epochs=20,
                      early_stopping=False, random_state=0).fit(X * 1e10, y)
    assert issubclass(DivergedError, ValueError)


# --------------------------------------------------------------------------
# Model selection over the temperature
# --------------------------------------------------------------------------
def test_grid_search_over_temperature_with_group_labels(blobs):
    from sklearn.model_selection import StratifiedKFold

    X, y = blobs
    g = (X[:, 0] > 0).astype(int)
    quick = dict(FAST, max_epochs=5)
    grid = [0.5, 2.0]
    scorer = WorstGroupScorer()
    search = GridSearchCV(
        MATClassifier(**quick, random_state=0),
        {"temperature": grid},
        scoring=scorer,
        cv=2,
    )
    routing = sklearn.config_context(enable_metadata_routing=True)
    with routing, warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateEnvironmentWarning)
        search.fit(X, y, group_labels=g)
    means = search.cv_results_["mean_test_score"]
    assert search.best_params_["temperature"] == grid[int(np.argmax(means))]
    assert search.best_estimator_.validation_groups_source_ == "group_labels"
    # The search's score is the scorer applied by hand on each fold, with
    # the fold's true groups reaching both fit and scorer.
    tau = search.best_params_["temperature"]
    by_hand = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateEnvironmentWarning)
        for train, test in StratifiedKFold(2).split(X, y):
            est = MATClassifier(**quick, temperature=tau, random_state=0)
            est.fit(X[train], y[train], group_labels=g[train])
            by_hand.append(worst_group_accuracy(
                y[test], est.predict(X[test]), group_labels=g[test]
            ))
    assert search.best_score_ == pytest.approx(np.mean(by_hand), abs=1e-12)
    # Every (candidate, fold) was scored on the routed true groups.
    assert search.scorer_ is scorer
    assert scorer.sources_ == {"group_labels": len(grid) * 2}
    assert scorer.last_source_ == "group_labels"


def test_memory_fits_xrm_once_per_fold(blobs, tmp_path, monkeypatch):
    X, y = blobs
    calls = []
    original = XRMEstimator.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(XRMEstimator, "fit", counting_fit)
    temperatures = [0.05, 0.5, 5.0]
    search = GridSearchCV(
        MATClassifier(**FAST, memory=str(tmp_path), random_state=0),
        {"temperature": temperatures},
        scoring=WorstGroupScorer(fallback="class"),
        cv=2,
    )
    search.fit(X, y)
    # Two folds plus the refit on all data, not 3 temperatures x 2 folds + 1.
    assert len(calls) == 2 + 1
    uncached = GridSearchCV(
        MATClassifier(**FAST, random_state=0),
        {"temperature": temperatures},
        scoring=WorstGroupScorer(fallback="class"),
        cv=2,
    )
    calls.clear()
    uncached.fit(X, y)
    assert len(calls) == len(temperatures) * 2 + 1
    # The cache changes nothing in the results.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], uncached.cv_results_["mean_test_score"]
    )


def test_scorer_refuses_to_drop_group_labels_when_routing_is_off(blobs):
    X, y = blobs
    g = (X[:, 0] > 0).astype(int)
    search = GridSearchCV(
        MATClassifier(**FAST, random_state=0),
        {"temperature": [0.1, 1.0]},
        scoring=WorstGroupScorer(),
        cv=2,
        error_score="raise",
    )
    # Without routing, group_labels reach MAT's fit but not the scorer.
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        search.fit(X, y, group_labels=g)
    fitted = MATClassifier(**FAST, random_state=0).fit(X, y, group_labels=g)
    scorer = WorstGroupScorer()
    score = scorer(fitted, X, y, group_labels=g)
    assert score == worst_group_accuracy(y, fitted.predict(X), group_labels=g)
    assert scorer.last_source_ == "group_labels"
    assert scorer.sources_ == {"group_labels": 1}


def _nll(logits, y):
    from scipy.special import log_softmax

    return -log_softmax(logits, axis=1)[np.arange(len(y)), y].mean()


def test_heldout_logits_are_calibrated_before_the_temperature(blobs):
    X, y = blobs
    rng = np.random.RandomState(0)
    # Informative but overconfident held-out logits: the right class scaled
    # up by 8, with noise.
    heldout = 8 * (np.eye(2)[y] + rng.randn(len(X), 2))
    shifts = []
    for scale in (1.0, 10.0):
        clf = MATClassifier(
            **FAST, temperature=1.0, early_stopping=False, random_state=0
        ).fit(X, y, heldout_logits=scale * heldout)
        t = clf.heldout_temperature_
        calibrated = scale * heldout / t
        # T minimises the held-out cross-entropy.
        assert _nll(calibrated, y) <= _nll(calibrated * 1.05, y) + 1e-9
        assert _nll(calibrated, y) <= _nll(calibrated / 1.05, y) + 1e-9
        shifts.append(clf.shift_)
    # tau acts on calibrated logits: scaling them changes nothing.
    np.testing.assert_allclose(shifts[0], shifts[1], atol=1e-4)


def test_infinite_temperature_is_logit_adjustment(blobs):
    X, y = blobs
    heldout = np.random.RandomState(0).randn(len(X), 2) * 5
    clf = MATClassifier(
        **FAST, temperature=np.inf, early_stopping=False, random_state=0
    ).fit(X, y, heldout_logits=heldout)
    prior = np.bincount(y) / len(y)
    np.testing.assert_allclose(clf.shift_, np.tile(np.log(prior), (len(y), 1)),
                               atol=1e-6)


def test_auto_temperature_trains_every_candidate_and_keeps_the_parsimonious_one(
    blobs,
):
    from skmat._mat import AUTO_TEMPERATURES

    X, y = blobs
    clf = MATClassifier(**FAST, random_state=0).fit(X, y)
    assert list(clf.temperature_scores_) == list(AUTO_TEMPERATURES)
    scores = clf.temperature_scores_
    # The held-out mistakes look like a shortcut's minority here (FAST's
    # network memorizes; every candidate was trained) and some candidate
    # classifies it beyond label noise: only the sharpened shifts compete,
    # the sharpest first; had neither lift passed, only the weak ones, the
    # weakest first.
    lifts = (clf.minority_lift_, clf.crossfit_lift_)
    if any(lift is not None and lift > 0 for lift in lifts):
        order = [t for t in AUTO_TEMPERATURES[::-1] if t < 1]
    else:
        order = [t for t in AUTO_TEMPERATURES if t >= 1]
    best = max(scores[t] for t in order)
    # The first candidate within 0.02 of the best is kept.
    kept = next(t for t in order if scores[t] >= best - 0.02)
    assert clf.temperature_ == kept
    assert clf.best_validation_score_ == scores[kept]
    np.testing.assert_allclose(
        clf.best_validation_score_, clf.validation_score_[clf.best_epoch_ - 1]
    )


def test_explicit_temperatures_change_the_model(blobs):
    X, y = blobs
    heldout = 8 * (np.eye(2)[y] + np.random.RandomState(0).randn(len(X), 2))
    probas = [
        MATClassifier(**FAST, temperature=t, early_stopping=False, random_state=0)
        .fit(X, y, heldout_logits=heldout)
        .predict_proba(X)
        for t in (0.25, 4.0)
    ]
    assert np.abs(probas[0] - probas[1]).max() > 1e-3


# --------------------------------------------------------------------------
# module="auto": a linear and an MLP head, the linear one unless the MLP wins
# --------------------------------------------------------------------------
def test_choose_module_needs_a_clear_win_and_no_loss_of_balance():
    from skmat._base import _choose_module

    def fit(score, balanced, loss=0.3):
        return dict(top_score=score, best_balanced_accuracy=balanced, best_loss=loss)

    def choose(mlp, source="inferred", linear=None):
        # Both heads keep the same temperature.
        linear = fit(0.80, 0.90) if linear is None else linear
        return _choose_module(
            {("linear", 1.0): linear, ("mlp", 1.0): mlp},
            {"linear": 1.0, "mlp": 1.0}, source,
        )

    # Within the tolerance of 0.02: the simpler head.
    assert choose(fit(0.81, 0.99)) == "linear"
    assert choose(fit(0.85, 0.91)) == "mlp"
    # A better worst inferred group bought with balanced accuracy: refused on
    # inferred groups, taken on true ones.
    assert choose(fit(0.85, 0.89)) == "linear"
    assert choose(fit(0.85, 0.89), source="group_labels") == "mlp"
    # Nothing scored: the first.
    assert choose(fit(None, None), None, linear=fit(None, None)) == "linear"


def test_choose_module_breaks_a_balanced_tie_by_the_validation_loss():
    """Small validation sets tie on balanced accuracy: the loss decides, as
    it breaks early stopping's ties, and a full tie keeps the simpler head."""
    from skmat._base import _choose_module

    def choose(mlp_loss, linear_loss=0.3, source="inferred"):
        fits = {
            ("linear", 1.0): dict(top_score=0.80, best_balanced_accuracy=0.90,
                                  best_loss=linear_loss),
            ("mlp", 1.0): dict(top_score=0.85, best_balanced_accuracy=0.90,
                               best_loss=mlp_loss),
        }
        return _choose_module(fits, {"linear": 1.0, "mlp": 1.0}, source)

    assert choose(mlp_loss=0.2) == "mlp"
    assert choose(mlp_loss=0.4) == "linear"
    assert choose(mlp_loss=0.3) == "linear"
    # On true groups the score alone decides.
    assert choose(mlp_loss=0.4, source="group_labels") == "mlp"


def test_choose_module_compares_balance_at_the_mlps_temperature():
    """A stronger shift lowers balanced accuracy whatever the network."""
    from skmat._base import _choose_module

    def fit(score, balanced, loss=0.3):
        return dict(top_score=score, best_balanced_accuracy=balanced, best_loss=loss)

    fits = {
        ("linear", np.inf): fit(0.76, 0.97),  # kept by the linear head
        ("linear", 0.25): fit(0.73, 0.76),
        ("mlp", np.inf): fit(0.78, 0.98),
        ("mlp", 0.25): fit(0.84, 0.93),  # kept by the MLP
    }
    kept = {"linear": np.inf, "mlp": 0.25}
    # 0.93 is below the linear head's 0.97 at its own (weaker) shift, but
    # above its 0.76 at the MLP's temperature: the MLP is the better network.
    assert _choose_module(fits, kept, "inferred") == "mlp"
    # At the same temperature, a loss of balanced accuracy still refuses it.
    fits["linear", 0.25] = fit(0.73, 0.95)
    assert _choose_module(fits, kept, "inferred") == "linear"


def test_auto_module_trains_both_heads_on_a_linear_xrm(blobs):
    X, y = blobs
    settings = {**FAST, "module": "auto", "module_params": None}
    clf = MATClassifier(**settings, random_state=0).fit(X, y)
    assert set(clf.module_scores_) == {"linear", "mlp"}
    assert clf.module_ in ("linear", "mlp")
    assert clf.module_scores_[clf.module_] == clf.best_validation_score_
    assert clf.xrm_.module == "linear"
    # Without a validation split there is nothing to choose on.
    plain = MATClassifier(**settings, early_stopping=False, random_state=0).fit(X, y)
    assert plain.module_ == "linear"
    assert plain.module_scores_ == {"linear": None}
    assert type(plain.net_.module_).__name__ == "LinearModule"


@pytest.mark.parametrize(
    "n_features, given_validation, heads",
    [
        (79, False, {"linear", "mlp"}),
        # 100 rows, 20 held out: as many features as the 80 training rows.
        (80, False, {"linear"}),
        # A validation split given: all 100 rows train.
        (80, True, {"linear", "mlp"}),
        (100, True, {"linear"}),
    ],
)
def test_auto_module_is_linear_with_as_many_features_as_training_rows(
    n_features, given_validation, heads
):
    X, y = make_classification(
        n_samples=150, n_features=n_features, n_informative=5, random_state=0
    )
    settings = {**FAST, "module": "auto", "module_params": None, "max_epochs": 3}
    clf = MATClassifier(**settings, random_state=0)
    if given_validation:
        clf.fit(X[:100], y[:100], X_val=X[100:], y_val=y[100:])
    else:
        clf.fit(X[:100], y[:100])
    assert set(clf.module_scores_) == heads
    if heads == {"linear"}:
        assert clf.module_ == "linear"
        assert type(clf.net_.module_).__name__ == "LinearModule"


def test_auto_module_guard_reads_each_heads_validation_loss(blobs, monkeypatch):
    """The loss that breaks a balanced tie is the kept epoch's, as recorded."""
    import skmat._base

    seen = {}
    choose = skmat._base._choose_module

    def spy(fits, kept, source):
        seen.update(fits=fits, kept=kept)
        return choose(fits, kept, source)

    monkeypatch.setattr(skmat._base, "_choose_module", spy)
    X, y = blobs
    clf = MATClassifier(
        **{**FAST, "module": "auto"}, refit=False, random_state=0
    ).fit(X, y)
    assert all(fit["best_loss"] > 0 for fit in seen["fits"].values())
    fit = seen["fits"][clf.module_, seen["kept"][clf.module_]]
    recorded = clf.net_.history[fit["best_epoch"] - 1, "valid_loss"]
    assert fit["best_loss"] == pytest.approx(recorded)


def test_untrained_means_no_better_score_nor_balanced_accuracy():
    from skmat._base import _untrained

    learned = dict(best_score=0.47, initial_score=0.52,
                   best_balanced_accuracy=0.91, initial_balanced_accuracy=0.64)
    # The score fell, but the network classifies the rows far better.
    assert not _untrained(learned)
    assert _untrained({**learned, "best_balanced_accuracy": 0.64})
    assert _untrained({**learned, "best_score": 0.52, "best_balanced_accuracy": 0.5})
    assert not _untrained(
        {**learned, "best_score": 0.53, "best_balanced_accuracy": 0.5}
    )


@pytest.mark.parametrize("Estimator", [MATClassifier, ERMClassifier])
def test_warns_when_the_kept_network_is_no_better_than_untrained(blobs, Estimator):
    X, y = blobs
    # A step too small to change a prediction: every epoch is the untrained network.
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        Estimator(**{**FAST, "lr": 1e-9}, random_state=0).fit(X, y)
    messages = [str(w.message) for w in record
                if "no better than the untrained network" in str(w.message)]
    assert len(messages) == 1
    assert issubclass(
        next(w.category for w in record if str(w.message) == messages[0]),
        ConvergenceWarning,
    )
    assert "balanced accuracy" in messages[0] and "Train longer" in messages[0]


def test_no_convergence_warning_where_the_score_falls_as_the_network_learns(
    monkeypatch,
):
    """Label noise: XRM's inferred minority is noise, on which the untrained
    network's random errors score better than the trained network's."""
    import skmat._base

    seen = []
    untrained = skmat._base._untrained
    monkeypatch.setattr(
        skmat._base, "_untrained", lambda fit: seen.append(fit) or untrained(fit)
    )
    X, y = make_classification(
        600, n_features=20, class_sep=2.0, flip_y=0.2, random_state=0
    )
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        clf = MATClassifier(random_state=0).fit(X, y)
    assert not [w for w in record if "untrained network" in str(w.message)]
    (fit,) = seen
    assert clf.validation_groups_source_ == "inferred"
    # What the warning used to read alone: the score is no better...
    assert fit["best_score"] <= fit["initial_score"]
    # ...but the kept network classifies the validation rows far better.
    assert fit["best_balanced_accuracy"] > fit["initial_balanced_accuracy"] + 0.2


def test_auto_module_refits_and_pickles_the_kept_head(blobs, monkeypatch):
    import skmat._base

    # Whatever the scores, keep the MLP: its module_params, the refit and a
    # pickle round trip must all build an MLP.
    monkeypatch.setattr(skmat._base, "_choose_module", lambda fits, kept, source: "mlp")
    X, y = blobs
    clf = MATClassifier(**{**FAST, "module": "auto"}, random_state=0).fit(X, y)
    assert clf.module_ == "mlp"
    assert clf.refitted_
    first = clf.net_.module_.layers[0]
    assert first.out_features == FAST["module_params"]["hidden_layer_sizes"][0]
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    # The nested XRM ignores the MLP's module_params.
    assert clf.xrm_.module_params is None


def test_history_records_the_balanced_validation_accuracy(blobs, recorded_splits):
    X, y = blobs
    clf = MATClassifier(**FAST, temperature=1.0, refit=False, random_state=0)
    clf.fit(X, y)
    (_, valid), = recorded_splits
    # The kept network is the best epoch's: its balanced accuracy on the
    # validation rows is the one the head choice compares.
    pred = clf.predict(X[valid])
    balanced = np.mean([np.mean(pred[y[valid] == k] == k) for k in (0, 1)])
    recorded = clf.net_.history[clf.best_epoch_ - 1, "valid_balanced_acc"]
    np.testing.assert_allclose(recorded, balanced)


def test_auto_module_without_validation_is_linear_after_an_mlp_fit(blobs, monkeypatch):
    import skmat._base

    X, y = blobs
    clf = MATClassifier(**{**FAST, "module": "auto"}, random_state=0)
    with monkeypatch.context() as patch:
        patch.setattr(skmat._base, "_choose_module", lambda fits, kept, source: "mlp")
        clf.fit(X, y)
    assert clf.module_ == "mlp"
    # A second fit with nothing to choose on does not inherit the first's head.
    clf.set_params(early_stopping=False).fit(X, y)
    assert clf.module_ == "linear"
    assert type(clf.net_.module_).__name__ == "LinearModule"
