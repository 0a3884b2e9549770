"""Per-group report of a fitted classifier, with memorization."""

# Authors: The skmat developers
# License: BSD 3 clause

import numpy as np
from sklearn.utils.validation import _num_samples, check_is_fitted

from ..metrics import group_accuracy_report
from ..utils._validation import _check_group_labels, _factorize_groups

__all__ = ["group_report"]


def group_report(estimator, X, y, *, group_labels, memorization=None):
    """Accuracy, confidence and memorization of a fitted classifier per group.

    Parameters
    ----------
    estimator : fitted classifier
        Any fitted scikit-learn classifier. ``predict_proba`` is used when it
        has one.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Input samples.
    y : array-like of shape (n_samples,)
        True class labels.
    group_labels : array-like of shape (n_samples,)
        Group of each sample; any hashable labels (ints, strings, tuples).
    memorization : array-like of shape (n_samples,), default=None
        A score per row of ``X``, e.g. from :func:`memorization_scores` on
        the same training rows. When given, the report adds its mean per
        group.

    Returns
    -------
    report : pandas.DataFrame
        One row per group (sorted, index name ``"group"``): the columns of
        :func:`~skmat.metrics.group_accuracy_report` (``count``,
        ``proportion``, ``accuracy``, ``n_errors``, ``majority_label``,
        ``mean_true_proba`` and ``log_loss`` when the estimator has
        ``predict_proba``, ``is_worst``), plus ``mean_memorization`` when
        ``memorization`` is given.

    See Also
    --------
    skmat.metrics.group_accuracy_report : The same from predictions.
    memorization_scores : Memorization scores of the training rows.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmat.inspection import group_report
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> y = [0, 0, 1, 1]
    >>> clf = LogisticRegression().fit(X, y)
    >>> report = group_report(clf, X, y, group_labels=["a", "a", "b", "b"],
    ...                       memorization=[0.0, 0.2, 0.4, 0.6])
    >>> report[["count", "accuracy", "mean_memorization"]]
    ... # doctest: +NORMALIZE_WHITESPACE
           count  accuracy  mean_memorization
    group
    a          2       1.0                0.1
    b          2       1.0                0.5
    """
    check_is_fitted(estimator)
    if y is None:
        raise ValueError("y is required; got None.")
    n_samples = _num_samples(X)
    if _num_samples(y) != n_samples:
        raise ValueError(
            f"X and y must have the same number of samples; got {n_samples} "
            f"rows in X and {_num_samples(y)} labels in y."
        )
    y_pred = estimator.predict(X)
    has_proba = hasattr(estimator, "predict_proba")
    report = group_accuracy_report(
        y,
        y_pred,
        group_labels=group_labels,
        y_proba=estimator.predict_proba(X) if has_proba else None,
        classes=getattr(estimator, "classes_", None) if has_proba else None,
    )
    if memorization is not None:
        scores = _check_memorization(memorization, n_samples)
        codes, _ = _factorize_groups(_check_group_labels(group_labels))
        sums = np.bincount(codes, weights=scores, minlength=len(report))
        report.insert(
            report.columns.get_loc("is_worst"),
            "mean_memorization",
            sums / report["count"].to_numpy(),
        )
    return report


def _check_memorization(memorization, n_samples):
    try:
        scores = np.asarray(memorization, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "memorization must be an array of numbers, one per sample."
        ) from exc
    if scores.ndim != 1 or len(scores) != n_samples:
        raise ValueError(
            f"memorization must be 1d with one score per sample ({n_samples}); "
            f"got shape {scores.shape}."
        )
    if not np.isfinite(scores).all():
        raise ValueError("memorization contains NaN or infinity.")
    return scores
