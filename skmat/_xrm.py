"""Cross-Risk Minimization (XRM): held-out logits and inferred groups."""

import re
import warnings

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory

from . import _torch
from ._base import _NETWORK_CONSTRAINTS, _NeuralClassifierMixin
from .exceptions import DegenerateEnvironmentWarning, FeatureScaleWarning
from .utils._docstring import _fill_network_params
from .utils._warnings import find_stack_level

# The start of the warning that a class holds no cross-mistake. The estimators
# that build their own XRM (``xrm=None``) keep such a class as one group by
# design, so they do not pass this warning on.
_NO_MISTAKE_WARNING = "XRM's twins made no mistake on"

# The warning that the echo chamber ran away, how it says that a sound epoch
# was kept, and how a class left unlearned at that epoch is reported. With
# SGD, an estimator that builds its own XRM does not pass these two on either
# (see ``_XRMSourcing._fit_nested_xrm``).
_RUNAWAY_WARNING = "XRM's echo chamber ran away"
_SOUND_EPOCH_KEPT = "the twins of epoch"
_UNLEARNED_AT_SOUND_EPOCH = ", and at epoch"
_RECOVERED_RUNAWAY = (
    re.escape(_RUNAWAY_WARNING)
    + f"(.*{re.escape(f'; {_SOUND_EPOCH_KEPT} ')}"
    + f"|{re.escape(f'{_UNLEARNED_AT_SOUND_EPOCH} ')})"
)


@_fill_network_params
class XRMEstimator(_NeuralClassifierMixin, BaseEstimator):
    """Discover environments with Cross-Risk Minimization (XRM).

    Two twin networks are trained together, each on its own random half of
    the data, with a class-balanced cross-entropy. After every step the
    label of each example in the batch is replaced, with probability
    ``(p_max - 1/K) K / (K - 1)``, by the prediction of the twin that does not
    train on it (the "echo chamber"), so that the twins chase each other's
    mistakes. At the end each training example gets *held-out* logits from
    the twin that never trained on it, and any labelled example gets an
    inferred group ``(y, m)``: its class and whether either twin misclassifies
    it. No group labels are needed.

    Parameters
    ----------
    %(network_params)s
    selection : {"last", "flip_rate"}, default="last"
        Which epoch's twins are kept: the last one, or the one with the
        highest flip rate (XRM's model-selection signal). The default keeps
        the last: on the interpretable data the flip rate peaks within the
        first epochs, while the held-out logits are still near zero and the
        MAT shift built from them hinges on the temperature.
    %(runtime_params)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X has string column names.
    net_ : skorch.NeuralNet
        The fitted skorch net holding both twins (``net_.module_.twins``).
    twin_assignment_ : ndarray of shape (n_samples,)
        0 or 1: the twin that trained on each training example.
    heldout_logits_ : ndarray of shape (n_samples, n_classes)
        Logits of each training example from the twin that did not train on
        it. This is what :class:`~skmat.MATClassifier` turns into its shift.
    heldin_logits_ : ndarray of shape (n_samples, n_classes)
        Logits from the twin that trained on each example.
    dynamic_labels_ : ndarray of shape (n_samples,)
        The labels after flipping, in the label space of ``classes_``.
    flip_rate_ : float
        Share of ``dynamic_labels_`` that differ from the true labels (higher
        is better for model selection of XRM).
    cross_mistakes_ : ndarray of shape (n_samples,)
        True where either twin misclassifies the training example.
    group_labels_ : ndarray of shape (n_samples,)
        Inferred groups of the training data, ``2 * class_index + mistake``.
    degenerate_ : bool
        True when some class does not split into two environments: the twins
        made no mistake on any of its examples (what XRM finds in a class
        with no shortcut) or misclassified all of them (a runaway). Either
        is said with a :class:`~skmat.exceptions.DegenerateEnvironmentWarning`.
    best_epoch_ : int
        Epoch whose twins were kept.
    history_ : skorch.History
        Per-epoch training loss and flip rate.

    See Also
    --------
    MATClassifier : Trains with a logit shift built from XRM's held-out logits.

    References
    ----------
    .. [1] Pezeshki, M., Bouchacourt, D., Ibrahim, M., Ballas, N., Vincent,
       P. and Lopez-Paz, D. "Discovering environments with XRM", ICML 2024.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat import XRMEstimator
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> xrm = XRMEstimator(max_epochs=20, random_state=0).fit(X, y)
    >>> xrm.heldout_logits_.shape
    (200, 2)
    >>> groups = xrm.infer_group_labels(X, y)
    >>> sorted(set(groups.tolist()) - {0, 1, 2, 3})
    []
    """

    _parameter_constraints = {
        **_NETWORK_CONSTRAINTS,
        "selection": [StrOptions({"flip_rate", "last"})],
    }

    def __init__(
        self,
        *,
        module="linear",
        module_params=None,
        optimizer="sgd",
        lr="auto",
        momentum=0.9,
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=100,
        selection="last",
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.module = module
        self.module_params = module_params
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.selection = selection
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the twins and compute held-out logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : XRMEstimator
            The fitted estimator.
        """
        self._check_settings()
        X, y_enc = self._validate_X_y(X, y)
        n_samples, n_classes = len(X), len(self.classes_)
        seed_split, seed_torch = self._seeds(2)
        twin = np.random.RandomState(seed_split).randint(2, size=n_samples)
        self.twin_assignment_ = twin

        data = _torch.xrm_training_data(X, twin)
        recorder = _torch.FlipRateRecorder(keep=self.selection)
        callbacks = [("flip_rate", recorder)]
        if self.verbose:
            callbacks.append(("progress", _torch.EpochProgress("XRM")))
        self.net_ = self._build_net(X.shape[1], n_classes, callbacks, X)
        _torch.fit_net(
            self.net_, data, _torch.label_tensor(y_enc), seed=int(seed_torch)
        )
        self.best_epoch_ = self.net_.sound_epoch_ or len(self.history_)
        self.runaway_ = bool(self.net_.runaway_)
        if self.runaway_:
            self._warn_runaway()

        logits = _torch.predict_logits(self.net_, data["X"])  # (2, n, K)
        rows = np.arange(n_samples)
        self.heldout_logits_ = logits[1 - twin, rows]
        self.heldin_logits_ = logits[twin, rows]
        dynamic = _torch.dynamic_labels(self.net_)
        self.dynamic_labels_ = self.classes_[dynamic]
        self.flip_rate_ = float(np.mean(dynamic != y_enc))
        self.cross_mistakes_ = self._mistakes(logits, y_enc)
        self.group_labels_ = 2 * y_enc + self.cross_mistakes_
        self.degenerate_ = self._check_degenerate(
            y_enc, self.cross_mistakes_, flipped=dynamic != y_enc
        )
        if self.verbose:
            print(
                f"XRM: flip rate {self.flip_rate_:.3f} (epoch {self.best_epoch_}), "
                f"{int(self.cross_mistakes_.sum())} cross-mistakes of {n_samples}"
            )
        return self

    _net_class = _torch.XRMNet

    @property
    def history_(self):
        """Per-epoch training loss and flip rate (``net_.history``)."""
        return self.net_.history

    def _extra_net_params(self):
        return {"n_classes": len(self.classes_)}

    def _net_module_factory(self, n_features, n_classes, module=None):
        return _torch.TwinModule.factory(
            self._module_factory(n_features, n_classes, module), zero_output=True
        )

    def _warn_runaway(self):
        rates = self.history_[:, "max_class_flip_rate"]
        if self.net_.sound_epoch_:
            kept = (
                f"{_SOUND_EPOCH_KEPT} {self.best_epoch_}, the last where no class "
                "had more than half its labels flipped, are kept"
            )
        else:
            kept = "no epoch was sound, so the last one is kept"
        warnings.warn(
            f"{_RUNAWAY_WARNING}: the labels of more than half of a "
            f"class were flipped (up to {max(rates):.2f} of a class); {kept}. "
            "The inferred groups may not single out a minority. Lower `lr` or "
            f"`max_epochs`{self._sgd_advice()}.",
            DegenerateEnvironmentWarning,
            stacklevel=find_stack_level(),
        )

    @staticmethod
    def _mistakes(logits, y_enc):
        return (logits.argmax(axis=2) != y_enc[None, :]).any(axis=0).astype(int)

    def _sgd_advice(self):
        # Advice to switch to SGD, for an estimator not already using it.
        return "" if self.optimizer == "sgd" else ", or use `optimizer='sgd'`"

    def _check_degenerate(self, y_enc, mistakes, flipped):
        # Every class has training rows: XRM takes its classes from y.
        # ``flipped``: whether each row's dynamic label differs from y.
        classes = range(len(self.classes_))
        per_class = [mistakes[y_enc == k] for k in classes]
        clean = [k for k, m in enumerate(per_class) if not m.any()]
        wrong = [k for k, m in enumerate(per_class) if m.all()]
        if clean:
            warnings.warn(
                f"{_NO_MISTAKE_WARNING} class(es) {self._names(clean)}: "
                "each of these classes is one inferred group. That is what "
                "XRM finds where a class holds no shortcut; if you expected a "
                "minority there, train longer or with a larger `lr`.",
                DegenerateEnvironmentWarning,
                stacklevel=find_stack_level(),
            )
        # A class misclassified in full whose labels were mostly flipped is
        # the echo chamber running away; one whose labels mostly stayed was
        # never learned (too few steps, or features that do not predict it),
        # and fewer epochs would not help it.
        share = {k: float(np.mean(flipped[y_enc == k])) for k in wrong}
        runaway = [k for k in wrong if share[k] > 0.5]
        unlearned = [k for k in wrong if share[k] <= 0.5]
        if runaway:
            warnings.warn(
                "XRM's twins misclassified every example of class(es) "
                f"{self._names(runaway)} and flipped most of their labels (up "
                f"to {max(share[k] for k in runaway):.2f} of a class): the "
                "echo chamber ran away and the inferred groups of these "
                "classes are one group. Use a smaller `lr` or fewer "
                f"`max_epochs`{self._sgd_advice()}.",
                DegenerateEnvironmentWarning,
                stacklevel=find_stack_level(),
            )
        recovered = self.runaway_ and self.net_.sound_epoch_
        if unlearned and recovered:
            warnings.warn(
                f"{_RUNAWAY_WARNING}{_UNLEARNED_AT_SOUND_EPOCH} "
                f"{self.best_epoch_}, the last sound one, the twins "
                "misclassified every example of class(es) "
                f"{self._names(unlearned)} (at most "
                f"{max(share[k] for k in unlearned):.2f} of a class flipped): "
                "they had not learned these classes yet, and the inferred "
                "groups of these classes are one group. XRM kept that epoch "
                "because later ones flipped most of some class's labels (the "
                "warning above); where the data hold no shortcut, that is "
                "what XRM finds.",
                DegenerateEnvironmentWarning,
                stacklevel=find_stack_level(),
            )
        elif unlearned:
            warnings.warn(
                "XRM's twins misclassified every example of class(es) "
                f"{self._names(unlearned)}, though most of their labels were "
                f"kept (at most {max(share[k] for k in unlearned):.2f} of a "
                "class flipped): the twins never learned to predict these "
                "classes, and the inferred groups of these classes are one "
                "group. Train longer (`max_epochs`) or with a larger `lr`, or "
                "standardise the features; where the features do not predict "
                "a class, no setting will.",
                DegenerateEnvironmentWarning,
                stacklevel=find_stack_level(),
            )
        return bool(clean or wrong)

    def _names(self, codes):
        # The class labels of encoded classes, as a list for a message.
        return np.asarray(self.classes_[codes]).tolist()

    def _twin_logits(self, X):
        X = self._validate_X(X)
        return _torch.predict_logits(self.net_, _torch.as_tensor(X), exact=True)

    def predict_proba(self, X):
        """Probabilities averaged over the two twins.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Mean of the twins' softmax outputs, columns in ``classes_`` order.
        """
        logits = self._twin_logits(X).astype(np.float64)
        return softmax(logits, axis=2).mean(axis=0)

    def predict(self, X):
        """Predict with the average of the twins.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def infer_group_labels(self, X, y):
        """Inferred group of labelled data: ``2 * class_index + mistake``.

        ``mistake`` is 1 when either twin misclassifies the example. Works on
        training, validation or test data alike, as long as ``y`` is known.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.
        y : array-like of shape (n_samples,)
            Their labels, from ``classes_``.

        Returns
        -------
        group_labels : ndarray of shape (n_samples,)
            Integer group ids in ``[0, 2 * n_classes)``.
        """
        check_is_fitted(self)
        logits = self._twin_logits(X)
        y_enc = self._encode_y(y, logits.shape[1])
        return 2 * y_enc + self._mistakes(logits, y_enc)

    def memorization_scores(self):
        """Cheap memorization estimate of each training example, from the twins.

        The held-in twin's probability of the true label minus the held-out
        twin's. It costs nothing beyond the fit, but it only measures
        memorization of labels the twins kept: the echo chamber relabels the
        examples the held-out twin gets wrong, the held-in twin then fits the
        new label, and such examples score near 0 however memorized they
        would be under ERM. On the interpretable data, where XRM relabels the
        whole minority, it does not separate the minority (measured in
        ``benchmarks/memorization.py``). For a Feldman-Zhang estimate use
        :func:`skmat.inspection.memorization_scores`; to find the minority
        use ``cross_mistakes_`` or ``group_labels_``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Values in ``[-1, 1]``.
        """
        check_is_fitted(self)
        y_enc = self.group_labels_ // 2
        rows = np.arange(len(y_enc))
        p_in = softmax(self.heldin_logits_.astype(np.float64), axis=1)[rows, y_enc]
        p_out = softmax(self.heldout_logits_.astype(np.float64), axis=1)[rows, y_enc]
        return p_in - p_out


class _XRMSourceMixin:
    """Fit a nested XRM on the training rows of a network classifier.

    For the estimators that take their held-out logits or their training
    groups from XRM (:class:`~skmat.MATClassifier` and
    :class:`~skmat.baselines.GroupDROClassifier`): they have the parameters
    ``xrm`` and ``memory`` and the network settings of
    ``_NETWORK_CONSTRAINTS``, and set ``xrm_`` in ``_training_shift``. The
    XRM sourcing lives here, with XRM, so that the shared network base does
    not know :class:`XRMEstimator`.
    """

    def _fit_nested_xrm(self, X_train, y_train, seed):
        """Fit a clone of ``self.xrm`` on the training rows, through ``memory``.

        ``self.xrm=None`` stands for an :class:`XRMEstimator` with this
        estimator's network settings. ``y_train`` holds encoded labels.
        """
        if self.xrm is None:
            xrm = XRMEstimator(
                # module="auto" (MAT's candidate heads): a linear XRM.
                **(
                    dict(module="linear")
                    if self.module == "auto"
                    else dict(module=self.module, module_params=self.module_params)
                ),
                verbose=self.verbose,
                **self._net_settings(),
            )
        else:
            xrm = clone(self.xrm)
        xrm.set_params(random_state=seed)
        fit = check_memory(self.memory).cache(_fit_estimator)
        with warnings.catch_warnings():
            # Said once, by the outer estimator's own check of X.
            warnings.filterwarnings("ignore", category=FeatureScaleWarning)
            if self.xrm is None:
                # A class XRM makes no mistake on (most classes of ordinary,
                # easy data) is one inferred group, which this estimator
                # handles; the advice to train XRM longer is for a user who
                # chose its settings (``xrm_.degenerate_`` still records it).
                warnings.filterwarnings(
                    "ignore",
                    message=re.escape(_NO_MISTAKE_WARNING),
                    category=DegenerateEnvironmentWarning,
                )
                if xrm.optimizer == "sgd":
                    # Nor a runaway stopped at a sound epoch: with SGD it is
                    # routine on data with no shortcut, where XRM flips
                    # labels until some class is mostly flipped (17 of
                    # random_tabular.py's configurations 0-59: many classes
                    # or no linear boundary; none of the planted shortcuts
                    # at seeds 0-4, nor Adult cut to 1,000 or 3,000 rows),
                    # and the sound epoch's groups are what the defaults
                    # were measured with there. ``xrm_.runaway_`` still
                    # records it. With another optimizer a runaway is the
                    # failure SGD avoids, and the warning says so.
                    warnings.filterwarnings(
                        "ignore",
                        message=_RECOVERED_RUNAWAY,
                        category=DegenerateEnvironmentWarning,
                    )
            xrm = fit(xrm, X_train, self.classes_[y_train])
        if len(xrm.classes_) != len(self.classes_):
            raise ValueError(
                "Some class has no training row left after the validation "
                "split; XRM needs every class. Give each class more samples "
                "or set early_stopping=False."
            )
        return xrm

    def _inferred_valid_groups(self, X_valid, y_valid):
        """Return the groups the fitted XRM infers on validation rows, or None."""
        if self.xrm_ is None:
            return None
        return self.xrm_.infer_group_labels(X_valid, self.classes_[y_valid])


def _fit_estimator(estimator, X, y):
    """Fit ``estimator``; module-level so that joblib's Memory can cache it."""
    return estimator.fit(X, y)
