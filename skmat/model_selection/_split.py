"""A K-fold splitter stratified on the class and the group of each sample."""

import numbers
import warnings

import numpy as np
from sklearn.model_selection import BaseCrossValidator, StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples, column_or_1d, indexable

from ..utils._validation import _check_group_labels

__all__ = ["StratifiedGroupLabelKFold"]

_MAX_LISTED = 10


class StratifiedGroupLabelKFold(BaseCrossValidator):
    """K-fold splitter stratified on the class and the group of each sample.

    Each test fold keeps the proportion of every ``(class, group)`` cell, so
    that the small minority groups that worst-group accuracy hinges on appear
    in every fold, on both sides of every split. Groups are *not* kept
    together: unlike :class:`~sklearn.model_selection.GroupKFold` or
    :class:`~sklearn.model_selection.StratifiedGroupKFold`, which consume
    ``groups`` and hold out whole groups, this splitter consumes
    ``group_labels`` and only stratifies on them.

    Every cell is spread over the folds by round robin, so that its count in
    any two test folds differs by at most one; cells are ordered class by
    class, so the same holds for each class and for the fold sizes. Cells
    with fewer than ``n_splits`` members cannot reach every fold: they are
    pooled per class (into the largest cell of their class when the pool
    itself is too small) and a warning lists them. Without ``group_labels``
    the splits are those of
    :class:`~sklearn.model_selection.StratifiedKFold`.

    The splitter requests ``group_labels`` through metadata routing by
    default, so that with ``sklearn.set_config(enable_metadata_routing=True)``
    the call ``GridSearchCV(..., cv=StratifiedGroupLabelKFold()).fit(X, y,
    group_labels=g)`` passes them to :meth:`split` (and to the estimator and
    scorer that request them, such as :class:`~skmat.MATClassifier` and
    :class:`~skmat.WorstGroupScorer`). With routing off, searches never pass
    ``group_labels`` to a splitter and the folds are stratified on ``y``
    only.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Whether to shuffle the samples of each cell before splitting them
        into folds. Samples within a fold are never shuffled.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling when ``shuffle=True``; leave it None otherwise.
        Pass an int for splits that are the same at every call of
        :meth:`split`.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : Stratified on the class only.
    sklearn.model_selection.StratifiedGroupKFold : Keeps groups together
        (leave-group-out), consuming ``groups``.
    skmat.WorstGroupScorer : Worst-group accuracy scorer for the search.

    Examples
    --------
    >>> import numpy as np
    >>> from skmat.model_selection import StratifiedGroupLabelKFold
    >>> X = np.zeros((12, 1))
    >>> y = np.array([0] * 6 + [1] * 6)
    >>> group_labels = np.array(["a", "a", "a", "a", "b", "b"] * 2)
    >>> cv = StratifiedGroupLabelKFold(n_splits=2)
    >>> for train, test in cv.split(X, y, group_labels):
    ...     print(sorted(zip(y[test].tolist(), group_labels[test].tolist())))
    [(0, 'a'), (0, 'a'), (0, 'b'), (1, 'a'), (1, 'a'), (1, 'b')]
    [(0, 'a'), (0, 'a'), (0, 'b'), (1, 'a'), (1, 'a'), (1, 'b')]

    Inside a search, turn metadata routing on and pass ``group_labels`` to
    ``fit``:

    >>> import sklearn
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import GridSearchCV
    >>> X = np.arange(24, dtype=float).reshape(12, 2)
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     search = GridSearchCV(
    ...         LogisticRegression(), {"C": [0.1, 1.0]}, cv=cv
    ...     ).fit(X, y, group_labels=group_labels)
    >>> search.n_splits_
    2
    """

    # Request group_labels for split by default; ``groups`` stays unused
    # (BaseCrossValidator marks it UNUSED), so GroupKFold-style routing of
    # ``groups`` never reaches this splitter.
    __metadata_request__split = {"group_labels": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError(
                "n_splits must be an integer of at least 2; got "
                f"{n_splits!r} of type {type(n_splits).__name__}."
            )
        if n_splits < 2:
            raise ValueError(
                "Cross-validation needs at least one train/test split: "
                f"n_splits must be at least 2; got n_splits={n_splits}."
            )
        if not isinstance(shuffle, bool):
            raise ValueError(f"shuffle must be True or False; got {shuffle!r}.")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. "
                "Leave random_state to its default (None), or set shuffle=True."
            )
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, group_labels=None, groups=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X : object
            Always ignored, exists for API compatibility.
        y : object
            Always ignored, exists for API compatibility.
        group_labels : object
            Always ignored, exists for API compatibility.
        groups : object
            Always ignored, exists for API compatibility.

        Returns
        -------
        n_splits : int
            Number of splitting iterations.
        """
        return self.n_splits

    def split(self, X, y=None, group_labels=None, groups=None):
        """Generate train/test indices stratified on ``(y, group_labels)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; only its length is used.
        y : array-like of shape (n_samples,)
            Class labels (binary or multiclass).
        group_labels : array-like of shape (n_samples,), default=None
            Group of each sample, e.g. the value of a spurious attribute.
            ``None`` stratifies on ``y`` alone, as
            :class:`~sklearn.model_selection.StratifiedKFold` does.
        groups : object, default=None
            Ignored, with a warning when given: this splitter does not keep
            groups together. It exists because scikit-learn's searches pass
            ``groups=None`` to every splitter when metadata routing is off.

        Yields
        ------
        train : ndarray
            Training indices of the split.
        test : ndarray
            Test indices of the split.
        """
        if groups is not None:
            warnings.warn(
                f"{type(self).__name__} ignores `groups`: it stratifies on "
                "`group_labels` and never holds out whole groups. Pass "
                "split(X, y, group_labels=g), or route them with "
                "sklearn.set_config(enable_metadata_routing=True) and "
                "search.fit(X, y, group_labels=g).",
                UserWarning,
                stacklevel=2,
            )
        X, y, group_labels = indexable(X, y, group_labels)
        n_samples = _num_samples(X)
        if y is None:
            raise ValueError(
                f"{type(self).__name__}.split needs the class labels y; got None."
            )
        if self.n_splits > n_samples:
            raise ValueError(
                f"Cannot have n_splits={self.n_splits} greater than the number "
                f"of samples: n_samples={n_samples}."
            )
        if group_labels is None:
            kfold = StratifiedKFold(
                self.n_splits, shuffle=self.shuffle, random_state=self.random_state
            )
            yield from kfold.split(X, y)
            return

        y = _check_classes(y)
        group_labels = _check_group_labels(group_labels, n_samples).to_numpy()
        strata = self._strata(y, group_labels)
        test_folds = self._make_test_folds(strata, y)
        indices = np.arange(n_samples)
        for fold in range(self.n_splits):
            test = test_folds == fold
            yield indices[~test], indices[test]

    def _strata(self, y, group_labels):
        """Integer stratum of each sample: its cell, or its class's pool."""
        classes, y_idx = np.unique(y, return_inverse=True)
        try:
            groups, g_idx = np.unique(group_labels, return_inverse=True)
        except TypeError as exc:
            raise ValueError(
                "group_labels must hold values of one sortable type (all "
                f"strings or all numbers); got {exc}"
            ) from exc
        n_groups = len(groups)
        # Cells are numbered class by class; code n_groups of each class is
        # the pool of its small cells.
        width = n_groups + 1
        strata = y_idx * width + g_idx
        codes, counts = np.unique(strata, return_counts=True)
        small = counts < self.n_splits
        if not small.any():
            return strata

        listed = []
        for k in np.unique(codes[small] // width):
            in_class = codes // width == k
            small_codes = codes[in_class & small]
            big_codes, big_counts = codes[in_class & ~small], counts[in_class & ~small]
            pool = np.isin(strata, small_codes)
            if pool.sum() >= self.n_splits or len(big_codes) == 0:
                strata[pool] = k * width + n_groups
            else:
                strata[pool] = big_codes[np.argmax(big_counts)]
            small_counts = counts[np.isin(codes, small_codes)]
            listed += [
                (_scalar(classes[k]), _scalar(groups[c % width]), int(n))
                for c, n in zip(small_codes, small_counts, strict=True)
            ]
        more = len(listed) - _MAX_LISTED
        shown = ", ".join(
            f"(y={c!r}, group={g!r}): {n}" for c, g, n in listed[:_MAX_LISTED]
        )
        warnings.warn(
            f"{len(listed)} (class, group) cell(s) have fewer members than "
            f"n_splits={self.n_splits} and cannot appear in every fold: "
            f"{shown}{f' and {more} more' if more > 0 else ''}. They are "
            "pooled per class (into the largest cell of the class when the "
            "pool is still too small). Use fewer splits to keep every cell "
            "in every fold.",
            UserWarning,
            stacklevel=3,
        )
        return strata

    def _make_test_folds(self, strata, y):
        """Fold of each sample: round robin over the strata in sorted order."""
        rng = check_random_state(self.random_state)
        _, y_counts = np.unique(y, return_counts=True)
        if np.all(y_counts < self.n_splits):
            raise ValueError(
                f"n_splits={self.n_splits} cannot be greater than the number "
                "of members in each class."
            )
        if y_counts.min() < self.n_splits:
            warnings.warn(
                f"The least populated class in y has only {y_counts.min()} "
                f"members, which is less than n_splits={self.n_splits}.",
                UserWarning,
                stacklevel=3,
            )
        _, encoded = np.unique(strata, return_inverse=True)
        n_strata = encoded.max() + 1
        order = np.sort(encoded)
        allocation = np.asarray(
            [
                np.bincount(order[i :: self.n_splits], minlength=n_strata)
                for i in range(self.n_splits)
            ]
        )
        test_folds = np.empty(len(strata), dtype=np.intp)
        for s in range(n_strata):
            folds = np.arange(self.n_splits).repeat(allocation[:, s])
            if self.shuffle:
                rng.shuffle(folds)
            test_folds[encoded == s] = folds
        return test_folds


def _check_classes(y):
    y = np.asarray(y)
    kind = type_of_target(y)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            "StratifiedGroupLabelKFold supports binary or multiclass targets; "
            f"got a {kind!r} target."
        )
    return column_or_1d(y)


def _scalar(value):
    """Return a numpy scalar as a Python object, for readable messages."""
    return value.item() if isinstance(value, np.generic) else value
