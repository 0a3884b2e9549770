import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier

from skmat import MATClassifier, WorstGroupScorer
from skmat._torch import mat_shift
from skmat.metrics import worst_group_accuracy
from skmat.model_selection import (
    StratifiedGroupLabelKFold,
    cross_val_heldout_logits,
    search_temperature,
)
from skmat.model_selection._heldout import _LOG_TINY


def routing():
    return sklearn.config_context(enable_metadata_routing=True)


def lr():
    return LogisticRegression(solver="liblinear")


def tiny_mat(**params):
    return MATClassifier(max_epochs=5, module_params=None, random_state=0, **params)


@pytest.fixture(scope="module")
def cells():
    """Three classes x three groups with unequal cells (smallest: 6 rows)."""
    rng = np.random.RandomState(0)
    sizes = {
        (c, g): 6 + 7 * i + 11 * g + (i * g) % 4
        for i, c in enumerate("abc")
        for g in range(3)
    }
    y = np.concatenate([[c] * n for (c, _), n in sizes.items()])
    g = np.concatenate([[g] * n for (_, g), n in sizes.items()])
    order = rng.permutation(len(y))
    return np.zeros((len(y), 2)), y[order], g[order]


@pytest.fixture(scope="module")
def spurious():
    """Binary data with a spurious attribute that agrees with y on 85%."""
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=3, random_state=0
    )
    rng = np.random.RandomState(1)
    a = np.where(rng.rand(len(y)) < 0.85, y, 1 - y)
    X[:, -1] = 2 * a - 1 + 0.3 * rng.randn(len(y))
    return X, y, a


def cell_counts(y, g):
    keys = sorted(set(zip(y.tolist(), g.tolist(), strict=True)))
    pairs = list(zip(y.tolist(), g.tolist(), strict=True))
    return {k: pairs.count(k) for k in keys}


# --------------------------------------------------------------------------
# StratifiedGroupLabelKFold
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n_splits", [2, 3, 5])
def test_split_keeps_every_cell_in_proportion(cells, shuffle, n_splits):
    X, y, g = cells
    cv = StratifiedGroupLabelKFold(
        n_splits, shuffle=shuffle, random_state=0 if shuffle else None
    )
    totals = cell_counts(y, g)
    splits = list(cv.split(X, y, g))
    assert len(splits) == cv.get_n_splits() == n_splits
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(len(y)))
    classes, class_totals = np.unique(y, return_counts=True)
    for train, test in splits:
        assert np.intersect1d(train, test).size == 0
        assert len(train) + len(test) == len(y)
        counts = cell_counts(y[test], g[test])
        assert counts.keys() == totals.keys()  # every cell in every fold
        for key, n in totals.items():
            assert abs(counts[key] - n / n_splits) < 1
        # cells are numbered class by class: the classes are balanced too
        per_class = np.array([np.sum(y[test] == c) for c in classes])
        assert np.all(np.abs(per_class - class_totals / n_splits) < 1)


def test_split_without_group_labels_is_stratified_kfold(cells):
    X, y, _ = cells
    for kwargs in [{}, {"shuffle": True, "random_state": 3}]:
        ours = StratifiedGroupLabelKFold(4, **kwargs).split(X, y)
        theirs = StratifiedKFold(4, **kwargs).split(X, y)
        for (a_train, a_test), (b_train, b_test) in zip(ours, theirs, strict=True):
            assert np.array_equal(a_train, b_train)
            assert np.array_equal(a_test, b_test)


def test_split_differs_from_stratified_kfold(cells):
    X, y, g = cells
    cv = StratifiedGroupLabelKFold(3, shuffle=True, random_state=0)
    with_groups = [test for _, test in cv.split(X, y, g)]
    without = [test for _, test in cv.split(X, y)]
    assert any(
        not np.array_equal(a, b) for a, b in zip(with_groups, without, strict=True)
    )


def test_split_accepts_strings_and_pandas(cells):
    X, y, g = cells
    g_str = np.array([f"group-{v}" for v in g], dtype=object)
    cv = StratifiedGroupLabelKFold(3, shuffle=True, random_state=0)
    ref = [test for _, test in cv.split(X, y, g)]
    frame = pd.DataFrame(X)
    got = [test for _, test in cv.split(frame, pd.Series(y), pd.Series(g_str))]
    for a, b in zip(ref, got, strict=True):
        assert np.array_equal(a, b)


def test_split_is_reproducible_and_shuffles(cells):
    X, y, g = cells
    first = [
        t
        for _, t in StratifiedGroupLabelKFold(3, shuffle=True, random_state=1).split(
            X, y, g
        )
    ]
    again = [
        t
        for _, t in StratifiedGroupLabelKFold(3, shuffle=True, random_state=1).split(
            X, y, g
        )
    ]
    plain = [t for _, t in StratifiedGroupLabelKFold(3).split(X, y, g)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, plain, strict=True))


def test_tiny_cells_are_pooled_with_a_warning():
    rng = np.random.RandomState(0)
    y = np.array([0] * 40 + [1] * 40)
    g = np.array(["maj"] * 36 + ["x"] * 2 + ["z"] * 2 + ["maj"] * 37 + ["m"] * 3)
    perm = rng.permutation(len(y))
    y, g = y[perm], g[perm]
    X = np.zeros((len(y), 1))
    cv = StratifiedGroupLabelKFold(4)
    with pytest.warns(UserWarning, match="fewer members than n_splits=4") as rec:
        splits = list(cv.split(X, y, g))
    message = str(rec[0].message)
    assert "3 (class, group) cell(s)" in message
    assert "(y=1, group='m'): 3" in message
    assert "(y=0, group='x'): 2" in message
    tests = np.concatenate([test for _, test in splits])
    assert np.array_equal(np.sort(tests), np.arange(len(y)))
    # class 0's pool (x + z, 4 rows) is its own stratum: one row per fold
    for _, test in splits:
        assert np.isin(g[test], ["x", "z"]).sum() == 1
        assert np.sum(y[test] == 0) == 10


def test_class_smaller_than_n_splits_warns_not_crashes():
    y = np.array([0] * 20 + [1] * 2)
    g = np.array([0, 1] * 10 + [0, 1])
    X = np.zeros((len(y), 1))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        splits = list(StratifiedGroupLabelKFold(3).split(X, y, g))
    messages = " ".join(str(w.message) for w in rec)
    assert "fewer members than n_splits" in messages
    assert "least populated class in y has only 2 members" in messages
    assert len(splits) == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_splits": 1}, "at least 2"),
        ({"n_splits": 2.5}, "must be an integer"),
        ({"n_splits": True}, "must be an integer"),
        ({"shuffle": "yes"}, "shuffle must be True or False"),
        ({"random_state": 0}, "no effect since shuffle is False"),
    ],
)
def test_splitter_parameter_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StratifiedGroupLabelKFold(**kwargs)


def test_split_input_errors(cells):
    X, y, g = cells
    cv = StratifiedGroupLabelKFold(3)
    with pytest.raises(ValueError, match="needs the class labels y"):
        next(cv.split(X, None, g))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        next(cv.split(X, y, g[:-1]))
    with pytest.raises(ValueError, match="binary or multiclass"):
        next(cv.split(X, np.linspace(0, 1, len(y)), g))
    with pytest.raises(ValueError, match="missing values"):
        next(cv.split(X, y, np.where(g == 0, np.nan, g)))
    with pytest.raises(ValueError, match="greater than the number of samples"):
        next(StratifiedGroupLabelKFold(5).split(X[:4], y[:4], g[:4]))
    mixed = np.array([i if i % 2 else "a" for i in range(len(y))], dtype=object)
    with pytest.raises(ValueError, match="one sortable type"):
        next(cv.split(X, y, mixed))


def test_groups_is_not_consumed(cells):
    X, y, g = cells
    cv = StratifiedGroupLabelKFold(3)
    assert cv.get_metadata_routing().split.requests == {"group_labels": True}
    with routing():
        with pytest.raises(TypeError, match=r"Unexpected args: \{'groups'\} in split"):
            cv.set_split_request(groups=True)
    with pytest.warns(UserWarning, match="ignores `groups`"):
        ignored = [test for _, test in cv.split(X, y, groups=g)]
    plain = [test for _, test in cv.split(X, y)]
    assert all(np.array_equal(a, b) for a, b in zip(ignored, plain, strict=True))


class RecordingKFold(StratifiedGroupLabelKFold):
    """Record the group_labels that reach split."""

    received = []

    def split(self, X, y=None, group_labels=None, groups=None):
        type(self).received.append(group_labels)
        return super().split(X, y, group_labels, groups)


def test_grid_search_routes_group_labels_to_splitter(cells):
    X, y, g = cells
    X = np.random.RandomState(0).randn(len(y), 2)
    RecordingKFold.received = []
    cv = RecordingKFold(3, shuffle=True, random_state=0)
    with routing():
        search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv).fit(
            X, y, group_labels=g
        )
    assert search.n_splits_ == 3
    assert len(RecordingKFold.received) == 1
    assert np.array_equal(RecordingKFold.received[0], g)

    # the scores are those of the group-stratified folds, not y-only folds
    def fold_scores(splits):
        return [
            clone(LogisticRegression())
            .set_params(C=0.1)
            .fit(X[tr], y[tr])
            .score(X[te], y[te])
            for tr, te in splits
        ]

    expected = fold_scores(cv.split(X, y, g))
    got = [search.cv_results_[f"split{i}_test_score"][0] for i in range(3)]
    assert np.allclose(got, expected)
    assert not np.allclose(got, fold_scores(cv.split(X, y)))


def test_grid_search_without_routing_ignores_group_labels_quietly(cells):
    X, y, g = cells
    X = np.random.RandomState(0).randn(len(y), 2)
    RecordingKFold.received = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GridSearchCV(LogisticRegression(), {"C": [1.0]}, cv=RecordingKFold(3)).fit(X, y)
    assert RecordingKFold.received == [None]


def test_routing_rejects_groups_passed_to_search(cells):
    X, y, g = cells
    X = np.random.RandomState(0).randn(len(y), 2)
    with routing():
        with pytest.raises(
            TypeError,
            match=r"GridSearchCV.fit got unexpected argument\(s\) \{'groups'\}, "
            "which are not routed to any object",
        ):
            GridSearchCV(
                LogisticRegression(), {"C": [1.0]}, cv=StratifiedGroupLabelKFold(3)
            ).fit(X, y, groups=g)


# --------------------------------------------------------------------------
# cross_val_heldout_logits
# --------------------------------------------------------------------------
def test_heldout_logits_match_manual_loop():
    X, y = make_classification(
        n_samples=150, n_classes=3, n_informative=4, random_state=0
    )
    got = cross_val_heldout_logits(
        LogisticRegression(max_iter=1000), X, y, cv=4, random_state=0
    )
    expected = np.empty((len(y), 3))
    for train, test in StratifiedKFold(4, shuffle=True, random_state=0).split(X, y):
        expected[test] = (
            clone(LogisticRegression(max_iter=1000))
            .fit(X[train], y[train])
            .predict_log_proba(X[test])
        )
    assert got.dtype == np.float64
    assert got.shape == (150, 3)
    assert np.allclose(got, expected)


def test_heldout_logits_string_labels_sorted_columns():
    X, y_int = make_classification(
        n_samples=150, n_classes=3, n_informative=4, random_state=0
    )
    names = np.array(["zebra", "ant", "moose"])
    y = names[y_int]
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    logits = cross_val_heldout_logits(LogisticRegression(max_iter=1000), X, y, cv=cv)
    assert logits.shape == (150, 3)
    pred = np.empty(len(y), dtype=object)
    for train, test in cv.split(X, y):
        pred[test] = (
            clone(LogisticRegression(max_iter=1000))
            .fit(X[train], y[train])
            .predict(X[test])
        )
    assert np.array_equal(np.array(["ant", "moose", "zebra"])[logits.argmax(1)], pred)


def test_heldout_logits_binary_decision_function():
    X, y = make_classification(n_samples=120, random_state=0)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    svc = LinearSVC(random_state=0)
    logits = cross_val_heldout_logits(svc, X, y, cv=cv)  # auto: no predict_proba
    d = np.empty(len(y))
    for train, test in cv.split(X, y):
        d[test] = clone(svc).fit(X[train], y[train]).decision_function(X[test])
    assert logits.shape == (120, 2)
    assert np.allclose(logits, np.c_[-d / 2, d / 2])
    assert np.allclose(logits[:, 1] - logits[:, 0], d)


def test_heldout_logits_methods():
    X, y = make_classification(n_samples=120, random_state=0)
    kwargs = {"cv": 3, "random_state": 0}
    log_proba = cross_val_heldout_logits(lr(), X, y, **kwargs)
    from_proba = cross_val_heldout_logits(lr(), X, y, method="predict_proba", **kwargs)
    assert np.allclose(log_proba, from_proba)
    decision = cross_val_heldout_logits(
        lr(), X, y, method="decision_function", **kwargs
    )
    # a binary logistic regression's decision function is its log-odds
    assert np.allclose(
        decision[:, 1] - decision[:, 0], log_proba[:, 1] - log_proba[:, 0]
    )
    piped = cross_val_heldout_logits(
        make_pipeline(StandardScaler(), lr()), X, y, **kwargs
    )
    assert piped.shape == (120, 2)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
def test_heldout_logits_are_finite_for_zero_probabilities():
    X, y = make_classification(n_samples=120, random_state=0)
    tree = DecisionTreeClassifier(random_state=0)
    logits = cross_val_heldout_logits(tree, X, y, cv=3, random_state=0)
    assert np.isfinite(logits).all()
    assert logits.min() == pytest.approx(_LOG_TINY)


def test_heldout_logits_errors():
    X, y = make_classification(n_samples=60, random_state=0)
    with pytest.raises(ValueError, match="'method' parameter of cross_val_heldout"):
        cross_val_heldout_logits(lr(), X, y, method="predict")
    with pytest.raises(ValueError, match="has no method 'predict_proba'"):
        cross_val_heldout_logits(LinearSVC(), X, y, method="predict_proba")
    with pytest.raises(ValueError, match="binary or multiclass"):
        cross_val_heldout_logits(lr(), X, np.linspace(0, 1, 60))
    with pytest.raises(ValueError, match="'cv' parameter of cross_val_heldout_logits"):
        cross_val_heldout_logits(lr(), X, y, cv=1)
    with pytest.raises(ValueError, match="at least 2 classes"):
        cross_val_heldout_logits(lr(), X, np.zeros(60, dtype=int))

    class NoScores(LogisticRegression):
        predict_log_proba = predict_proba = decision_function = property()

    with pytest.raises(ValueError, match="has none of"):
        cross_val_heldout_logits(NoScores(), X, y)


def test_mat_trains_on_kfold_heldout_logits(spurious):
    from skmat._mat import _calibration_temperature

    X, y, a = spurious
    y_str = np.array(["neg", "pos"])[y]
    logits = cross_val_heldout_logits(lr(), X, y_str, cv=3, random_state=0)
    tr, va = slice(0, 150), slice(150, None)
    clf = tiny_mat(temperature=0.5).fit(
        X[tr], y_str[tr], heldout_logits=logits[tr],
        X_val=X[va], y_val=y_str[va], group_labels_val=a[va],
    )
    assert clf.xrm_ is None
    assert clf.validation_groups_source_ == "group_labels"
    # The shift is MAT's formula on the K-fold logits, calibrated first.
    h = logits[tr]
    assert clf.heldout_temperature_ == pytest.approx(
        _calibration_temperature(h, y[tr]), rel=1e-12
    )
    np.testing.assert_allclose(
        clf.shift_,
        mat_shift(h / clf.heldout_temperature_, y[tr], clf.temperature_, 2),
        rtol=1e-6, atol=1e-6,
    )
    assert clf.temperature_ == 0.5
    assert set(clf.predict(X)) <= {"neg", "pos"}


def test_heldout_logits_with_group_label_splitter(spurious):
    X, y, a = spurious
    cv = StratifiedGroupLabelKFold(3, shuffle=True, random_state=0)
    with routing():
        logits = cross_val_heldout_logits(lr(), X, y, cv=cv, params={"group_labels": a})
    expected = np.empty((len(y), 2))
    for train, test in cv.split(X, y, a):
        expected[test] = clone(lr()).fit(X[train], y[train]).predict_log_proba(X[test])
    assert np.allclose(logits, expected)


# --------------------------------------------------------------------------
# search_temperature
# --------------------------------------------------------------------------
def _best_score_by_hand(search, X, y, group_labels=None):
    """Mean over the search's folds of the worst-group accuracy of the best
    candidate, fitted and scored by hand: on the fold's true groups when
    given, else on the groups the fitted model infers (the scorer's fallback).
    """
    scores = []
    for train, test in search.cv.split(X, y, group_labels):
        est = clone(search.estimator).set_params(**search.best_params_)
        if group_labels is None:
            est.fit(X[train], y[train])
            groups = est.infer_group_labels(X[test], y[test])
        else:
            est.fit(X[train], y[train], group_labels=group_labels[train])
            groups = group_labels[test]
        scores.append(
            worst_group_accuracy(y[test], est.predict(X[test]), group_labels=groups)
        )
    return float(np.mean(scores))


def _assert_best_is_the_argmax(search, key="temperature"):
    means = search.cv_results_["mean_test_score"]
    best = int(np.argmax(means))
    assert search.best_index_ == best
    assert search.best_params_[key] == search.cv_results_[f"param_{key}"][best]


def test_search_temperature_with_group_labels(spurious):
    X, y, a = spurious
    grid = [0.1, 1.0]
    search = search_temperature(
        X,
        y,
        group_labels=a,
        temperatures=grid,
        estimator=tiny_mat(),
        cv=2,
        random_state=0,
    )
    assert isinstance(search, GridSearchCV)
    _assert_best_is_the_argmax(search)
    assert isinstance(search.cv, StratifiedGroupLabelKFold)
    assert search.cv.n_splits == 2 and search.cv.shuffle
    assert isinstance(search.scorer_, WorstGroupScorer)
    assert search.scorer_.sources_ == {"group_labels": 2 * len(grid)}
    assert search.scorer_.last_source_ == "group_labels"
    assert search.best_estimator_.validation_groups_source_ == "group_labels"
    assert search.best_score_ == pytest.approx(
        _best_score_by_hand(search, X, y, a), abs=1e-12
    )
    assert not sklearn.get_config()["enable_metadata_routing"]
    assert search.predict(X).shape == y.shape


def test_search_temperature_without_group_labels(spurious):
    X, y, _ = spurious
    search = search_temperature(
        X, y, temperatures=(0.1, 10.0), estimator=tiny_mat(), cv=2, random_state=0
    )
    _assert_best_is_the_argmax(search)
    assert search.scorer_.sources_ == {"inferred": 4}
    assert search.scorer_.last_source_ == "inferred"
    assert search.best_estimator_.validation_groups_source_ == "inferred"
    assert search.best_score_ == pytest.approx(
        _best_score_by_hand(search, X, y), abs=1e-12
    )


def test_search_temperature_pipeline(spurious):
    X, y, a = spurious
    pipe = make_pipeline(StandardScaler(), tiny_mat())
    search = search_temperature(
        X,
        y,
        group_labels=a,
        temperatures=[0.1, 1.0],
        estimator=pipe,
        cv=2,
        random_state=0,
    )
    assert list(search.param_grid) == ["matclassifier__temperature"]
    _assert_best_is_the_argmax(search, "matclassifier__temperature")
    assert search.scorer_.sources_ == {"group_labels": 4}
    final = search.best_estimator_[-1]
    assert final.validation_groups_source_ == "group_labels"


def test_search_temperature_custom_cv(spurious):
    X, y, _ = spurious
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    search = search_temperature(
        X,
        y,
        temperatures=[1.0],
        estimator=tiny_mat(),
        cv=cv,
        scoring="accuracy",
        refit=False,
        return_train_score=True,
    )
    assert search.cv is cv
    assert "mean_train_score" in search.cv_results_
    assert not hasattr(search, "best_estimator_")


def test_temperature_key_nested_pipeline():
    from skmat.model_selection._search import _temperature_key

    inner = make_pipeline(StandardScaler(), tiny_mat())
    outer = make_pipeline(StandardScaler(), inner)
    assert _temperature_key(tiny_mat()) == "temperature"
    assert _temperature_key(inner) == "matclassifier__temperature"
    assert _temperature_key(outer) == "pipeline__matclassifier__temperature"


def test_search_temperature_errors(spurious):
    X, y, _ = spurious
    for bad in ([], [0.0], [-1.0], ["0.1"], [np.nan], None):
        with pytest.raises(ValueError, match="temperatures must be"):
            search_temperature(X, y, temperatures=bad, estimator=tiny_mat())
    with pytest.raises(ValueError, match="has none"):
        search_temperature(X, y, estimator=lr())
    with pytest.raises(ValueError, match="'cv' parameter of search_temperature"):
        search_temperature(X, y, estimator=tiny_mat(), cv=1)
