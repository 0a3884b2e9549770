"""Deep Feature Reweighting (DFR): a group-balanced last layer on embeddings."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ..exceptions import DivergedError
from ._last_layer import (
    _LastLayerClassifier,
    balanced_subsample,
    joint_strata,
    linear_head,
    logistic_regression,
    set_linear_head,
    split_rows,
    worst_group_score,
)


class DFRClassifier(_LastLayerClassifier):
    """Deep Feature Reweighting: retrain the last layer on balanced held-out data.

    DFR (Kirichenko, Izmailov and Wilson, 2023) keeps the features of a
    network trained by ERM and refits only its last layer, a logistic
    regression, on *held-out* data in which every group has the same number
    of rows. Here the features ``X`` are the embeddings themselves (e.g. from
    :func:`~skmat.datasets.load_embeddings`), and :meth:`fit`:

    1. takes the held-out data: ``X_val, y_val`` when given, else a
       stratified ``holdout_fraction`` of ``X``; the rest of ``X`` (the
       training part) is used only to fit XRM when groups are inferred;
    2. groups the held-out rows by ``group_labels_val`` (or the
       ``group_labels`` of the held-out rows of ``X``), else by the groups an
       :class:`~skmat.XRMEstimator` fitted on the training part infers on
       them, else by class (see ``group_source``);
    3. standardises the features (statistics of the held-out rows);
    4. with several ``Cs``, splits the held-out rows in two halves, fits an
       L1-penalised logistic regression for each ``C`` on a group-balanced
       subsample of the first half and keeps the ``C`` with the best
       worst-group accuracy on the second half (the paper's tuning);
    5. fits ``n_subsamples`` logistic regressions with that ``C`` on
       different group-balanced subsamples of all held-out rows and averages
       their coefficients (the paper uses 10).

    Parameters
    ----------
    Cs : array-like of float, default=(1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01)
        Candidate inverse penalty strengths, the paper's grid. One value
        skips the tuning.
    penalty : {"l1", "l2"}, default="l1"
        Penalty of the logistic regression (the paper's is L1).
    n_subsamples : int, default=10
        Number of group-balanced subsamples whose models are averaged.
    group_source : {"auto", "given", "xrm", "class"}, default="auto"
        Groups to balance the held-out rows by. ``"given"``: the true groups
        (``group_labels_val``, or ``group_labels`` without ``X_val``);
        ``"xrm"``: the groups ``(y, m)`` inferred by XRM; ``"class"``: the
        classes (class balancing, no group labels); ``"auto"``: the true
        groups when given, else XRM's. When XRM diverges (on features far
        from unit scale, say), a warning is raised and the classes are used.
    holdout_fraction : float, default=0.5
        Share of ``X`` held out when no ``X_val`` is given.
    xrm : XRMEstimator or None, default=None
        The group-inference model, cloned and fitted on the training part
        when XRM groups are used; ``None`` is an :class:`~skmat.XRMEstimator`
        at its defaults.
    memory : str, joblib.Memory or None, default=None
        Cache of fitted XRMs, as in :class:`~skmat.MATClassifier`.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the XRM and the subsamples.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X has string column names.
    scaler_ : sklearn.preprocessing.StandardScaler
        The standardisation of the features.
    estimator_ : LogisticRegression or OneVsRestClassifier
        The last layer, a liblinear logistic regression (one-vs-rest for more
        than two classes) whose weights are the averages over the
        subsamples. It predicts encoded labels of standardised features.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        The averaged weights, on standardised features (one row per class
        with more than two classes).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        The averaged intercepts.
    C_ : float
        The chosen ``C``.
    tuning_scores_ : dict
        Worst-group accuracy of each ``C`` on the second held-out half
        (empty without tuning).
    group_source_ : {"given", "xrm", "class"}
        The groups that balanced the held-out rows.
    holdout_group_labels_ : ndarray of shape (n_holdout,)
        The group of each held-out row.
    xrm_ : XRMEstimator or None
        The fitted XRM when its groups were used.

    See Also
    --------
    AFRClassifier : Reweights held-out rows by the ERM model's confidence,
        with no group labels.
    GroupDROClassifier : Trains the whole network on a worst-group loss.

    References
    ----------
    .. [1] Kirichenko, P., Izmailov, P. and Wilson, A. G. "Last Layer
       Re-Training is Sufficient for Robustness to Spurious Correlations",
       ICLR 2023.

    Examples
    --------
    >>> from skmat.baselines import DFRClassifier
    >>> from skmat.datasets import make_spurious_memorization
    >>> d = make_spurious_memorization(n_samples=300, n_features=20,
    ...                                random_state=0)
    >>> clf = DFRClassifier(random_state=0).fit(
    ...     d.X_train, d.y_train, X_val=d.X_valid, y_val=d.y_valid,
    ...     group_labels_val=d.group_labels_valid)
    >>> clf.group_source_
    'given'
    >>> float(clf.score(d.X_test, d.y_test)) > 0.8
    True
    """

    _parameter_constraints = {
        "Cs": ["array-like"],
        "penalty": [StrOptions({"l1", "l2"})],
        "n_subsamples": [Interval(Integral, 1, None, closed="left")],
        "group_source": [StrOptions({"auto", "given", "xrm", "class"})],
        "holdout_fraction": [Interval(Real, 0, 1, closed="neither")],
        "xrm": [HasMethods(["fit", "infer_group_labels"]), None],
        "memory": [None, str, HasMethods(["cache"])],
        "random_state": ["random_state"],
    }

    __metadata_request__fit = {"group_labels": True}

    def __init__(
        self,
        *,
        Cs=(1.0, 0.7, 0.3, 0.1, 0.07, 0.03, 0.01),
        penalty="l1",
        n_subsamples=10,
        group_source="auto",
        holdout_fraction=0.5,
        xrm=None,
        memory=None,
        random_state=None,
    ):
        self.Cs = Cs
        self.penalty = penalty
        self.n_subsamples = n_subsamples
        self.group_source = group_source
        self.holdout_fraction = holdout_fraction
        self.xrm = xrm
        self.memory = memory
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, *, group_labels=None, X_val=None, y_val=None,
            group_labels_val=None):
        """Fit the group-balanced last layer on the held-out rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings (features) of the training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True groups of ``X``; without ``X_val`` those of the held-out
            rows balance them.
        X_val : array-like of shape (n_val, n_features), default=None
            The held-out data to retrain the last layer on; all of ``X`` is
            then the training part.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``.
        group_labels_val : array-like of shape (n_val,), default=None
            True groups of ``X_val`` (the paper's setting).

        Returns
        -------
        self : DFRClassifier
            The fitted classifier.
        """
        X, y_enc, group_labels, X_val, y_val, group_labels_val = (
            self._validate_fit_data(X, y, group_labels, X_val, y_val, group_labels_val)
        )
        Cs = np.asarray(self.Cs, dtype=np.float64).ravel()
        if len(Cs) == 0 or not (np.isfinite(Cs).all() and (Cs > 0).all()):
            raise ValueError(
                f"Cs must hold positive finite floats; got {self.Cs!r}."
            )
        seed_split, seed_xrm, seed_sub = self._seeds(3)
        rng = np.random.RandomState(seed_sub)

        if X_val is not None:
            X_train, y_train = X, y_enc
            X_held, y_held, groups_held = X_val, y_val, group_labels_val
        else:
            split = split_rows(
                y_enc,
                joint_strata(y_enc, group_labels),
                self.holdout_fraction,
                seed_split,
            )
            if split is None:
                raise ValueError(
                    f"DFRClassifier holds out holdout_fraction="
                    f"{self.holdout_fraction} of {len(y_enc)} samples, too few "
                    "to keep every class on both sides; pass more data or "
                    "X_val, y_val."
                )
            train, held = split
            X_train, y_train = X[train], y_enc[train]
            X_held, y_held = X[held], y_enc[held]
            groups_held = None if group_labels is None else group_labels[held]

        if len(np.unique(y_held)) != len(self.classes_):
            raise ValueError(
                "DFRClassifier needs every class among the held-out rows (y_val); "
                f"got {len(np.unique(y_held))} of {len(self.classes_)} classes."
            )
        self.xrm_ = None
        source = self.group_source
        if source == "given" and groups_held is None:
            raise ValueError(
                "DFRClassifier with group_source='given' needs the groups of "
                "the held-out rows: group_labels_val with X_val, else "
                "group_labels. Use group_source='xrm' or 'class' without them."
            )
        if source == "auto":
            source = "given" if groups_held is not None else "xrm"
        if source == "given":
            groups = groups_held
        elif source == "xrm":
            try:
                self.xrm_ = self._fit_xrm(X_train, y_train, seed_xrm)
            except DivergedError as exc:
                warnings.warn(
                    f"DFRClassifier: XRM diverged ({exc}); the held-out rows are "
                    "balanced by class instead. Standardise the features or "
                    "pass an `xrm` with a lower `lr`.",
                    UserWarning,
                    stacklevel=2,
                )
                source = "class"
        if source == "xrm":
            groups = self.xrm_.infer_group_labels(X_held, self.classes_[y_held])
        elif source == "class":
            groups = y_held
        self.group_source_ = source
        self.holdout_group_labels_ = np.asarray(groups)
        _, groups = np.unique(groups, return_inverse=True)

        self.scaler_ = StandardScaler().fit(X_held)
        Z = self.scaler_.transform(X_held)
        n_classes = len(self.classes_)

        self.tuning_scores_ = {}
        halves = None
        if len(Cs) > 1:
            halves = split_rows(y_held, joint_strata(y_held, groups), 0.5, seed_split)
        if halves is not None:
            first, second = halves
            for C in Cs:
                rows = first[balanced_subsample(groups[first], rng)]
                model = logistic_regression(C, self.penalty, n_classes, seed_sub)
                model.fit(Z[rows], y_held[rows])
                self.tuning_scores_[float(C)] = worst_group_score(
                    y_held[second], model.predict(Z[second]), groups[second]
                )
            self.C_ = max(self.tuning_scores_, key=self.tuning_scores_.get)
        else:
            self.C_ = float(Cs[0])

        coefs, intercepts = [], []
        for _ in range(self.n_subsamples):
            rows = balanced_subsample(groups, rng)
            model = logistic_regression(self.C_, self.penalty, n_classes, seed_sub)
            model.fit(Z[rows], y_held[rows])
            coef, intercept = linear_head(model)
            coefs.append(coef)
            intercepts.append(intercept)
        self.coef_ = np.mean(coefs, axis=0)
        self.intercept_ = np.mean(intercepts, axis=0)
        self.estimator_ = set_linear_head(model, self.coef_, self.intercept_)
        return self

