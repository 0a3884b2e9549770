"""A worst-group accuracy scorer that requests ``group_labels`` by default."""

import sys
import warnings
from collections import Counter

import numpy as np
from sklearn import get_config
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import (
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.metadata_routing import UNCHANGED, UNUSED, MetadataRequest

from skmat.metrics import worst_class_accuracy, worst_group_accuracy

__all__ = ["WorstGroupScorer"]

_FALLBACKS = ("inferred", "class", "raise")
_SOURCES = ("group_labels", "inferred", "class")


def _routing_enabled():
    return bool(get_config().get("enable_metadata_routing", False))


_ROUTING_HINT = (
    "Group labels can only reach a scorer inside GridSearchCV, cross_validate "
    "or cross_val_score with sklearn.set_config(enable_metadata_routing=True) "
    "(or sklearn.config_context), passed as fit(..., group_labels=g) or "
    'params={"group_labels": g}.'
)


class WorstGroupScorer:
    """Worst-group accuracy scorer for model selection, greater is better.

    Use it as ``scoring=`` in :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` or
    :func:`~sklearn.model_selection.cross_val_score`, alone or in a dict of
    scorers. It is called as ``scorer(estimator, X, y, group_labels=None)``
    and picks its groups in this order:

    1. ``group_labels``, when they reach it: the score is
       :func:`~skmat.metrics.worst_group_accuracy` of
       ``estimator.predict(X)``;
    2. otherwise (``fallback="inferred"``) the groups that the estimator
       infers itself through a fitted ``infer_group_labels(X, y)`` method,
       e.g. the XRM-inferred groups of :class:`~skmat.MATClassifier` and
       :class:`~skmat.XRMEstimator`. For a :class:`~sklearn.pipeline.Pipeline`
       the method of its final step is used, on ``X`` transformed by the
       preceding steps;
    3. otherwise (no such method, or it raises
       :class:`~sklearn.exceptions.NotFittedError` or ``AttributeError``)
       :func:`~skmat.metrics.worst_class_accuracy`.

    The scorer requests the metadata ``group_labels`` by default. With
    ``sklearn.set_config(enable_metadata_routing=True)``,
    ``GridSearchCV(est, grid, scoring=WorstGroupScorer()).fit(X, y,
    group_labels=g)`` and ``cross_validate(est, X, y,
    scoring=WorstGroupScorer(), params={"group_labels": g})`` hand each test
    fold's group labels to the scorer; no ``set_score_request`` call is
    needed. The key is ``group_labels``, not ``groups``, which the CV
    splitter (e.g. :class:`~sklearn.model_selection.GroupKFold`) consumes.
    With metadata routing off, ``group_labels`` reach the scorer only when
    it is called directly; the first call that has to fall back warns, and a
    call without them on an estimator that was fitted with true group labels
    (so they went to ``fit`` and were lost on the way to the scorer) raises a
    ``ValueError`` that says how to turn routing on. As scikit-learn turns a
    scorer's error into a NaN score, skmat's estimators raise that error
    earlier, in each ``fit`` of such a search or cross-validation, so that
    the search itself fails instead of ranking NaNs.

    Parameters
    ----------
    fallback : {"inferred", "class", "raise"}, default="inferred"
        What to score without ``group_labels``: ``"inferred"`` tries the
        estimator's inferred groups, then worst-class accuracy; ``"class"``
        goes straight to worst-class accuracy; ``"raise"`` raises a
        ``ValueError``.
        Like an estimator's parameters, it is stored as given and validated
        at each call (an invalid value raises
        :class:`~sklearn.utils._param_validation.InvalidParameterError`, a
        ``ValueError``).

    Attributes
    ----------
    last_source_ : {"group_labels", "inferred", "class"} or None
        The groups used by the last call; None before the first call.

    sources_ : collections.Counter
        How many calls used each source. In a search or cross-validation
        with ``n_jobs > 1`` every worker scores a copy of the scorer, so only
        the copies update: ``last_source_`` and ``sources_`` of the object you
        hold then count only the calls made in this process (e.g. the refit
        scoring of ``GridSearchCV.score``).

    See Also
    --------
    skmat.metrics.worst_group_accuracy : The metric computed.
    skmat.metrics.group_accuracy_report : Per-group accuracy and counts.

    Notes
    -----
    The warning that metadata routing is off is emitted at most once per
    scorer instance; with ``n_jobs > 1`` each worker's copy may warn.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmat import WorstGroupScorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
    >>> y = np.array([0, 0, 0, 1, 1, 1])
    >>> group_labels = np.array(["a", "a", "b", "b", "a", "a"])
    >>> clf = LogisticRegression().fit(X, y)
    >>> scorer = WorstGroupScorer()
    >>> scorer
    WorstGroupScorer(fallback='inferred')
    >>> scorer(clf, X, y, group_labels=group_labels)
    1.0
    >>> scorer.last_source_
    'group_labels'

    Inside a search, enable metadata routing and pass ``group_labels`` to
    ``fit``:

    >>> import sklearn
    >>> from sklearn.model_selection import GridSearchCV
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     search = GridSearchCV(
    ...         LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, scoring=scorer
    ...     ).fit(X, y, group_labels=group_labels)
    >>> scorer.last_source_
    'group_labels'
    """

    _parameter_constraints = {"fallback": [StrOptions(set(_FALLBACKS))]}

    def __init__(self, fallback="inferred"):
        self.fallback = fallback
        self.last_source_ = None
        self.sources_ = Counter()
        self._group_labels_request = True
        self._warned_routing_off = False

    def __repr__(self):
        return f"{type(self).__name__}(fallback={self.fallback!r})"

    def __call__(self, estimator, X, y, group_labels=None):
        """Worst-group accuracy of ``estimator`` on ``X, y``.

        Parameters
        ----------
        estimator : object
            A fitted classifier with ``predict``.

        X : array-like of shape (n_samples, n_features)
            Test data.

        y : array-like of shape (n_samples,)
            True labels of ``X``.

        group_labels : array-like of shape (n_samples,), default=None
            Group of each sample of ``X``. Routed here by
            GridSearchCV/cross_validate when metadata routing is enabled;
            without it the scorer falls back as set by ``fallback``.

        Returns
        -------
        score : float
            Worst-group accuracy, in ``[0, 1]``; greater is better.
        """
        # Like an estimator's fit: parameters are stored unchanged by
        # __init__ and validated against _parameter_constraints when used.
        validate_parameter_constraints(
            self._parameter_constraints,
            {"fallback": self.fallback},
            caller_name=type(self).__name__,
        )
        if group_labels is not None:
            score = worst_group_accuracy(
                y, estimator.predict(X), group_labels=group_labels
            )
            return self._record(score, "group_labels")

        routing = _routing_enabled()
        if self.fallback == "raise":
            if routing:
                detail = (
                    "Pass them to the search or cross-validation, e.g. "
                    "GridSearchCV(...).fit(X, y, group_labels=g) or "
                    'cross_validate(..., params={"group_labels": g}), and '
                    "keep them requested (set_score_request(group_labels=True))."
                )
            else:
                detail = _ROUTING_HINT
            raise ValueError(
                f"{self!r} got no group_labels and fallback='raise'. {detail}"
            )
        if not routing and _fitted_with_group_labels(estimator):
            # The labels went to fit and not here: GridSearchCV/cross_validate
            # without routing. Scoring inferred groups instead would be silent.
            raise ValueError(
                f"{self!r} got no group_labels, but the estimator was fitted "
                "with true group labels: with metadata routing off, "
                "GridSearchCV and cross_validate pass group_labels to fit only. "
                f"{_ROUTING_HINT} Called directly, the scorer takes "
                "group_labels=... ."
            )
        # fallback="class" is an explicit choice of worst-class accuracy: no
        # reason to warn that group labels could not arrive.
        if not routing and self.fallback == "inferred" and not self._warned_routing_off:
            self._warned_routing_off = True
            warnings.warn(
                f"{self!r} received no group_labels and metadata routing is "
                "off, so it scores the estimator's inferred groups, else "
                f"worst-class accuracy. {_ROUTING_HINT} This warning is "
                "shown once per scorer.",
                UserWarning,
                stacklevel=2,
            )

        y_pred = estimator.predict(X)
        if self.fallback == "inferred":
            inferred = _inferred_group_labels(estimator, X, y)
            if inferred is not None:
                score = worst_group_accuracy(y, y_pred, group_labels=inferred)
                return self._record(score, "inferred")
        return self._record(worst_class_accuracy(y, y_pred), "class")

    def _record(self, score, source):
        self.last_source_ = source
        self.sources_[source] += 1
        return score

    def set_score_request(self, *, group_labels=UNCHANGED):
        """Set how ``group_labels`` is requested by this scorer.

        ``group_labels`` is requested by default, so this is only needed to
        stop requesting it or to route metadata given under another name.
        Only available when metadata routing is enabled, see
        :func:`sklearn.set_config`.

        Parameters
        ----------
        group_labels : str, True, False, or None, \
                default=sklearn.utils.metadata_routing.UNCHANGED
            - True: ``group_labels`` is requested and passed to the scorer.
            - False: it is not requested; the scorer falls back.
            - None: it is not requested, and passing it to the search or
              cross-validation raises an error.
            - str: the metadata passed under this name (an alias) is passed
              to the scorer as ``group_labels``.
            - ``UNCHANGED``: the existing request is kept.

        Returns
        -------
        self : WorstGroupScorer
            The scorer, with its request updated.

        Examples
        --------
        >>> import sklearn
        >>> from skmat import WorstGroupScorer
        >>> with sklearn.config_context(enable_metadata_routing=True):
        ...     scorer = WorstGroupScorer().set_score_request(
        ...         group_labels="test_groups"
        ...     )
        ...     print(scorer.get_metadata_routing())
        {'score': {'group_labels': 'test_groups'}}
        """
        if not _routing_enabled():
            raise RuntimeError(
                "This method is only available when metadata routing is "
                "enabled. You can enable it using "
                "sklearn.set_config(enable_metadata_routing=True)."
            )
        if isinstance(group_labels, str) and group_labels == UNCHANGED:
            return self
        if isinstance(group_labels, str) and group_labels == UNUSED:
            raise ValueError(
                "group_labels is the metadata this scorer consumes and cannot "
                "be removed; use set_score_request(group_labels=False) to stop "
                "requesting it."
            )
        # Validates the alias (a valid identifier, True, False or None).
        request = MetadataRequest(owner=self)
        request.score.add_request(param="group_labels", alias=group_labels)
        self._group_labels_request = request.score.requests["group_labels"]
        return self

    def get_metadata_routing(self):
        """Get the metadata request of this scorer.

        Please check :ref:`User Guide <metadata_routing>` on how the routing
        mechanism works.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
            Requests ``group_labels`` for ``score`` (by default, as True).

        Examples
        --------
        >>> from skmat import WorstGroupScorer
        >>> print(WorstGroupScorer().get_metadata_routing())
        {'score': {'group_labels': True}}
        """
        request = MetadataRequest(owner=self)
        request.score.add_request(
            param="group_labels", alias=self._group_labels_request
        )
        return request

    # Hooks that scikit-learn calls on scorers (not part of skmat's API).
    def _routing_repr(self):
        # Name of the scorer in sklearn's routing error messages.
        return repr(self)

    def _accept_sample_weight(self):
        # With routing off, sklearn asks scorers in a multimetric dict whether
        # they take sample_weight; this scorer does not weigh samples.
        return False


def _final_step(estimator):
    """Return the last step of (possibly nested) pipelines, or the estimator."""
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def _fitted_with_group_labels(estimator):
    """Whether a skmat estimator's early stopping used true group labels."""
    source = getattr(_final_step(estimator), "validation_groups_source_", None)
    return source == "group_labels"


def _inferred_group_labels(estimator, X, y):
    """Return the groups inferred by ``estimator.infer_group_labels``, or None.

    For a Pipeline (possibly nested), the method of the final step is called
    on ``X`` transformed by the preceding steps.
    """
    final, Xt = estimator, X
    method = getattr(final, "infer_group_labels", None)
    while method is None and isinstance(final, Pipeline):
        if len(final.steps) > 1:
            Xt = final[:-1].transform(Xt)
        final = final.steps[-1][1]
        method = getattr(final, "infer_group_labels", None)
    if method is None or not callable(method):
        return None
    try:
        groups = method(Xt, y)
    except (NotFittedError, AttributeError):
        return None
    n_groups, n_samples = len(groups), len(y)
    if n_groups != n_samples:
        raise ValueError(
            f"{type(final).__name__}.infer_group_labels returned {n_groups} "
            f"group labels for {n_samples} samples."
        )
    return np.asarray(groups)


def _contains_worst_group_scorer(scorer):
    """Whether ``scorer`` is, or (a multimetric dict) holds, a WorstGroupScorer."""
    if isinstance(scorer, WorstGroupScorer):
        return True
    scorers = getattr(scorer, "_scorers", None)  # sklearn's _MultimetricScorer
    return isinstance(scorers, dict) and any(
        isinstance(s, WorstGroupScorer) for s in scorers.values()
    )


def _check_group_labels_reach_the_scorer(estimator_name):
    """Fail a search whose ``group_labels`` cannot reach its WorstGroupScorer.

    Called at the start of a skmat estimator's ``fit``. With metadata routing
    off, ``GridSearchCV(...).fit(X, y, group_labels=g)`` and
    ``cross_validate(..., params={"group_labels": g})`` pass ``group_labels``
    to ``fit`` only; the scorer then raises, and the search records NaN
    scores, warns and picks arbitrary parameters. scikit-learn catches errors
    of a scorer but re-raises when every fit fails, so the error is raised
    here, in ``fit``, before any training: the search fails at once with the
    cause. The search is found as scikit-learn's ``_fit_and_score`` frame on
    the stack (its ``fit_params`` and ``scorer``); outside such a frame, or
    with routing on, nothing is checked.
    """
    if _routing_enabled():
        return
    frame = sys._getframe(1)
    try:
        while frame is not None and not (
            frame.f_code.co_name == "_fit_and_score"
            and frame.f_globals.get("__name__", "").startswith("sklearn.")
        ):
            frame = frame.f_back
        if frame is None:
            return
        fit_params = frame.f_locals.get("fit_params") or {}
        scorer = frame.f_locals.get("scorer")
    finally:
        del frame
    passed = any(
        (key == "group_labels" or key.endswith("__group_labels")) and value is not None
        for key, value in fit_params.items()
    )
    if not (passed and _contains_worst_group_scorer(scorer)):
        return
    raise ValueError(
        f"group_labels were passed to a search or cross-validation scored by "
        f"WorstGroupScorer with metadata routing off: they reach "
        f"{estimator_name}.fit, not the scorer, whose scores would be NaN. "
        "Turn routing on with sklearn.set_config(enable_metadata_routing=True) "
        "(or inside `with sklearn.config_context(enable_metadata_routing=True):`); "
        "no set_score_request or set_fit_request call is needed."
    )
