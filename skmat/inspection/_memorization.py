"""Feldman-Zhang memorization scores of any scikit-learn classifier."""

# Authors: The skmat developers
# License: BSD 3 clause

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import _safe_indexing, check_random_state, get_tags
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_array, column_or_1d

__all__ = ["memorization_scores"]

_MAX_SEED = np.iinfo(np.int32).max


@validate_params(
    {
        "estimator": "no_validation",
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=False,
)
def memorization_scores(estimator, X, y, *, n_rounds=10, random_state=None, verbose=0):
    r"""Feldman-Zhang memorization score of every training example.

    The memorization of example ``i`` by a learning algorithm is how much
    more probability a model gives to its label when ``i`` is in the
    training set than when it is not [1]_:

    .. math::

        \mathrm{mem}_i = \mathbb{E}[p(y_i \mid x_i) \mid i \in S]
        - \mathbb{E}[p(y_i \mid x_i) \mid i \notin S].

    It is estimated over ``n_rounds`` random half-splits of the data. In each
    round the rows are split in two halves (stratified by class, so that
    every class with at least two rows appears in both), a clone of
    ``estimator`` is fitted on each half, and every row is scored once by
    the clone that trained on it ("in") and once by the one that did not
    ("out"). The score is the mean "in" probability of the true label minus
    the mean "out" one.

    Examples learned from features shared with many others (the majority of
    a spurious correlation) score about 0; examples the model can only fit
    by memorizing them (mislabelled rows, the minority of a spurious
    correlation) score close to 1. Memorization-Aware Training
    (:class:`~skmat.MATClassifier`) is designed to lower the scores of the
    minority.

    Parameters
    ----------
    estimator : classifier
        Any scikit-learn classifier with ``predict_proba``; it is cloned, and
        ``2 * n_rounds`` clones are fitted. A fitted estimator is not
        modified.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Training data. Rows are selected with the container's own indexing,
        so DataFrames reach the estimator as DataFrames.
    y : array-like of shape (n_samples,)
        Class labels.
    n_rounds : int, default=10
        Number of half-splits. The standard error of each score shrinks like
        ``1 / sqrt(n_rounds)``.
    random_state : int, RandomState instance or None, default=None
        Draws the half-splits and seeds every clone: each parameter named
        ``random_state`` (including nested ones such as
        ``logisticregression__random_state`` in a pipeline) is set to an
        integer drawn from it, a different one for every fit, as in
        :class:`~sklearn.ensemble.BaggingClassifier`. Pass an int for
        reproducible scores.
    verbose : int, default=0
        Show a progress bar over the fits when ``tqdm`` is installed.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Memorization score of each row, in ``[-1, 1]``; large values mark
        memorized examples.

    Raises
    ------
    TypeError
        If ``estimator`` has no ``predict_proba``.
    ValueError
        If ``X`` or ``y`` contain missing values, their lengths differ, or
        ``y`` holds fewer than two classes.

    See Also
    --------
    skmat.XRMEstimator.memorization_scores : A cheap estimate from the two
        fitted XRM twins (one round, no refitting).
    group_report : Accuracy and mean memorization per group.

    Notes
    -----
    A class absent from a clone's training half gets probability 0 from that
    clone. Each fit sees half the rows, so the scores describe a model
    trained on ``n_samples / 2`` examples, as in [1]_ with a subset ratio of
    0.5.

    References
    ----------
    .. [1] V. Feldman and C. Zhang, "What Neural Networks Memorize and Why:
       Discovering the Long Tail via Influence Estimation", NeurIPS 2020.

    Examples
    --------
    A 1-nearest-neighbour classifier gives every training row the
    probability 1 of its own label, so a mislabelled row is memorized:

    >>> import numpy as np
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skmat.inspection import memorization_scores
    >>> X, y = make_blobs(n_samples=40, centers=[[-5, 0], [5, 0]], random_state=0)
    >>> y[0] = 1 - y[0]  # a mislabelled row
    >>> scores = memorization_scores(
    ...     KNeighborsClassifier(n_neighbors=1), X, y, n_rounds=5, random_state=0
    ... )
    >>> float(scores[0]), float(np.abs(scores[1:]).max()) < 0.5
    (1.0, True)
    """
    if not hasattr(estimator, "fit"):
        raise TypeError(
            f"estimator must be a scikit-learn classifier; got {estimator!r}, "
            "which has no `fit` method."
        )
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            "memorization_scores needs class probabilities, but "
            f"{type(estimator).__name__} has no `predict_proba` method"
            " (e.g. SVC needs probability=True). Use a probabilistic "
            "classifier, or wrap it in "
            "sklearn.calibration.CalibratedClassifierCV."
        )
    y, y_enc, classes = _check_inputs(estimator, X, y)
    n_samples = len(y)
    rng = check_random_state(random_state)

    p_in = np.zeros(n_samples)
    p_out = np.zeros(n_samples)
    bar = _progress_bar(2 * n_rounds, verbose)
    for _ in range(n_rounds):
        half = _stratified_half(y_enc, rng)
        for rows_in in (np.flatnonzero(half), np.flatnonzero(~half)):
            p_true = _fit_and_score(estimator, X, y, y_enc, classes, rows_in, rng)
            is_in = np.zeros(n_samples, dtype=bool)
            is_in[rows_in] = True
            p_in[is_in] += p_true[is_in]
            p_out[~is_in] += p_true[~is_in]
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return (p_in - p_out) / n_rounds


def _check_inputs(estimator, X, y):
    """Validate ``X`` and ``y`` without copying ``X`` for the fits."""
    if y is None:
        raise ValueError("y is required; got None.")
    try:
        y = column_or_1d(y, input_name="y")
    except ValueError as exc:
        raise ValueError(
            f"y must be a 1d array of class labels; got shape {np.shape(y)}."
        ) from exc
    if y.dtype.kind in "fcO" and pd.isna(y).any():
        missing = np.flatnonzero(pd.isna(y))
        raise ValueError(
            f"y contains missing labels (NaN or None) at {len(missing)} of "
            f"{len(y)} positions, e.g. index {int(missing[0])}."
        )
    n_samples = _num_samples(X)
    if n_samples != len(y):
        raise ValueError(
            f"X and y must have the same number of samples; got {n_samples} "
            f"rows in X and {len(y)} labels in y."
        )
    check_array(
        X,
        accept_sparse=True,
        dtype=None,
        ensure_2d=False,
        allow_nd=True,
        ensure_all_finite="allow-nan" if _allows_nan(estimator) else True,
        ensure_min_samples=2,
        estimator=estimator,
        input_name="X",
    )
    check_classification_targets(y)
    classes, y_enc = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            "memorization_scores needs at least 2 classes in y; got 1 class "
            f"({classes[0]!r})."
        )
    return y, y_enc.ravel(), classes


def _allows_nan(estimator):
    """Whether ``estimator`` (or the first step of a pipeline) takes NaN."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        first = next(
            (step for _, step in steps if step is not None and step != "passthrough"),
            None,
        )
        if first is not None and _allows_nan(first):
            return True
    try:
        return bool(get_tags(estimator).input_tags.allow_nan)
    except (AttributeError, TypeError):  # pragma: no cover - non-sklearn objects
        return False


def _stratified_half(y_enc, rng):
    """Boolean mask of a random half of the rows, stratified by class.

    A class with an odd number of rows gives its extra row to either half
    with probability 1/2.
    """
    half = np.zeros(len(y_enc), dtype=bool)
    for k in range(y_enc.max() + 1):
        rows = rng.permutation(np.flatnonzero(y_enc == k))
        n_half = len(rows) // 2 + int(len(rows) % 2 and rng.rand() < 0.5)
        half[rows[:n_half]] = True
    return half


def _seed_clone(estimator, rng):
    """Clone ``estimator`` and set every ``*random_state`` parameter from rng."""
    est = clone(estimator)
    keys = sorted(
        key
        for key in est.get_params(deep=True)
        if key == "random_state" or key.endswith("__random_state")
    )
    seeds = {key: int(rng.randint(_MAX_SEED)) for key in keys}
    if seeds:
        est.set_params(**seeds)
    return est


def _fit_and_score(estimator, X, y, y_enc, classes, rows, rng):
    """Fit a seeded clone on ``rows``; probability of the true label of all rows."""
    est = _seed_clone(estimator, rng)
    est.fit(_safe_indexing(X, rows), y[rows])
    proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    fitted = np.asarray(est.classes_)
    if proba.shape != (len(y), len(fitted)):
        raise ValueError(
            f"{type(est).__name__}.predict_proba returned shape {proba.shape}; "
            f"expected ({len(y)}, {len(fitted)}), one column per class in "
            "classes_."
        )
    columns = np.searchsorted(classes, fitted)
    full = np.zeros((len(y), len(classes)))
    full[:, columns] = proba
    return full[np.arange(len(y)), y_enc]


def _progress_bar(total, verbose):
    """Return a tqdm progress bar when verbose and tqdm is installed, else None."""
    if not verbose:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="memorization", unit="fit", leave=False)
