"""Shared pieces of the last-layer baselines (DFR, AFR): no torch here.

The last-layer methods take the features X as fixed embeddings and refit a
linear head on them with scikit-learn or scipy. They share the input checks,
the splits that keep every class on both sides, group-balanced subsampling,
the worst-group score of a candidate, and the optional XRM that infers groups
when none are given (XRM, and with it torch, is imported only then).
"""

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.fixes import parse_version
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_memory, validate_data

from ..utils._validation import _check_group_labels

# scikit-learn 1.8 deprecated ``penalty`` in favour of ``l1_ratio``.
_L1_RATIO_API = parse_version(sklearn.__version__).release >= (1, 8)


def logistic_regression(C, penalty, n_classes, random_state):
    """Build a liblinear LogisticRegression, one-vs-rest beyond two classes.

    liblinear is the DFR paper's solver; it fits one binary model per class
    (wrapped in a OneVsRestClassifier since scikit-learn 1.8 no longer does
    it inside LogisticRegression).
    """
    params = dict(C=C, solver="liblinear", max_iter=1000, random_state=random_state)
    if _L1_RATIO_API:
        params["l1_ratio"] = 1.0 if penalty == "l1" else 0.0
    else:
        params["penalty"] = penalty
    model = LogisticRegression(**params)
    return model if n_classes == 2 else OneVsRestClassifier(model)


def linear_head(model):
    """``(coef, intercept)`` of a fitted :func:`logistic_regression`."""
    if isinstance(model, OneVsRestClassifier):
        return (
            np.vstack([e.coef_ for e in model.estimators_]),
            np.concatenate([e.intercept_ for e in model.estimators_]),
        )
    return model.coef_, model.intercept_


def set_linear_head(model, coef, intercept):
    """Overwrite the weights of a fitted :func:`logistic_regression`."""
    if isinstance(model, OneVsRestClassifier):
        for k, estimator in enumerate(model.estimators_):
            estimator.coef_ = coef[k : k + 1]
            estimator.intercept_ = intercept[k : k + 1]
    else:
        model.coef_, model.intercept_ = coef, intercept
    return model


def worst_group_score(y_true, y_pred, groups):
    """Worst accuracy over the groups (``groups=y_true``: worst class)."""
    groups = np.asarray(groups)
    correct = np.asarray(y_true) == np.asarray(y_pred)
    return float(min(correct[groups == g].mean() for g in np.unique(groups)))


def balanced_subsample(groups, rng):
    """Row indices with every group cut down to the smallest group's size."""
    groups = np.asarray(groups)
    values, counts = np.unique(groups, return_counts=True)
    size = counts.min()
    rows = [
        rng.choice(np.flatnonzero(groups == g), size=size, replace=False)
        for g in values
    ]
    return np.sort(np.concatenate(rows))


def split_rows(y, strata, fraction, seed):
    """Split ``range(len(y))`` in two, every class on both sides, or None.

    Stratified on ``strata`` when each stratum has two rows, else on ``y``;
    ``None`` when the data are too small to keep every class on both sides.
    """
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    n_second = int(np.ceil(fraction * len(rows)))
    n_classes = len(np.unique(y))
    if n_second < n_classes or len(rows) - n_second < n_classes:
        return None
    for stratify in (strata, y):
        if stratify is None or np.unique(stratify, return_counts=True)[1].min() < 2:
            continue
        try:
            first, second = train_test_split(
                rows, test_size=n_second, stratify=stratify, random_state=seed
            )
        except ValueError:
            continue
        if (
            len(np.unique(y[first])) == n_classes
            and len(np.unique(y[second])) == n_classes
        ):
            return first, second
    return None


def joint_strata(y, groups):
    """One stratum per (class, group) pair, or the classes without groups."""
    if groups is None:
        return y
    _, g = np.unique(groups, return_inverse=True)
    return y * (g.max() + 1) + g


class _LastLayerClassifier(ClassifierMixin, BaseEstimator):
    """Input checks and prediction of a standardised linear head.

    Subclasses set ``scaler_`` (a fitted StandardScaler) and ``estimator_``
    (a fitted LogisticRegression on encoded labels) in ``fit``.
    """

    def _seeds(self, n):
        rng = check_random_state(self.random_state)
        return rng.randint(np.iinfo(np.int32).max, size=n)

    def _validate_fit_data(self, X, y, group_labels, X_val, y_val, group_labels_val):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in "
                f"the data; got 1 class ({self.classes_.tolist()[0]!r})."
            )
        y_enc = encoder.transform(y)
        if group_labels is not None:
            group_labels = _check_group_labels(group_labels, len(X)).to_numpy()
        if X_val is None and y_val is None:
            if group_labels_val is not None:
                raise ValueError("group_labels_val was given without X_val, y_val.")
            return X, y_enc, group_labels, None, None, None
        if X_val is None or y_val is None:
            raise ValueError("Pass both X_val and y_val, or neither.")
        X_val = validate_data(self, X_val, dtype=[np.float64, np.float32], reset=False)
        y_val = np.asarray(y_val)
        if y_val.ndim != 1 or len(y_val) != len(X_val):
            raise ValueError(
                f"`y_val` must be 1-d with {len(X_val)} entries like X_val; got "
                f"shape {y_val.shape}."
            )
        unknown = np.setdiff1d(np.unique(y_val), self.classes_)
        if len(unknown):
            raise ValueError(
                f"`y_val` holds labels unseen in fit: {unknown.tolist()[:5]}; "
                f"known classes are {self.classes_.tolist()}."
            )
        y_val = np.searchsorted(self.classes_, y_val)
        if group_labels_val is not None:
            group_labels_val = _check_group_labels(
                group_labels_val, len(X_val), name="group_labels_val"
            ).to_numpy()
        return X, y_enc, group_labels, X_val, y_val, group_labels_val

    def _fit_xrm(self, X, y_enc, seed):
        """Fit a clone of ``self.xrm`` (or a default XRM) through ``memory``."""
        from .._xrm import XRMEstimator, _fit_estimator

        if len(np.unique(y_enc)) != len(self.classes_):
            raise ValueError(
                f"{type(self).__name__}: some class has no row in the part of "
                "the data that XRM trains on; give each class more samples."
            )
        xrm = XRMEstimator() if self.xrm is None else clone(self.xrm)
        xrm.set_params(random_state=int(seed))
        fit = check_memory(self.memory).cache(_fit_estimator)
        return fit(xrm, X, self.classes_[y_enc])

    def _head_input(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self.scaler_.transform(X)

    def decision_function(self, X):
        """Scores of the linear head.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            As :meth:`sklearn.linear_model.LogisticRegression.decision_function`.
        """
        Z = self._head_input(X)
        return self.estimator_.decision_function(Z)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes, in the order of ``classes_``.
        """
        Z = self._head_input(X)
        return self.estimator_.predict_proba(Z)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        Z = self._head_input(X)
        return self.classes_[self.estimator_.predict(Z)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
