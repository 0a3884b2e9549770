import copy
import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from skmat._scorer import WorstGroupScorer
from skmat.metrics import worst_class_accuracy, worst_group_accuracy

CV = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
C_GRID = {"C": [0.01, 1.0, 100.0]}


def lr(C=1.0):
    # liblinear: lbfgs is much slower on these tiny problems
    return LogisticRegression(C=C, solver="liblinear")


def routing():
    return sklearn.config_context(enable_metadata_routing=True)


@pytest.fixture(scope="module")
def data():
    """Spurious-correlation data: feature 1 agrees with y on 85% of samples."""
    rng = np.random.RandomState(0)
    n = 240
    y = rng.randint(2, size=n)
    agree = rng.rand(n) < 0.85
    a = np.where(agree, y, 1 - y)
    X = np.c_[
        (2 * y - 1) * 0.5 + rng.randn(n),
        (2 * a - 1) * 2.0 + 0.5 * rng.randn(n),
        rng.randn(n, 3),
    ]
    X[:, 0] += 10  # something for StandardScaler to do
    group_labels = np.array([f"y{t}_a{s}" for t, s in zip(y, a, strict=True)])
    return X, y, group_labels


class InferringClassifier(ClassifierMixin, BaseEstimator):
    """LogisticRegression plus XRM-like inferred groups: 2 * y + mistake."""

    def __init__(self, C=1.0, fail=None):
        self.C = C
        self.fail = fail

    def fit(self, X, y):
        self.lr_ = lr(C=self.C).fit(X, y)
        self.classes_ = self.lr_.classes_
        return self

    def predict(self, X):
        return self.lr_.predict(X)

    def infer_group_labels(self, X, y):
        check_is_fitted(self)
        if self.fail is not None:
            raise self.fail("inference unavailable")
        self.seen_X_ = np.asarray(X)
        y_enc = np.searchsorted(self.classes_, y)
        return 2 * y_enc + (self.predict(X) != np.asarray(y))


def inferred_wga(est, X, y):
    return worst_group_accuracy(
        y, est.predict(X), group_labels=est.infer_group_labels(X, y)
    )


def manual_cv_scores(make_est, X, y, score):
    """Score of every test fold of CV, computed by hand."""
    scores = []
    for train, test in CV.split(X, y):
        est = make_est().fit(X[train], y[train])
        scores.append(score(est, test))
    return np.array(scores)


def test_repr_and_default_request():
    assert repr(WorstGroupScorer()) == "WorstGroupScorer(fallback='inferred')"
    assert repr(WorstGroupScorer(fallback="class")) == (
        "WorstGroupScorer(fallback='class')"
    )
    request = WorstGroupScorer().get_metadata_routing()
    assert request.score.requests == {"group_labels": True}


def test_direct_call_with_group_labels_routing_off(data):
    X, y, g = data
    clf = lr().fit(X, y)
    scorer = WorstGroupScorer()
    assert scorer.last_source_ is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = scorer(clf, X, y, group_labels=g)
    assert score == worst_group_accuracy(y, clf.predict(X), group_labels=g)
    assert scorer.last_source_ == "group_labels"
    assert scorer.sources_ == {"group_labels": 1}


def test_grid_search_routes_group_labels(data):
    X, y, g = data
    scorer = WorstGroupScorer()
    with routing():
        search = GridSearchCV(lr(), C_GRID, cv=CV, scoring=scorer)
        search.fit(X, y, group_labels=g)
    for i, C in enumerate(C_GRID["C"]):
        expected = manual_cv_scores(
            lambda C=C: lr(C=C),
            X,
            y,
            lambda est, test: worst_group_accuracy(
                y[test], est.predict(X[test]), group_labels=g[test]
            ),
        )
        got = [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)]
        np.testing.assert_allclose(got, expected)
    assert scorer.last_source_ == "group_labels"
    assert scorer.sources_ == {"group_labels": 9}
    # WGA really differs from plain accuracy on these data
    assert search.best_score_ < search.best_estimator_.score(X, y)
    with routing():
        assert search.score(X, y, group_labels=g) == worst_group_accuracy(
            y, search.predict(X), group_labels=g
        )


def test_grid_search_inferred_groups_routing_on(data):
    X, y, _ = data
    scorer = WorstGroupScorer()
    with routing(), warnings.catch_warnings():
        warnings.simplefilter("error")  # no routing-off warning
        search = GridSearchCV(InferringClassifier(), C_GRID, cv=CV, scoring=scorer)
        search.fit(X, y)
    assert scorer.sources_ == {"inferred": 9}
    for i, C in enumerate(C_GRID["C"]):
        expected = manual_cv_scores(
            lambda C=C: InferringClassifier(C=C),
            X,
            y,
            lambda est, test: inferred_wga(est, X[test], y[test]),
        )
        np.testing.assert_allclose(
            [search.cv_results_[f"split{k}_test_score"][i] for k in range(3)],
            expected,
        )


def test_grid_search_routing_off_warns_once_and_falls_back(data):
    X, y, g = data
    scorer = WorstGroupScorer()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        search = GridSearchCV(lr(), C_GRID, cv=CV, scoring=scorer)
        search.fit(X, y)
    ours = [w for w in record if "enable_metadata_routing=True" in str(w.message)]
    assert len(ours) == 1
    assert issubclass(ours[0].category, UserWarning)
    assert scorer.sources_ == {"class": 9}
    expected = manual_cv_scores(
        lambda: lr(),
        X,
        y,
        lambda est, test: worst_class_accuracy(y[test], est.predict(X[test])),
    )
    np.testing.assert_allclose(
        [search.cv_results_[f"split{k}_test_score"][1] for k in range(3)], expected
    )


def test_cross_validate_with_params(data):
    X, y, g = data
    scorer = WorstGroupScorer()
    with routing():
        result = cross_validate(
            lr(),
            X,
            y,
            cv=CV,
            scoring=scorer,
            params={"group_labels": g},
            return_train_score=True,
        )
    expected = manual_cv_scores(
        lr,
        X,
        y,
        lambda est, test: worst_group_accuracy(
            y[test], est.predict(X[test]), group_labels=g[test]
        ),
    )
    np.testing.assert_allclose(result["test_score"], expected)
    assert scorer.sources_ == {"group_labels": 6}  # train and test scores
    with routing():
        scores = cross_val_score(
            lr(), X, y, cv=CV, scoring=scorer, params={"group_labels": g}
        )
    np.testing.assert_allclose(scores, expected)


def test_group_labels_and_groups_are_separate_keys(data):
    X, y, g = data
    split_groups = np.arange(len(y)) % 4
    with routing():
        result = cross_validate(
            lr(),
            X,
            y,
            cv=GroupKFold(n_splits=4),
            scoring=WorstGroupScorer(),
            params={"group_labels": g, "groups": split_groups},
        )
    expected = []
    for train, test in GroupKFold(n_splits=4).split(X, y, split_groups):
        est = lr().fit(X[train], y[train])
        expected.append(
            worst_group_accuracy(y[test], est.predict(X[test]), group_labels=g[test])
        )
    np.testing.assert_allclose(result["test_score"], expected)


def test_multimetric_refit(data):
    X, y, g = data
    scoring = {"wga": WorstGroupScorer(), "acc": "accuracy"}
    with routing():
        search = GridSearchCV(lr(), C_GRID, cv=CV, scoring=scoring, refit="wga")
        search.fit(X, y, group_labels=g)
    results = search.cv_results_
    assert search.best_index_ == np.argmax(results["mean_test_wga"])
    assert search.best_score_ == results["mean_test_wga"][search.best_index_]
    assert np.all(results["mean_test_wga"] <= results["mean_test_acc"])
    assert scoring["wga"].sources_ == {"group_labels": 9}
    with routing():
        assert search.score(X, y, group_labels=g) == worst_group_accuracy(
            y, search.predict(X), group_labels=g
        )


def test_pipeline_with_group_labels(data):
    X, y, g = data
    pipe = make_pipeline(StandardScaler(), lr())
    with routing():
        search = GridSearchCV(
            pipe,
            {"logisticregression__C": C_GRID["C"]},
            cv=CV,
            scoring=WorstGroupScorer(),
        )
        search.fit(X, y, group_labels=g)
    assert search.scorer_.sources_ == {"group_labels": 9}


def test_pipeline_inferred_uses_transformed_X(data):
    X, y, _ = data
    pipe = make_pipeline(StandardScaler(), InferringClassifier()).fit(X, y)
    scorer = WorstGroupScorer()
    with routing():
        score = scorer(pipe, X, y)
    assert scorer.last_source_ == "inferred"
    Xt = pipe[:-1].transform(X)
    np.testing.assert_allclose(pipe[-1].seen_X_, Xt)
    assert score == inferred_wga(pipe[-1], Xt, y)
    # nested pipelines reach the final step too
    nested = make_pipeline(make_pipeline(StandardScaler(), InferringClassifier()))
    nested.fit(X, y)
    with routing():
        assert scorer(nested, X, y) == score
    assert scorer.last_source_ == "inferred"


def test_pipeline_inferred_inside_grid_search(data):
    X, y, _ = data
    pipe = make_pipeline(StandardScaler(), InferringClassifier())
    with routing():
        search = GridSearchCV(
            pipe,
            {"inferringclassifier__C": [0.1, 1.0]},
            cv=CV,
            scoring=WorstGroupScorer(),
        ).fit(X, y)
    assert search.scorer_.sources_ == {"inferred": 6}


@pytest.mark.parametrize("error", [NotFittedError, AttributeError])
def test_inference_errors_fall_back_to_class(data, error):
    X, y, _ = data
    clf = InferringClassifier(fail=error).fit(X, y)
    scorer = WorstGroupScorer()
    with routing():
        score = scorer(clf, X, y)
    assert scorer.last_source_ == "class"
    assert score == worst_class_accuracy(y, clf.predict(X))


def test_inference_other_errors_propagate(data):
    X, y, _ = data
    clf = InferringClassifier(fail=RuntimeError).fit(X, y)
    with routing(), pytest.raises(RuntimeError, match="inference unavailable"):
        WorstGroupScorer()(clf, X, y)


def test_inferred_labels_of_wrong_length(data):
    X, y, _ = data

    class Short(InferringClassifier):
        def infer_group_labels(self, X, y):
            return np.zeros(3, dtype=int)

    clf = Short().fit(X, y)
    with routing(), pytest.raises(ValueError, match="returned 3 group labels"):
        WorstGroupScorer()(clf, X, y)


def test_fallback_order_and_last_source(data):
    X, y, g = data
    inferring = InferringClassifier().fit(X, y)
    plain = lr().fit(X, y)
    scorer = WorstGroupScorer()
    with routing():
        assert scorer(inferring, X, y, group_labels=g) == worst_group_accuracy(
            y, inferring.predict(X), group_labels=g
        )
        assert scorer.last_source_ == "group_labels"
        assert scorer(inferring, X, y) == inferred_wga(inferring, X, y)
        assert scorer.last_source_ == "inferred"
        assert scorer(plain, X, y) == worst_class_accuracy(y, plain.predict(X))
        assert scorer.last_source_ == "class"
        assert scorer.sources_ == {"group_labels": 1, "inferred": 1, "class": 1}

        by_class = WorstGroupScorer(fallback="class")
        assert by_class(inferring, X, y) == worst_class_accuracy(
            y, inferring.predict(X)
        )
        assert by_class.last_source_ == "class"
        by_class(inferring, X, y, group_labels=g)
        assert by_class.last_source_ == "group_labels"

        strict = WorstGroupScorer(fallback="raise")
        with pytest.raises(ValueError, match="no group_labels"):
            strict(inferring, X, y)
        assert strict.last_source_ is None
        strict(inferring, X, y, group_labels=g)
        assert strict.last_source_ == "group_labels"
    with pytest.raises(ValueError, match="enable_metadata_routing=True"):
        strict(inferring, X, y)


def test_invalid_fallback(data):
    X, y, _ = data
    clf = lr().fit(X, y)
    # Validated at each call, as estimators validate their parameters at fit.
    scorer = WorstGroupScorer(fallback="groups")  # stored as given
    assert scorer.fallback == "groups"
    match = "The 'fallback' parameter of WorstGroupScorer must be a str among"
    for bad in ("groups", None, 1):
        with pytest.raises(InvalidParameterError, match=match):
            WorstGroupScorer(fallback=bad)(clf, X, y)
    with pytest.raises(ValueError, match=match):  # InvalidParameterError is one
        WorstGroupScorer(fallback="groups")(clf, X, y, group_labels=y)
    assert set(WorstGroupScorer._parameter_constraints) == {"fallback"}


def test_warning_routing_off_once_per_instance(data):
    X, y, g = data
    clf = InferringClassifier().fit(X, y)
    scorer = WorstGroupScorer()
    with pytest.warns(UserWarning, match="enable_metadata_routing=True") as record:
        assert scorer(clf, X, y) == inferred_wga(clf, X, y)
        scorer(clf, X, y)
    assert len(record) == 1
    assert scorer.last_source_ == "inferred"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # An explicit choice of worst-class accuracy does not warn.
        WorstGroupScorer(fallback="class")(clf, X, y)
        WorstGroupScorer()(clf, X, y, group_labels=g)
        with routing():
            WorstGroupScorer()(clf, X, y)


def test_set_score_request(data):
    X, y, g = data
    with pytest.raises(RuntimeError, match="metadata routing is enabled"):
        WorstGroupScorer().set_score_request(group_labels=False)
    with routing():
        off = WorstGroupScorer().set_score_request(group_labels=False)
        assert off.get_metadata_routing().score.requests == {"group_labels": False}
        cross_validate(lr(), X, y, cv=CV, scoring=off)
        assert off.sources_ == {"class": 3}

        aliased = WorstGroupScorer().set_score_request(group_labels="test_groups")
        result = cross_validate(
            lr(),
            X,
            y,
            cv=CV,
            scoring=aliased,
            params={"test_groups": g},
        )
        assert aliased.sources_ == {"group_labels": 3}
        expected = manual_cv_scores(
            lr,
            X,
            y,
            lambda est, test: worst_group_accuracy(
                y[test], est.predict(X[test]), group_labels=g[test]
            ),
        )
        np.testing.assert_allclose(result["test_score"], expected)

        # unchanged keeps the alias; True restores the default
        aliased.set_score_request()
        assert aliased.get_metadata_routing().score.requests == {
            "group_labels": "test_groups"
        }
        aliased.set_score_request(group_labels=True)
        assert aliased.get_metadata_routing().score.requests == {"group_labels": True}
        with pytest.raises(ValueError, match="alias"):
            aliased.set_score_request(group_labels="not an identifier")


def test_pickle_and_deepcopy(data):
    X, y, g = data
    clf = lr().fit(X, y)
    scorer = WorstGroupScorer(fallback="class")
    scorer(clf, X, y, group_labels=g)
    with routing():
        scorer.set_score_request(group_labels="test_groups")
    for clone in (pickle.loads(pickle.dumps(scorer)), copy.deepcopy(scorer)):
        assert repr(clone) == repr(scorer)
        assert clone.sources_ == {"group_labels": 1}
        assert clone.get_metadata_routing().score.requests == {
            "group_labels": "test_groups"
        }
        assert clone(clf, X, y, group_labels=g) == scorer(clf, X, y, group_labels=g)
        clone(clf, X, y, group_labels=g)
        assert clone.sources_["group_labels"] == 3
    assert scorer.sources_["group_labels"] == 3  # one call per clone above
