"""Search MAT's temperature by worst-group cross-validation in one call."""

import numbers

import numpy as np
from sklearn import config_context
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, validate_params

from .._scorer import WorstGroupScorer
from ._split import StratifiedGroupLabelKFold

__all__ = ["search_temperature"]


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "group_labels": ["array-like", None],
        # A sequence of positive floats: checked by _check_temperatures.
        "temperatures": "no_validation",
        "estimator": [HasMethods(["fit", "get_params"]), None],
        "cv": ["cv_object"],
        "scoring": [str, callable, list, tuple, dict, None],
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=False,
)
def search_temperature(
    X,
    y,
    *,
    group_labels=None,
    temperatures=(0.25, 0.5, 1.0, 2.0, np.inf),
    estimator=None,
    cv=3,
    scoring=None,
    n_jobs=None,
    random_state=None,
    **search_params,
):
    """Pick MAT's ``temperature`` by cross-validated worst-group accuracy.

    The one-call shortcut for the usual search: it builds

    .. code-block:: python

        GridSearchCV(
            estimator,  # default MATClassifier(random_state=random_state)
            {"temperature": temperatures},
            scoring=scoring,  # default WorstGroupScorer()
            cv=StratifiedGroupLabelKFold(cv, shuffle=True,
                                         random_state=random_state),
            n_jobs=n_jobs,
            **search_params,
        )

    and fits it with metadata routing enabled (inside
    :func:`sklearn.config_context`, so the global setting is left alone),
    passing ``group_labels`` when given. They then reach the splitter
    (every fold keeps every ``(class, group)`` cell), the scorer (worst-group
    accuracy on the true groups of each test fold) and
    :class:`~skmat.MATClassifier` (early stopping on the true groups of its
    validation rows). Without ``group_labels``, the folds are stratified on
    ``y`` and :class:`~skmat.WorstGroupScorer` scores the groups that each
    fitted MATClassifier infers with XRM.

    For anything fancier (other parameters, a randomized or halving search,
    several scorers, nested cross-validation), build your own
    :class:`~sklearn.model_selection.GridSearchCV` the same way and call its
    ``fit(X, y, group_labels=g)`` under
    ``sklearn.config_context(enable_metadata_routing=True)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Class labels.
    group_labels : array-like of shape (n_samples,), default=None
        True group of each sample, when known.
    temperatures : sequence of float, default=(0.25, 0.5, 1.0, 2.0, np.inf)
        Candidate temperatures, all positive, on calibrated held-out logits
        (see :class:`~skmat.MATClassifier`); ``np.inf`` is class-balanced
        training with no memorization shift.
    estimator : estimator object, default=None
        A :class:`~skmat.MATClassifier`, or a
        :class:`~sklearn.pipeline.Pipeline` ending in one (the grid key is
        then ``"<last step name>__temperature"``), or any estimator with a
        single ``temperature`` parameter. ``None`` uses
        ``MATClassifier(random_state=random_state)``.
    cv : int, cross-validation generator or iterable, default=3
        An int is the number of folds of
        ``StratifiedGroupLabelKFold(cv, shuffle=True,
        random_state=random_state)``; anything else is passed to
        GridSearchCV as is.
    scoring : str, callable, list, tuple or dict, default=None
        As in GridSearchCV; ``None`` uses :class:`~skmat.WorstGroupScorer`.
        With several scorers, pass ``refit`` in ``search_params``.
    n_jobs : int, default=None
        Fits run in parallel.
    random_state : int, RandomState instance or None, default=None
        Seeds the default estimator and the shuffled folds when ``cv`` is an
        int. A given ``estimator`` keeps its own ``random_state``.
    **search_params
        Other keyword arguments of GridSearchCV, e.g. ``refit``,
        ``error_score``, ``return_train_score`` or ``verbose``.

    Returns
    -------
    search : GridSearchCV
        The fitted search: ``best_params_``, ``best_score_``,
        ``cv_results_`` and, unless ``refit=False``, ``best_estimator_``
        refitted on all of ``X``.

    See Also
    --------
    StratifiedGroupLabelKFold : The default splitter.
    skmat.WorstGroupScorer : The default scorer.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat import MATClassifier
    >>> from skmat.model_selection import search_temperature
    >>> X, y = make_classification(n_samples=120, random_state=0)
    >>> group_labels = (X[:, 0] > 0).astype(int)
    >>> search = search_temperature(
    ...     X,
    ...     y,
    ...     group_labels=group_labels,
    ...     temperatures=[0.1, 1.0],
    ...     estimator=MATClassifier(max_epochs=3, random_state=0),
    ...     cv=2,
    ...     random_state=0,
    ... )
    >>> search.best_params_["temperature"] in (0.1, 1.0)
    True
    """
    temperatures = _check_temperatures(temperatures)
    if estimator is None:
        # Imported here: skmat.model_selection imports without torch.
        from .._mat import MATClassifier

        estimator = MATClassifier(random_state=random_state)
    key = _temperature_key(estimator)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        cv = StratifiedGroupLabelKFold(int(cv), shuffle=True, random_state=random_state)
    search = GridSearchCV(
        estimator,
        {key: temperatures},
        scoring=WorstGroupScorer() if scoring is None else scoring,
        cv=cv,
        n_jobs=n_jobs,
        **search_params,
    )
    fit_params = {} if group_labels is None else {"group_labels": group_labels}
    with config_context(enable_metadata_routing=True):
        search.fit(X, y, **fit_params)
    return search


def _check_temperatures(temperatures):
    if isinstance(temperatures, numbers.Real | str):
        temperatures = [temperatures]
    try:
        values = list(temperatures)
    except TypeError:
        raise ValueError(
            f"temperatures must be a sequence of positive floats; got {temperatures!r}."
        ) from None
    bad = [
        t
        for t in values
        if not isinstance(t, numbers.Real)
        or isinstance(t, bool)
        or np.isnan(t)
        or t <= 0
    ]
    if not values or bad:
        raise ValueError(
            "temperatures must be a non-empty sequence of positive floats "
            f"(np.inf allowed); got {temperatures!r}."
        )
    return values


def _temperature_key(estimator):
    """Grid key of the temperature: ``temperature`` or ``<step>__temperature``."""
    prefix, final = "", estimator
    while isinstance(final, Pipeline):
        name, final = final.steps[-1]
        prefix += f"{name}__"
    if hasattr(final, "get_params") and "temperature" in final.get_params(deep=False):
        return f"{prefix}temperature"
    keys = []
    if hasattr(estimator, "get_params"):
        keys = [
            k
            for k in estimator.get_params(deep=True)
            if k == "temperature" or k.endswith("__temperature")
        ]
    if len(keys) == 1:
        return keys[0]
    raise ValueError(
        "search_temperature needs a MATClassifier, a Pipeline ending in one, "
        "or an estimator with a single `temperature` parameter; "
        f"{type(estimator).__name__} has "
        + (f"several: {keys}." if keys else "none.")
        + " Build a GridSearchCV yourself for other parameter grids."
    )
