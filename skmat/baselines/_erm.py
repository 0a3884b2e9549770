"""Empirical risk minimization with the same networks: the baseline."""

from sklearn.base import _fit_context

from .._base import _NETWORK_CONSTRAINTS, _TRAINING_CONSTRAINTS, _NetworkClassifier
from ..utils._docstring import _fill_network_params


@_fill_network_params
class ERMClassifier(_NetworkClassifier):
    """Plain cross-entropy training with the networks and loop of MAT.

    The baseline every robustness method is compared with: the same module,
    optimizer, data path and early stopping as :class:`~skmat.MATClassifier`, and
    no shift.

    Parameters
    ----------
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
    %(early_stopping_attributes)s
    validation_groups_source_ : {"group_labels", "class"} or None
        Which groups the validation score used.

    See Also
    --------
    MATClassifier : The same network trained with the memorization-aware shift.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat.baselines import ERMClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> ERMClassifier(max_epochs=10, random_state=0).fit(X, y).score(X, y) > 0.8
    True
    """

    _parameter_constraints = {**_NETWORK_CONSTRAINTS, **_TRAINING_CONSTRAINTS}

    __metadata_request__fit = {"group_labels": True}

    def __init__(
        self,
        *,
        module="linear",
        module_params=None,
        optimizer="sgd",
        lr=0.01,
        momentum=0.9,
        weight_decay=0.0,
        batch_size=256,
        max_epochs=100,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, group_labels=None, X_val=None, y_val=None,
            group_labels_val=None):
        """Fit the network by plain cross-entropy.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True groups, used only to score the validation rows.
        X_val, y_val, group_labels_val : array-like, default=None
            An explicit validation set for early stopping; see
            :meth:`~skmat.MATClassifier.fit`.

        Returns
        -------
        self : ERMClassifier
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
        return None
