"""Worst-group and per-group accuracy metrics."""

import numpy as np
import pandas as pd
from sklearn.utils import check_array
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import column_or_1d

from ..utils._validation import _check_group_labels, _factorize_groups

__all__ = [
    "group_accuracy_report",
    "worst_class_accuracy",
    "worst_group_accuracy",
]


def _check_1d(y, name):
    """Return ``y`` as a 1d array, with an error that names the argument."""
    if y is None:
        raise ValueError(f"{name} is required; got None.")
    try:
        return column_or_1d(y, input_name=name)
    except ValueError as exc:
        shape = np.shape(y)
        raise ValueError(
            f"{name} should be a 1d array of labels, got an array of shape "
            f"{shape} instead."
        ) from exc


def _check_targets(y_true, y_pred, group_labels=None):
    """Validate the inputs shared by the metrics of this module.

    Returns
    -------
    y_true, y_pred : ndarray of shape (n_samples,)
    labels : ndarray
        Sorted unique labels of ``y_true`` and ``y_pred``.
    groups : pandas.Series or None
    """
    y_true = _check_1d(y_true, "y_true")
    y_pred = _check_1d(y_pred, "y_pred")
    arrays = {"y_true": y_true, "y_pred": y_pred}
    groups = None
    if group_labels is not None:
        groups = _check_group_labels(group_labels)
        arrays["group_labels"] = groups
    lengths = {name: len(value) for name, value in arrays.items()}
    names = (
        " and ".join(lengths)
        if len(lengths) == 2
        else (f"{', '.join(list(lengths)[:-1])} and {list(lengths)[-1]}")
    )
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"{names} must have the same number of samples; got {detail}.")
    if len(y_true) == 0:
        raise ValueError(
            f"Empty input: {names} have 0 samples; at least one sample is needed."
        )
    try:
        labels = unique_labels(y_true, y_pred)
    except ValueError as exc:
        raise ValueError(
            f"y_true and y_pred must hold class labels of one type: {exc}"
        ) from exc
    return y_true, y_pred, labels, groups


def _group_counts(codes, n_groups, correct):
    counts = np.bincount(codes, minlength=n_groups)
    hits = np.bincount(codes, weights=correct, minlength=n_groups)
    return counts, hits


def worst_group_accuracy(y_true, y_pred, *, group_labels):
    """Minimum over groups of the accuracy within each group.

    Worst-group accuracy (WGA) is the standard model-selection criterion for
    learning under spurious correlations: a model that is right on the
    majority groups and wrong on a small minority has a high accuracy and a
    low WGA.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_pred : array-like of shape (n_samples,)
        Predicted class labels.

    group_labels : array-like of shape (n_samples,)
        Group of each sample; any hashable labels (ints, strings, tuples).
        Missing values (NaN, None) are an error.

    Returns
    -------
    score : float
        ``min_g accuracy(y_true[g], y_pred[g])``, in ``[0, 1]``.

    See Also
    --------
    worst_class_accuracy : The same with the classes as groups.
    group_accuracy_report : Accuracy and counts of every group.

    Examples
    --------
    >>> from skmat.metrics import worst_group_accuracy
    >>> y_true = [0, 0, 0, 0, 1, 1]
    >>> y_pred = [0, 0, 0, 1, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b"]
    >>> worst_group_accuracy(y_true, y_pred, group_labels=groups)
    0.5
    """
    y_true, y_pred, _, groups = _check_targets(
        y_true, y_pred, group_labels=_require(group_labels)
    )
    codes, uniques = _factorize_groups(groups)
    counts, hits = _group_counts(codes, len(uniques), y_true == y_pred)
    return float(np.min(hits / counts))


def _require(group_labels):
    if group_labels is None:
        raise ValueError(
            "group_labels is required; got None. Pass one group label per "
            "sample, or use worst_class_accuracy when no groups are known."
        )
    return group_labels


def worst_class_accuracy(y_true, y_pred):
    """Minimum per-class recall over the classes present in ``y_true``.

    The worst-group accuracy with the true class as the group: the fallback
    model-selection criterion when no group labels are known.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_pred : array-like of shape (n_samples,)
        Predicted class labels.

    Returns
    -------
    score : float
        ``min_c recall(c)`` over the classes ``c`` of ``y_true``, in
        ``[0, 1]``. Classes only predicted, never true, do not count.

    See Also
    --------
    worst_group_accuracy : The same with arbitrary groups.

    Examples
    --------
    >>> from skmat.metrics import worst_class_accuracy
    >>> worst_class_accuracy(["cat", "cat", "dog", "dog"], ["cat", "cat", "dog", "cat"])
    0.5
    """
    y_true, y_pred, _, _ = _check_targets(y_true, y_pred)
    classes, codes = np.unique(y_true, return_inverse=True)
    counts, hits = _group_counts(codes.ravel(), len(classes), y_true == y_pred)
    return float(np.min(hits / counts))


def group_accuracy_report(y_true, y_pred, *, group_labels, y_proba=None, classes=None):
    """Accuracy, size and errors of every group, one row per group.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True class labels.

    y_pred : array-like of shape (n_samples,)
        Predicted class labels.

    group_labels : array-like of shape (n_samples,)
        Group of each sample; any hashable labels (ints, strings, tuples).
        Missing values (NaN, None) are an error.

    y_proba : array-like of shape (n_samples, n_classes), default=None
        Predicted class probabilities, columns ordered as ``classes``. When
        given, the report adds ``mean_true_proba`` and ``log_loss``.

    classes : array-like of shape (n_classes,), default=None
        Labels of the columns of ``y_proba``, e.g. ``estimator.classes_``.
        Defaults to the sorted unique labels of ``y_true`` and ``y_pred``;
        pass it when the model knows classes that neither holds. Ignored
        without ``y_proba``.

    Returns
    -------
    report : pandas.DataFrame
        Indexed by group (sorted, index name ``"group"``), with columns

        - ``count``: number of samples in the group;
        - ``proportion``: ``count`` over the number of samples;
        - ``accuracy``: accuracy within the group;
        - ``n_errors``: number of misclassified samples;
        - ``majority_label``: most common true label in the group (the
          smallest such label on ties);
        - ``mean_true_proba`` and ``log_loss`` (only with ``y_proba``): mean
          predicted probability of the true label, and mean cross-entropy
          (probabilities clipped to ``[eps, 1 - eps]`` as in
          :func:`sklearn.metrics.log_loss`);
        - ``is_worst``: True for the group(s) with the lowest accuracy, whose
          accuracy is the :func:`worst_group_accuracy`.

    See Also
    --------
    worst_group_accuracy : The minimum of the ``accuracy`` column.

    Examples
    --------
    >>> from skmat.metrics import group_accuracy_report
    >>> y_true = [0, 0, 0, 0, 1, 1]
    >>> y_pred = [0, 0, 0, 1, 1, 0]
    >>> groups = ["a", "a", "a", "a", "b", "b"]
    >>> report = group_accuracy_report(y_true, y_pred, group_labels=groups)
    >>> columns = ["count", "accuracy", "n_errors", "is_worst"]
    >>> report[columns]  # doctest: +NORMALIZE_WHITESPACE
           count  accuracy  n_errors  is_worst
    group
    a          4      0.75         1     False
    b          2      0.50         1      True
    """
    y_true, y_pred, labels, groups = _check_targets(
        y_true, y_pred, group_labels=_require(group_labels)
    )
    n_samples = len(y_true)
    codes, uniques = _factorize_groups(groups)
    n_groups = len(uniques)
    correct = y_true == y_pred
    counts, hits = _group_counts(codes, n_groups, correct)
    accuracy = hits / counts

    true_classes, true_codes = np.unique(y_true, return_inverse=True)
    true_codes = true_codes.ravel()
    table = np.zeros((n_groups, len(true_classes)), dtype=np.intp)
    np.add.at(table, (codes, true_codes), 1)
    majority = true_classes[np.argmax(table, axis=1)]

    columns = {
        "count": counts.astype(np.int64),
        "proportion": counts / n_samples,
        "accuracy": accuracy,
        "n_errors": (counts - hits).round().astype(np.int64),
        "majority_label": majority,
    }
    if y_proba is not None:
        p_true = _true_class_proba(y_true, y_proba, classes, labels, n_samples)
        eps = np.finfo(p_true.dtype).eps
        losses = -np.log(np.clip(p_true, eps, 1 - eps))
        columns["mean_true_proba"] = (
            np.bincount(codes, weights=p_true, minlength=n_groups) / counts
        )
        columns["log_loss"] = (
            np.bincount(codes, weights=losses, minlength=n_groups) / counts
        )
    columns["is_worst"] = accuracy == accuracy.min()
    index = pd.Index(uniques, name="group", tupleize_cols=False)
    return pd.DataFrame(columns, index=index)


def _true_class_proba(y_true, y_proba, classes, labels, n_samples):
    """Probability that ``y_proba`` gives to the true label of each sample."""
    y_proba = check_array(
        y_proba, dtype=np.float64, input_name="y_proba", ensure_all_finite=True
    )
    if classes is None:
        classes = labels
        origin = "the labels of y_true and y_pred"
    else:
        classes = _check_1d(classes, "classes")
        origin = "classes"
        if len(np.unique(classes)) != len(classes):
            raise ValueError(
                f"classes must not repeat labels; got {classes.tolist()!r}."
            )
    if y_proba.shape[0] != n_samples:
        raise ValueError(
            f"y_proba has {y_proba.shape[0]} rows but y_true has {n_samples} samples."
        )
    if y_proba.shape[1] != len(classes):
        raise ValueError(
            f"y_proba has {y_proba.shape[1]} columns for {len(classes)} classes "
            f"({origin}: {np.asarray(classes).tolist()!r}). Pass "
            "classes= (e.g. estimator.classes_) to name the columns of y_proba."
        )
    if np.any(y_proba < 0) or np.any(y_proba > 1):
        raise ValueError("y_proba must hold probabilities in [0, 1].")
    row_sums = y_proba.sum(axis=1)
    if not np.allclose(row_sums, 1, rtol=0, atol=1e-6 * y_proba.shape[1]):
        worst = float(np.max(np.abs(row_sums - 1)))
        raise ValueError(
            "The rows of y_proba must sum to one; the largest deviation is "
            f"{worst:.3g}."
        )
    classes = np.asarray(classes)
    try:
        sorter = np.argsort(classes, kind="stable")
        found = np.searchsorted(classes, y_true, sorter=sorter)
        columns = sorter[np.clip(found, 0, len(classes) - 1)]
        known = classes[columns] == y_true
    except TypeError:
        columns, known = None, np.zeros(n_samples, dtype=bool)
    if not np.all(known):
        missing = y_true[np.flatnonzero(~np.asarray(known, dtype=bool))[0]]
        missing = missing.item() if isinstance(missing, np.generic) else missing
        raise ValueError(
            f"y_true holds the label {missing!r}, which is not among the "
            f"{origin} {classes.tolist()!r}, so its probability is unknown."
        )
    return y_proba[np.arange(n_samples), columns]
