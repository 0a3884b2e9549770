"""Plots of group accuracy, memorization, decision boundaries and training.

matplotlib is an optional dependency (``pip install skmat[plot]``); it is
imported inside each function, so ``skmat`` imports without it.
"""

# Authors: The skmat developers
# License: BSD 3 clause

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import _num_samples, check_array, check_is_fitted

from ..metrics import group_accuracy_report
from ..utils._validation import _check_group_labels, _factorize_groups

__all__ = [
    "plot_decision_boundary",
    "plot_group_accuracy",
    "plot_memorization",
    "plot_training_curves",
]

# History entries that are bookkeeping, not curves.
_HISTORY_SKIP = {"epoch", "dur", "batches", "train_batch_count", "valid_batch_count"}
# Curves drawn first, in this order, when present.
_HISTORY_FIRST = ["train_loss", "valid_loss", "valid_score", "valid_acc", "flip_rate"]
# Entries left out of the default plot: the early-stopping rank (the
# validation score plus tie-breaks), the balanced validation accuracy
# (which MAT's choice of head compares) and the accuracies on the pooled
# inferred minority and the other rows (MAT's minority_lift_); ``keys=``
# draws them.
_HISTORY_HIDDEN = {
    "valid_rank", "valid_balanced_acc", "valid_minority_acc", "valid_majority_acc",
}


def _pyplot():
    """Import matplotlib.pyplot, with an error that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "Plotting in skmat needs matplotlib, which is not installed. "
            'Install it with `pip install "skmat[plot]"` (or `pip install '
            "matplotlib`)."
        ) from exc
    return plt


def _axes(ax):
    """Return ``ax``, or the axes of a new figure when it is None."""
    plt = _pyplot()
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _estimator_name(estimator):
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        return type(steps[-1][1]).__name__
    return type(estimator).__name__


def _named_estimators(estimators, names):
    """Return the estimators as a list, and their unique display names."""
    if isinstance(estimators, dict):
        if names is not None:
            raise ValueError("Pass names either as the keys of a dict or as names=.")
        names, estimators = list(map(str, estimators)), list(estimators.values())
    elif hasattr(estimators, "predict"):
        estimators = [estimators]
    else:
        estimators = list(estimators)
    if not estimators:
        raise ValueError("estimators is empty; pass at least one fitted classifier.")
    if names is None:
        names, seen = [], {}
        for est in estimators:
            name = _estimator_name(est)
            seen[name] = seen.get(name, 0) + 1
            names.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    else:
        names = [str(name) for name in names]
        if len(names) != len(estimators):
            raise ValueError(
                f"names has {len(names)} entries for {len(estimators)} estimators."
            )
    return estimators, names


def _group_names(uniques, group_names):
    """Display name of each group in ``uniques``."""
    if group_names is None:
        return [str(g) for g in uniques]
    if isinstance(group_names, dict):
        return [str(group_names.get(g, g)) for g in uniques]
    group_names = list(group_names)
    if len(group_names) != len(uniques):
        raise ValueError(
            f"group_names has {len(group_names)} entries for {len(uniques)} "
            "groups; pass a dict {group: name} or one name per sorted group."
        )
    return [str(name) for name in group_names]


def plot_group_accuracy(
    estimators, X, y, *, group_labels, names=None, group_names=None, ax=None
):
    """Bar chart of the accuracy per group of one or several classifiers.

    One cluster of bars per group, one bar per estimator, side by side; the
    legend gives each estimator's worst-group accuracy.

    Parameters
    ----------
    estimators : fitted classifier, list of them, or dict
        The classifiers to compare. A dict maps display names to
        classifiers.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Evaluation data, e.g. a test set.
    y : array-like of shape (n_samples,)
        True labels.
    group_labels : array-like of shape (n_samples,)
        Group of each sample.
    names : list of str, default=None
        Display names of the estimators; defaults to their class names.
    group_names : dict or list of str, default=None
        Display names of the groups: a dict ``{group: name}`` or one name
        per group in sorted order, e.g. the ``group_names`` of
        :func:`~skmat.datasets.make_spurious_memorization`.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmat.inspection import plot_group_accuracy
    >>> X, y, groups = [[0], [1], [2], [3]], [0, 0, 1, 1], [0, 1, 0, 1]
    >>> models = {"logistic": LogisticRegression().fit(X, y),
    ...           "dummy": DummyClassifier().fit(X, y)}
    >>> ax = plot_group_accuracy(models, X, y, group_labels=groups)
    >>> len(ax.patches)  # 2 groups x 2 models
    4
    """
    estimators, names = _named_estimators(estimators, names)
    ax = _axes(ax)
    reports = []
    for est in estimators:
        check_is_fitted(est)
        reports.append(
            group_accuracy_report(y, est.predict(X), group_labels=group_labels)
        )
    groups = reports[0].index
    positions = np.arange(len(groups))
    width = 0.8 / len(estimators)
    for j, (name, report) in enumerate(zip(names, reports, strict=True)):
        accuracy = report["accuracy"].to_numpy()
        offset = (j - (len(estimators) - 1) / 2) * width
        ax.bar(
            positions + offset,
            accuracy,
            width,
            label=f"{name} (worst group {accuracy.min():.2f})",
        )
    ax.set_xticks(positions)
    ax.set_xticklabels(_group_names(groups, group_names))
    ax.set_xlabel("Group")
    ax.set_ylabel("Accuracy")
    # Room above the bars for the legend, which would hide accuracies near 1.
    ax.set_ylim(0, 1.3)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="upper center", ncol=min(len(estimators), 2), fontsize="small")
    return ax


@validate_params(
    {
        "scores": ["array-like"],
        "group_labels": ["array-like"],
        "group_names": "no_validation",
        "ax": "no_validation",
        "bins": [Interval(Integral, 1, None, closed="left"), str, "array-like"],
        "kind": [StrOptions({"hist", "box"})],
    },
    prefer_skip_nested_validation=True,
)
def plot_memorization(
    scores, *, group_labels, group_names=None, ax=None, bins=20, kind="hist"
):
    """Distribution of memorization scores in each group.

    The style of Figure 2 of Bayat et al. (ICLR 2025): under a spurious
    correlation, a model trained by ERM memorizes the minority groups
    (scores near 1) and not the majority (scores near 0).

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Memorization scores, e.g. from :func:`memorization_scores`.
    group_labels : array-like of shape (n_samples,)
        Group of each sample.
    group_names : dict or list of str, default=None
        Display names of the groups: a dict ``{group: name}`` or one name
        per group in sorted order.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.
    bins : int or array-like, default=20
        Histogram bins (``kind="hist"``): a number of equal bins over
        ``[min(0, scores.min()), max(1, scores.max())]``, shared by all
        groups, or explicit bin edges (pass the same edges to compare
        several plots).
    kind : {"hist", "box"}, default="hist"
        ``"hist"`` overlays one density histogram per group (densities, so
        that small groups stay visible); ``"box"`` draws one box plot per
        group.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> from skmat.inspection import plot_memorization
    >>> scores = [0.0, 0.1, 0.05, 0.9, 0.8]
    >>> ax = plot_memorization(scores, group_labels=[0, 0, 0, 1, 1],
    ...                        group_names={0: "majority", 1: "minority"})
    >>> [text.get_text() for text in ax.get_legend().get_texts()]
    ['majority (n=3, mean 0.05)', 'minority (n=2, mean 0.85)']
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1d; got shape {scores.shape}.")
    if not np.isfinite(scores).all():
        raise ValueError("scores contains NaN or infinity.")
    series = _check_group_labels(group_labels)
    if len(series) != len(scores):
        raise ValueError(
            f"scores and group_labels must have the same length; got "
            f"{len(scores)} and {len(series)}."
        )
    if len(scores) == 0:
        raise ValueError("scores is empty.")
    codes, uniques = _factorize_groups(series)
    labels = _group_names(uniques, group_names)
    per_group = [scores[codes == k] for k in range(len(uniques))]
    ax = _axes(ax)
    if kind == "hist":
        if isinstance(bins, Integral):
            low, high = min(0.0, scores.min()), max(1.0, scores.max())
            bins = np.linspace(low, high, int(bins) + 1)
        for k, (label, values) in enumerate(zip(labels, per_group, strict=True)):
            ax.hist(
                values,
                bins=bins,
                density=True,
                histtype="stepfilled",
                alpha=0.4,
                color=f"C{k % 10}",
                edgecolor=f"C{k % 10}",
                # "+ 0.0" turns a rounded -0.0 into 0.0.
                label=f"{label} (n={len(values)}, "
                f"mean {np.round(values.mean(), 2) + 0.0:.2f})",
            )
        ax.set_xlabel("Memorization score")
        ax.set_ylabel("Density")
        ax.legend()
    else:
        positions = np.arange(1, len(per_group) + 1)
        ax.boxplot(per_group, positions=positions)
        ax.set_xticks(positions)
        ax.set_xticklabels(labels)
        ax.set_xlabel("Group")
        ax.set_ylabel("Memorization score")
    return ax


@validate_params(
    {
        "estimator": [HasMethods(["predict"])],
        "X": ["array-like"],
        "y": ["array-like"],
        "group_labels": ["array-like", None],
        "features": "no_validation",
        "feature_names": "no_validation",
        "group_names": "no_validation",
        "fill_value": [Real, StrOptions({"mean"})],
        "grid_resolution": [Interval(Integral, 2, None, closed="left")],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_decision_boundary(
    estimator,
    X,
    y,
    *,
    group_labels=None,
    features=(0, 1),
    feature_names=None,
    group_names=None,
    fill_value=0.0,
    grid_resolution=100,
    ax=None,
):
    """Decision regions over two features, with the data coloured by group.

    The style of Figure 1 of Bayat et al. (ICLR 2025): on
    :func:`~skmat.datasets.make_spurious_memorization` the two features are
    the core one (column 0) and the spurious one (column 1), and the other
    (noise) features are held at 0, their mean. A model that relies on the
    spurious feature draws a horizontal boundary, one that uses the core
    feature a vertical one.

    Parameters
    ----------
    estimator : fitted classifier
        Any fitted classifier; ``predict`` is evaluated over a grid.
    X : array-like of shape (n_samples, n_features)
        Numeric data to scatter, e.g. the training set. Its range sets the
        grid.
    y : array-like of shape (n_samples,)
        Labels, used for the colours when ``group_labels`` is None.
    group_labels : array-like of shape (n_samples,), default=None
        Group of each sample, used for the colours.
    features : tuple of two ints or str, default=(0, 1)
        The two features on the axes: column positions, or column names when
        ``X`` is a DataFrame.
    feature_names : list of str, default=None
        Names of all features, for the axis labels (e.g. the
        ``feature_names`` of the dataset). Defaults to the DataFrame's
        columns, else the estimator's ``feature_names_in_``, else
        ``"feature <i>"``.
    group_names : dict or list of str, default=None
        Display names of the groups (or classes), for the legend.
    fill_value : float or "mean", default=0.0
        Value of the other features on the grid; ``"mean"`` uses their mean
        over ``X``.
    grid_resolution : int, default=100
        Number of grid points along each axis.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmat.datasets import make_spurious_memorization
    >>> from skmat.inspection import plot_decision_boundary
    >>> data = make_spurious_memorization(n_samples=100, n_features=10,
    ...                                   random_state=0)
    >>> clf = LogisticRegression().fit(data.X_train, data.y_train)
    >>> ax = plot_decision_boundary(
    ...     clf, data.X_train, data.y_train,
    ...     group_labels=data.group_labels_train,
    ...     feature_names=data.feature_names, group_names=data.group_names)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('core', 'spurious')
    """
    check_is_fitted(estimator)
    columns = getattr(X, "columns", None)
    X_array = check_array(X, dtype=np.float64, input_name="X")
    n_samples, n_features = X_array.shape
    if _num_samples(y) != n_samples:
        raise ValueError(
            f"X and y must have the same number of samples; got {n_samples} "
            f"and {_num_samples(y)}."
        )
    if feature_names is None:
        if columns is not None:
            feature_names = list(columns)
        elif hasattr(estimator, "feature_names_in_"):
            feature_names = list(estimator.feature_names_in_)
        else:
            feature_names = [f"feature {i}" for i in range(n_features)]
    feature_names = [str(name) for name in feature_names]
    if len(feature_names) != n_features:
        raise ValueError(
            f"feature_names has {len(feature_names)} names for {n_features} features."
        )
    idx = [_feature_index(f, columns, n_features) for f in _two(features)]
    if isinstance(fill_value, str):  # "mean", the one string allowed
        fill = X_array.mean(axis=0)
    else:
        fill = np.full(n_features, float(fill_value))
    if group_labels is None:
        series = _check_group_labels(y, name="y")
    else:
        series = _check_group_labels(group_labels)
    if len(series) != n_samples:
        raise ValueError(
            f"group_labels has {len(series)} entries for {n_samples} samples."
        )
    group_codes, uniques = _factorize_groups(series)

    axes_values = []
    for i in idx:
        low, high = X_array[:, i].min(), X_array[:, i].max()
        margin = 0.05 * (high - low) if high > low else 1.0
        axes_values.append(np.linspace(low - margin, high + margin, grid_resolution))
    xx, yy = np.meshgrid(*axes_values)
    codes = _predict_grid(estimator, xx.ravel(), yy.ravel(), idx, fill, columns)
    classes = getattr(estimator, "classes_", None)
    n_classes = len(classes) if classes is not None else int(codes.max()) + 1
    codes = codes.reshape(xx.shape)

    ax = _axes(ax)
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(xx, yy, codes, levels=levels, cmap="coolwarm", alpha=0.25)
    if n_classes > 1 and len(np.unique(codes)) > 1:
        ax.contour(xx, yy, codes, levels=levels[1:-1], colors="k", linewidths=1.0)

    for k, label in enumerate(_group_names(uniques, group_names)):
        rows = group_codes == k
        ax.scatter(
            X_array[rows, idx[0]],
            X_array[rows, idx[1]],
            s=12,
            color=f"C{k % 10}",
            edgecolors="none",
            alpha=0.8,
            label=label,
        )
    ax.set_xlabel(feature_names[idx[0]])
    ax.set_ylabel(feature_names[idx[1]])
    ax.legend(title="Group" if group_labels is not None else "Class")
    return ax


def _two(features):
    features = list(features) if not isinstance(features, str) else [features]
    if len(features) != 2:
        raise ValueError(f"features must name exactly two features; got {features!r}.")
    return features


def _feature_index(feature, columns, n_features):
    if isinstance(feature, Integral) and not isinstance(feature, bool):
        if not -n_features <= feature < n_features:
            raise ValueError(
                f"Feature index {feature} is out of range for {n_features} features."
            )
        return int(feature) % n_features
    if columns is not None and feature in list(columns):
        return list(columns).index(feature)
    raise ValueError(
        f"Unknown feature {feature!r}: pass column positions, or column names "
        "of a DataFrame X."
    )


def _predict_grid(estimator, x0, x1, idx, fill, columns, chunk=2048):
    """Class codes predicted over grid points, in chunks to bound memory."""
    classes = getattr(estimator, "classes_", None)
    out = np.empty(len(x0), dtype=np.intp)
    for start in range(0, len(x0), chunk):
        stop = min(start + chunk, len(x0))
        rows = np.tile(fill, (stop - start, 1))
        rows[:, idx[0]] = x0[start:stop]
        rows[:, idx[1]] = x1[start:stop]
        if columns is not None:
            import pandas as pd

            rows = pd.DataFrame(rows, columns=columns)
        pred = np.asarray(estimator.predict(rows))
        if classes is not None:
            pred = np.searchsorted(classes, pred)
        out[start:stop] = pred
    return out


def plot_training_curves(estimator, *, keys=None, ax=None):
    """Per-epoch training curves of a fitted skmat estimator.

    Parameters
    ----------
    estimator : fitted skmat estimator or skorch net
        An estimator with a ``net_`` (e.g. :class:`~skmat.MATClassifier`,
        :class:`~skmat.XRMEstimator`, the baselines), or a skorch net or
        history.
    keys : list of str, default=None
        History entries to plot, e.g. ``["train_loss", "valid_score"]``.
        Defaults to every numeric entry but ``valid_rank`` and
        ``valid_balanced_acc``: ``train_loss``, ``valid_loss``,
        ``valid_score`` and ``valid_acc`` (with early stopping),
        ``flip_rate`` and ``max_class_flip_rate`` (XRM), ...
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn on, with one line per key and, when early stopping
        kept an earlier epoch, a dashed vertical line at ``best_epoch_``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat import XRMEstimator
    >>> from skmat.inspection import plot_training_curves
    >>> X, y = make_classification(n_samples=100, random_state=0)
    >>> xrm = XRMEstimator(max_epochs=5, random_state=0).fit(X, y)
    >>> ax = plot_training_curves(xrm)
    >>> [line.get_label() for line in ax.get_lines()]
    ['train_loss', 'flip_rate', 'max_class_flip_rate']
    """
    history = _history(estimator)
    if len(history) == 0:
        raise ValueError("The training history is empty: fit the estimator first.")
    available = _numeric_keys(history)
    if keys is None:
        keys = [k for k in _HISTORY_FIRST if k in available]
        keys += [k for k in available if k not in keys and k not in _HISTORY_HIDDEN]
        if not keys:
            raise ValueError("The training history has no numeric entries to plot.")
    else:
        keys = [keys] if isinstance(keys, str) else list(keys)
        unknown = [k for k in keys if k not in available]
        if unknown:
            raise ValueError(
                f"Unknown history keys {unknown}; available: {sorted(available)}."
            )
    epochs = [row.get("epoch", i + 1) for i, row in enumerate(history)]
    ax = _axes(ax)
    for key in keys:
        values = [row.get(key, np.nan) for row in history]
        ax.plot(epochs, np.asarray(values, dtype=np.float64), label=key)
    best = getattr(estimator, "best_epoch_", None)
    if best is not None and best != epochs[-1]:
        ax.axvline(best, color="gray", linestyle="--", label=f"best epoch ({best})")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Value")
    ax.legend()
    return ax


def _history(estimator):
    net = getattr(estimator, "net_", None)
    if net is not None:
        return net.history
    history = getattr(estimator, "history", None)
    if history is not None:
        return history
    if isinstance(estimator, list) and all(isinstance(r, dict) for r in estimator):
        return estimator
    raise ValueError(
        f"{type(estimator).__name__} has no training history: pass a fitted "
        "skmat estimator (with a `net_`), a skorch net or its history."
    )


def _numeric_keys(history):
    """History keys with a numeric (not boolean) value, in first-seen order."""
    keys = {}
    for row in history:
        for key, value in row.items():
            if key in _HISTORY_SKIP or key.endswith("_best") or key in keys:
                continue
            if isinstance(value, bool | np.bool_):
                continue
            if isinstance(value, int | float | np.number):
                keys[key] = None
    return list(keys)
