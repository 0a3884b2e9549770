"""Group distributionally robust optimization (online GroupDRO)."""

from numbers import Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .. import _torch
from .._base import _NETWORK_CONSTRAINTS, _TRAINING_CONSTRAINTS, _NetworkClassifier
from .._xrm import _XRMSourceMixin
from ..utils._docstring import _fill_network_params


@_fill_network_params
class GroupDROClassifier(_XRMSourceMixin, _NetworkClassifier):
    r"""Online GroupDRO: minimize a running worst-group loss.

    Each training step computes the mean cross-entropy ``L_g`` of every group
    ``g`` in the batch, updates the group weights
    ``q_g <- q_g exp(eta L_g) / Z`` and descends on ``sum_g q_g L_g``
    (Sagawa et al., 2020). Groups whose loss stays high gain weight, so the
    network cannot serve the majority alone.

    The training groups come from one of two sources (``group_source``):

    * ``"given"``: the ``group_labels`` passed to :meth:`fit` (the "oracle"
      baseline, which needs group labels for every training row);
    * ``"xrm"``: the groups ``(y, m)`` that an :class:`~skmat.XRMEstimator`
      fitted on the training rows infers, with ``m`` its cross-mistake
      environment. This is the recipe of the XRM paper (XRM + GroupDRO) and
      needs no group labels; early stopping then scores the validation rows
      with the groups the same XRM infers on them, unless true validation
      groups are given.

    Parameters
    ----------
    eta : float, default=0.1
        Step size of the exponentiated-gradient update of the group weights.
        ``0`` keeps them uniform (a group-balanced loss). Larger values track
        the worst group faster but make the weights noisier.
    group_source : {"given", "xrm"}, default="given"
        Where the training groups come from; see above.
    xrm : XRMEstimator or None, default=None
        With ``group_source="xrm"``: the group-inference model, cloned and
        fitted on the training rows at each :meth:`fit`. ``None`` uses an
        :class:`~skmat.XRMEstimator` with this classifier's network settings
        (the one :class:`~skmat.MATClassifier` would use), which does not
        warn where it makes no mistake on a class: that class is one group.
        Ignored with ``group_source="given"``.
    memory : str, joblib.Memory or None, default=None
        Cache of fitted XRMs, shared with :class:`~skmat.MATClassifier`: with
        the same ``memory``, the same data, network settings and integer
        ``random_state``, both reuse one XRM fit.
    %(network_params)s
    %(early_stopping_params)s
    %(runtime_params)s

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    net_ : skorch.NeuralNet
        The fitted skorch net.
    groups_ : ndarray of shape (n_groups,)
        The training groups, in the order of ``group_weights_``: the values
        of ``group_labels`` (``"given"``) or the inferred ids
        ``2 * class_index + mistake`` (``"xrm"``).
    group_weights_ : ndarray of shape (n_groups,)
        The GroupDRO weights ``q`` at the end of training (they sum to 1).
    train_group_labels_ : ndarray of shape (n_train,)
        The group of each training row (rows not held out for validation).
    xrm_ : XRMEstimator or None
        The fitted XRM with ``group_source="xrm"``, else None.
    %(early_stopping_attributes)s
    validation_groups_source_ : {"group_labels", "inferred", "class"} or None
        Which groups the validation score used.

    See Also
    --------
    JTTClassifier : Upweights the errors of a first ERM model instead.
    skmat.MATClassifier : Needs no group labels either.

    References
    ----------
    .. [1] Sagawa, S., Koh, P. W., Hashimoto, T. B. and Liang, P.
       "Distributionally Robust Neural Networks for Group Shifts: On the
       Importance of Regularization for Worst-Case Generalization", ICLR 2020.
    .. [2] Pezeshki, M., Bouchacourt, D., Ibrahim, M., Ballas, N., Vincent,
       P. and Lopez-Paz, D. "Discovering environments with XRM", ICML 2024.

    Examples
    --------
    >>> from skmat.baselines import GroupDROClassifier
    >>> from skmat.datasets import make_spurious_memorization
    >>> data = make_spurious_memorization(n_samples=200, n_features=20,
    ...                                   random_state=0)
    >>> clf = GroupDROClassifier(max_epochs=20, random_state=0)
    >>> clf = clf.fit(data.X_train, data.y_train,
    ...               group_labels=data.group_labels_train)
    >>> clf.groups_
    array([0, 1, 2, 3])
    >>> round(float(clf.group_weights_.sum()), 6)
    1.0
    """

    _parameter_constraints = {
        **_NETWORK_CONSTRAINTS,
        **_TRAINING_CONSTRAINTS,
        "eta": [Interval(Real, 0, None, closed="left")],
        "group_source": [StrOptions({"given", "xrm"})],
        "xrm": [HasMethods(["fit", "infer_group_labels"]), None],
        "memory": [None, str, HasMethods(["cache"])],
    }

    __metadata_request__fit = {"group_labels": True}

    _net_class = _torch.GroupDRONet

    def __init__(
        self,
        *,
        eta=0.1,
        group_source="given",
        xrm=None,
        memory=None,
        module="linear",
        module_params=None,
        optimizer="sgd",
        lr="auto",
        momentum=0.9,
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=100,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.eta = eta
        self.group_source = group_source
        self.xrm = xrm
        self.memory = memory
        self.module = module
        self.module_params = module_params
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(
        self,
        X,
        y,
        *,
        group_labels=None,
        X_val=None,
        y_val=None,
        group_labels_val=None,
    ):
        """Fit the network with the GroupDRO loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True group of each row. Required with ``group_source="given"``,
            where it defines the training groups; with ``"xrm"`` it is only
            used to score the validation rows (as in
            :class:`~skmat.MATClassifier`).
        X_val : array-like of shape (n_val, n_features), default=None
            An explicit validation set for early stopping; all of X is then
            used for training.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``.
        group_labels_val : array-like of shape (n_val,), default=None
            True groups of ``X_val``. Without them the validation rows are
            scored with XRM's inferred groups (``"xrm"``) or by worst-class
            accuracy (``"given"``).

        Returns
        -------
        self : GroupDROClassifier
            The fitted classifier.
        """
        if self.group_source == "given" and group_labels is None:
            raise ValueError(
                "GroupDROClassifier needs group_labels at fit with "
                "group_source='given' (one group per training row, e.g. "
                "2 * y + attribute). Without group labels, use "
                "group_source='xrm' to train on XRM-inferred groups."
            )
        return self._fit_network(
            X,
            y,
            group_labels=group_labels,
            X_val=X_val,
            y_val=y_val,
            group_labels_val=group_labels_val,
        )

    def _training_shift(self, X_train, y_train, heldout_logits, seed):
        # No logit shift. This hook is the one that sees the training rows
        # with a seed, so XRM (when it is the group source) is fitted here.
        self.xrm_ = None
        if self.group_source == "xrm":
            self.xrm_ = self._fit_nested_xrm(X_train, y_train, seed)
        return None

    def _extra_training_data(self, X_train, y_train, train_rows, group_labels):
        if self.group_source == "xrm":
            groups = np.asarray(self.xrm_.group_labels_)
            self.groups_ = np.arange(2 * len(self.classes_))
            codes = np.searchsorted(self.groups_, groups)
        else:
            groups = np.asarray(group_labels)[train_rows]
            self.groups_, codes = np.unique(groups, return_inverse=True)
        self.train_group_labels_ = groups
        return {"group": codes.astype(np.int64)}

    def _extra_net_params(self):
        return {"n_groups": len(self.groups_), "eta": float(self.eta)}

    def _fit_network(self, *args, **kwargs):
        super()._fit_network(*args, **kwargs)
        self.group_weights_ = _torch.group_weights(self.net_)
        return self
