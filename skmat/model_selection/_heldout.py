"""Held-out logits by K-fold cross-validation, an alternative to XRM."""

import numbers

import numpy as np
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

__all__ = ["cross_val_heldout_logits"]

_METHODS = ("auto", "predict_log_proba", "decision_function", "predict_proba")
# log of the smallest positive float64 (about -708.4): the floor of the logits.
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "cv": ["cv_object"],
        "method": [StrOptions(set(_METHODS))],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
        "params": [dict, None],
    },
    prefer_skip_nested_validation=False,
)
def cross_val_heldout_logits(
    estimator,
    X,
    y,
    *,
    cv=5,
    method="auto",
    n_jobs=None,
    random_state=None,
    params=None,
):
    """Held-out logits of every sample by K-fold cross-validation.

    Each row gets the logits of a clone of ``estimator`` fitted on the other
    folds, i.e. on data that does not contain it. These are the held-out
    predictions that :class:`~skmat.MATClassifier` turns into its logit
    shift; computing them by K-fold with any scikit-learn classifier is an
    alternative to :class:`~skmat.XRMEstimator`'s twins:
    ``MATClassifier().fit(X, y, heldout_logits=cross_val_heldout_logits(...))``.

    Unlike XRM, plain K-fold has no label flipping, so the held-out model
    tends to learn the spurious feature less aggressively; K-fold logits also
    do not give XRM's inferred groups, so such a MATClassifier selects its
    epochs on ``group_labels`` when given, else on worst-class accuracy.

    Parameters
    ----------
    estimator : estimator object
        A classifier (or a Pipeline ending in one) with ``predict_log_proba``,
        ``decision_function`` or ``predict_proba``. It is cloned for each
        fold; it is not seeded here, so set its own ``random_state`` for
        reproducible logits.
    X : array-like of shape (n_samples, n_features)
        Training data, the same rows that will be passed to
        ``MATClassifier.fit``.
    y : array-like of shape (n_samples,)
        Class labels (binary or multiclass).
    cv : int, cross-validation generator or iterable, default=5
        An int is the number of folds of
        ``StratifiedKFold(cv, shuffle=True, random_state=random_state)``.
        Otherwise any splitter accepted by
        :func:`~sklearn.model_selection.cross_val_predict` whose test folds
        partition the samples, e.g.
        :class:`~skmat.model_selection.StratifiedGroupLabelKFold`.
    method : {"auto", "predict_log_proba", "decision_function", \
"predict_proba"}, default="auto"
        What to return as logits. ``"auto"`` uses ``predict_log_proba`` when
        the estimator has it, else ``decision_function``, else the log of
        ``predict_proba``. A binary ``decision_function`` ``d`` (one column)
        becomes the two columns ``[-d / 2, d / 2]``, whose softmax gives the
        sigmoid of ``d`` to the second class, as the sign convention of
        ``decision_function`` implies. Decision scores are not calibrated
        log-probabilities: their scale interacts with MAT's ``temperature``.
    n_jobs : int, default=None
        Folds fitted in parallel, as in
        :func:`~sklearn.model_selection.cross_val_predict`.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffled folds when ``cv`` is an int. Pass an int for
        folds that are the same at every call.
    params : dict, default=None
        Metadata passed on by
        :func:`~sklearn.model_selection.cross_val_predict`: to the
        estimator's ``fit`` when metadata routing is off; with routing on,
        to whichever of the estimator and the splitter request it (e.g.
        ``{"group_labels": g}`` for a ``StratifiedGroupLabelKFold``).

    Returns
    -------
    heldout_logits : ndarray of shape (n_samples, n_classes)
        Float64 held-out logits, columns in sorted label order (the order of
        ``classes_`` of scikit-learn classifiers and of
        :class:`~skmat.MATClassifier`). Values are clipped to
        ``[log(tiny), -log(tiny)]``, about ``[-708, 708]`` with ``tiny`` the
        smallest positive float, so that ``-inf`` for a probability of zero
        or the fill value that ``cross_val_predict`` uses for a class absent
        from a training fold become finite logits.

    See Also
    --------
    skmat.XRMEstimator : Held-out logits from two twins with label flipping.
    sklearn.model_selection.cross_val_predict : The underlying function.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmat import MATClassifier
    >>> from skmat.model_selection import cross_val_heldout_logits
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> logits = cross_val_heldout_logits(
    ...     LogisticRegression(), X, y, cv=5, random_state=0
    ... )
    >>> logits.shape
    (200, 2)
    >>> clf = MATClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, y, heldout_logits=logits).xrm_ is None
    True
    """
    y_arr = np.asarray(y)
    kind = type_of_target(y_arr)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            "cross_val_heldout_logits needs binary or multiclass class labels; "
            f"got a {kind!r} target."
        )
    classes = np.unique(column_or_1d(y_arr))
    if len(classes) < 2:
        raise ValueError(
            f"Held-out logits need at least 2 classes in y; got {len(classes)}."
        )
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = StratifiedKFold(int(cv), shuffle=True, random_state=random_state)

    if method == "auto":
        method = next(
            (m for m in _METHODS[1:] if hasattr(estimator, m)),
            None,
        )
        if method is None:
            raise ValueError(
                f"{type(estimator).__name__} has none of predict_log_proba, "
                "decision_function and predict_proba; held-out logits need one."
            )
    elif not hasattr(estimator, method):
        raise ValueError(f"{type(estimator).__name__} has no method {method!r}.")

    out = cross_val_predict(
        estimator, X, y, cv=cv, method=method, n_jobs=n_jobs, params=params
    )
    out = np.asarray(out, dtype=np.float64)
    if method == "predict_proba":
        with np.errstate(divide="ignore"):
            out = np.log(out)
    elif method == "decision_function" and out.ndim == 1:
        if len(classes) != 2:
            raise ValueError(
                f"decision_function returned one column for {len(classes)} "
                "classes; held-out logits need one column per class."
            )
        out = np.column_stack([-out / 2, out / 2])
    if out.shape != (len(y_arr), len(classes)):
        raise ValueError(
            f"{type(estimator).__name__}.{method} gave held-out predictions of "
            f"shape {out.shape}; expected (n_samples, n_classes) = "
            f"({len(y_arr)}, {len(classes)}). For a decision_function with one "
            "column per pair of classes, use method='predict_proba'."
        )
    if np.isnan(out).any():
        raise ValueError(
            f"{type(estimator).__name__}.{method} returned NaN held-out values."
        )
    return np.clip(out, _LOG_TINY, -_LOG_TINY)
