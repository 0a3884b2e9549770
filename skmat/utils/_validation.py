"""Input checks shared by the estimators, metrics, splitters and inspection."""

import numpy as np
import pandas as pd


def _check_group_labels(group_labels, n_samples=None, *, name="group_labels"):
    """Return ``group_labels`` as a 1d pandas Series with a default index.

    The one check of group labels in skmat. pandas keeps heterogeneous
    hashable labels (ints, strings, tuples) as they are, where ``np.asarray``
    would turn ``[1, "a"]`` into two strings and a list of tuples into a 2d
    array. Callers that index or sort use ``.to_numpy()``.

    Parameters
    ----------
    group_labels : array-like of shape (n_samples,)
        One hashable label per sample.
    n_samples : int, default=None
        The expected number of labels; ``None`` skips the check (callers that
        compare several lengths at once report the mismatch themselves).
    name : str, default="group_labels"
        The argument's name, for the error messages.

    Returns
    -------
    group_labels : pandas.Series of shape (n_samples,)
        The labels, with a default ``RangeIndex``.
    """
    if group_labels is None:
        raise ValueError(
            f"{name} is required; got None. Pass one group label per sample."
        )
    if isinstance(group_labels, pd.DataFrame):
        if group_labels.shape[1] != 1:
            raise ValueError(
                f"{name} should be 1d, got a DataFrame of shape {group_labels.shape}."
            )
        series = group_labels.iloc[:, 0]
    elif isinstance(group_labels, (pd.Series, pd.Index, pd.Categorical)):
        series = pd.Series(group_labels)
    elif hasattr(group_labels, "shape") and hasattr(group_labels, "dtype"):
        array = np.asarray(group_labels)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array.ravel()
        if array.ndim != 1:
            raise ValueError(
                f"{name} should be a 1d array, got an array of shape "
                f"{array.shape} instead."
            )
        series = pd.Series(array)
    elif isinstance(group_labels, (str, bytes)) or not hasattr(
        group_labels, "__iter__"
    ):
        raise ValueError(
            f"{name} should be an array-like of one label per sample, got "
            f"{type(group_labels).__name__}."
        )
    else:
        series = pd.Series(list(group_labels), dtype=None)
    series = series.reset_index(drop=True)
    if n_samples is not None and len(series) != n_samples:
        raise ValueError(
            f"`{name}` must be 1-d with one entry per sample ({n_samples}); "
            f"got shape ({len(series)},)."
        )
    missing = series.isna().to_numpy()
    if missing.any():
        raise ValueError(
            f"`{name}` has missing values (NaN or None): missing group labels "
            f"at {int(missing.sum())} of {len(series)} positions, e.g. index "
            f"{int(np.flatnonzero(missing)[0])}. Every sample needs a group."
        )
    return series


def _factorize_groups(series, name="group_labels"):
    """Integer codes and sorted unique values of group labels."""
    try:
        codes, uniques = pd.factorize(series, sort=True)
    except TypeError as exc:
        if "unhashable" in str(exc):
            raise ValueError(
                f"{name} must hold hashable labels (ints, strings, tuples); "
                f"got {type(series.iloc[0]).__name__}."
            ) from exc
        # Labels of types that cannot be compared: keep a deterministic order.
        codes, uniques = pd.factorize(series, sort=False)
        order = sorted(
            range(len(uniques)),
            key=lambda i: (type(uniques[i]).__name__, str(uniques[i])),
        )
        rank = np.empty(len(order), dtype=np.intp)
        rank[order] = np.arange(len(order))
        codes = rank[codes]
        uniques = uniques.take(order)
    return np.asarray(codes, dtype=np.intp), uniques
