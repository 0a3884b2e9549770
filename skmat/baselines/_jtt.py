"""Just Train Twice (JTT): upweight the errors of a first ERM model."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval

from .._base import _NETWORK_CONSTRAINTS, _TRAINING_CONSTRAINTS, _NetworkClassifier
from ..utils._docstring import _fill_network_params
from ._erm import ERMClassifier


@_fill_network_params
class JTTClassifier(_NetworkClassifier):
    """Just Train Twice: retrain with the errors of a short ERM run upweighted.

    JTT (Liu et al., 2021) needs no group labels in training. It first fits
    an *identification* model by plain ERM for ``id_epochs`` epochs (no early
    stopping) on the training rows and collects the rows it misclassifies,
    the error set. A spurious shortcut fits the majority early, so the error
    set is mostly minority rows. A second network is then trained from
    scratch with a cross-entropy in which the error-set rows weigh
    ``upweight`` and the others 1 (a weighted mean per batch).

    Both networks use the same module and optimizer settings. With early
    stopping, the rows held out for validation are set aside before the
    identification model is fitted, so it never sees them.

    Parameters
    ----------
    id_epochs : int, default=1
        Epochs of the identification ERM. It must stop before the network
        memorizes the minority (which empties the error set), so keep it
        short: with ``batch_size="auto"`` an epoch is already about 16
        steps, and two epochs memorize the interpretable data's minority.
        The paper tunes it on validation worst-group accuracy.
    upweight : float, default=20.0
        Weight of the error-set rows in the final training (``lambda_up``);
        1 is plain ERM.
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
        The fitted skorch net of the final model.
    id_estimator_ : ERMClassifier
        The identification model.
    error_mask_ : ndarray of shape (n_train,)
        True for the training rows (those not held out for validation) that
        the identification model misclassifies: the error set.
    sample_weight_ : ndarray of shape (n_train,)
        The weight of each training row in the final loss: ``upweight`` on
        the error set, 1 elsewhere.
    %(early_stopping_attributes)s
    validation_groups_source_ : {"group_labels", "class"} or None
        Which groups the validation score used.

    See Also
    --------
    GroupDROClassifier : Reweights groups online instead.
    skmat.MATClassifier : Shifts the logits with held-out predictions instead.

    References
    ----------
    .. [1] Liu, E. Z., Haghgoo, B., Chen, A. S., Raghunathan, A., Koh, P. W.,
       Sagawa, S., Liang, P. and Finn, C. "Just Train Twice: Improving Group
       Robustness without Training Group Information", ICML 2021.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat.baselines import JTTClassifier
    >>> X, y = make_classification(n_samples=200, flip_y=0.1, random_state=0)
    >>> clf = JTTClassifier(id_epochs=2, max_epochs=10, early_stopping=False,
    ...                     random_state=0).fit(X, y)
    >>> errors = clf.id_estimator_.predict(X) != y
    >>> bool((clf.error_mask_ == errors).all())
    True
    >>> sorted(set(clf.sample_weight_.tolist()))
    [1.0, 20.0]
    """

    _parameter_constraints = {
        **_NETWORK_CONSTRAINTS,
        **_TRAINING_CONSTRAINTS,
        "id_epochs": [Interval(Integral, 1, None, closed="left")],
        "upweight": [Interval(Real, 0, None, closed="neither")],
    }

    __metadata_request__fit = {"group_labels": True}

    def __init__(
        self,
        *,
        id_epochs=1,
        upweight=20.0,
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
        self.id_epochs = id_epochs
        self.upweight = upweight
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
        """Fit the identification ERM, then the upweighted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True groups, used only to score the validation rows; training
            never sees them.
        X_val : array-like of shape (n_val, n_features), default=None
            An explicit validation set for early stopping of the final
            network; all of X is then used for training.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``.
        group_labels_val : array-like of shape (n_val,), default=None
            True groups of ``X_val``; without them, worst-class accuracy.

        Returns
        -------
        self : JTTClassifier
            The fitted classifier.
        """
        return self._fit_network(
            X,
            y,
            group_labels=group_labels,
            X_val=X_val,
            y_val=y_val,
            group_labels_val=group_labels_val,
        )

    def _training_shift(self, X_train, y_train, heldout_logits, seed):
        # No logit shift. This hook sees the training rows with a seed, so
        # the identification model is fitted here.
        self.id_estimator_ = ERMClassifier(
            module=self.module,
            module_params=self.module_params,
            optimizer=self.optimizer,
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.id_epochs,
            early_stopping=False,
            device=self.device,
            random_state=seed,
        )
        y_train_labels = self.classes_[y_train]
        self.id_estimator_.fit(X_train, y_train_labels)
        self.error_mask_ = self.id_estimator_.predict(X_train) != y_train_labels
        self.sample_weight_ = np.where(self.error_mask_, float(self.upweight), 1.0)
        return None

    def _extra_training_data(self, X_train, y_train, train_rows, group_labels):
        return {"weight": self.sample_weight_.astype(np.float32)}
