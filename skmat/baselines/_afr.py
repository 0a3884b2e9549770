"""Automatic Feature Reweighting (AFR): reweight the ERM model's hard rows."""

import copy
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.base import _fit_context
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval

from ._last_layer import (
    _LastLayerClassifier,
    joint_strata,
    split_rows,
    worst_group_score,
)


class AFRClassifier(_LastLayerClassifier):
    r"""Automatic Feature Reweighting: retrain the last layer on the ERM's errors.

    AFR (Qiu, Potapczynski, Izmailov and Wilson, 2023) needs no group labels
    in training. On embedding features ``X`` (standardised), :meth:`fit`:

    1. splits the training rows in an ERM part and a reweighting part
       (``reweight_fraction``), and holds out a validation part
       (``validation_fraction``) unless ``X_val, y_val`` are given;
    2. fits an ERM last layer, a multinomial logistic regression with an L2
       penalty ``1 / C``, on the ERM part;
    3. weighs each reweighting row by :math:`w_i \propto \exp(-\gamma\,
       \hat p_i)`, with :math:`\hat p_i` the ERM probability of its true
       class, normalised so that every class has the same total weight:
       rows the ERM model gets wrong, mostly minority groups, count more;
    4. retrains the last layer from the ERM weights on the reweighting part,
       minimising :math:`\sum_i w_i\, \ell(x_i, y_i) + \lambda \lVert \theta -
       \theta_{\mathrm{ERM}} \rVert^2` (weights and intercepts) by L-BFGS;
    5. keeps the ``(gamma, lambda)`` of ``gammas`` x ``lambdas`` with the
       best validation worst-group accuracy: on the true validation groups
       when given, else the worst-class accuracy.

    Parameters
    ----------
    gammas : array-like of float, default=(0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
        Candidate sharpness ``gamma`` of the weights; 0 gives the
        class-balanced retraining.
    lambdas : array-like of float, default=(0.1, 1.0, 10.0)
        Candidate strengths ``lambda`` of the pull towards the ERM weights.
    C : float, default=1.0
        Inverse L2 penalty of the ERM logistic regression.
    reweight_fraction : float, default=0.5
        Share of the training rows in the reweighting part.
    validation_fraction : float, default=0.2
        Share of ``X`` held out to choose ``gamma`` and ``lambda`` when no
        ``X_val`` is given (with a single candidate nothing is held out).
    max_iter : int, default=200
        Iterations of L-BFGS in the retraining.
    random_state : int, RandomState instance or None, default=None
        Seeds the splits.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X has string column names.
    scaler_ : sklearn.preprocessing.StandardScaler
        The standardisation of the features (training rows' statistics).
    erm_ : sklearn.linear_model.LogisticRegression
        The ERM last layer, on standardised features and encoded labels.
    estimator_ : sklearn.linear_model.LogisticRegression
        The retrained last layer (a copy of ``erm_`` with the new weights).
    gamma_ : float
        The chosen ``gamma``.
    lambda_ : float
        The chosen ``lambda``.
    validation_scores_ : dict
        Validation score of each ``(gamma, lambda)``; empty when there was
        a single candidate and no ``X_val``.
    validation_groups_source_ : {"group_labels", "class"} or None
        Which groups the validation score used.
    sample_weight_ : ndarray of shape (n_reweight,)
        Weights of the reweighting rows at ``gamma_`` (they sum to 1).
    n_iter_ : int
        L-BFGS iterations of the kept retraining.

    See Also
    --------
    DFRClassifier : Retrains the last layer on group-balanced held-out data.
    JTTClassifier : Upweights the errors of a first network, in full.

    References
    ----------
    .. [1] Qiu, S., Potapczynski, A., Izmailov, P. and Wilson, A. G. "Simple
       and Fast Group Robustness by Automatic Feature Reweighting", ICML 2023.

    Examples
    --------
    >>> from skmat.baselines import AFRClassifier
    >>> from skmat.datasets import make_spurious_memorization
    >>> d = make_spurious_memorization(n_samples=300, n_features=20,
    ...                                random_state=0)
    >>> clf = AFRClassifier(random_state=0).fit(
    ...     d.X_train, d.y_train, X_val=d.X_valid, y_val=d.y_valid,
    ...     group_labels_val=d.group_labels_valid)
    >>> clf.validation_groups_source_
    'group_labels'
    >>> float(clf.score(d.X_test, d.y_test)) > 0.8
    True
    """

    _parameter_constraints = {
        "gammas": ["array-like"],
        "lambdas": ["array-like"],
        "C": [Interval(Real, 0, None, closed="neither")],
        "reweight_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    __metadata_request__fit = {"group_labels": True}

    def __init__(
        self,
        *,
        gammas=(0.0, 1.0, 2.0, 4.0, 8.0, 16.0),
        lambdas=(0.1, 1.0, 10.0),
        C=1.0,
        reweight_fraction=0.5,
        validation_fraction=0.2,
        max_iter=200,
        random_state=None,
    ):
        self.gammas = gammas
        self.lambdas = lambdas
        self.C = C
        self.reweight_fraction = reweight_fraction
        self.validation_fraction = validation_fraction
        self.max_iter = max_iter
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, group_labels=None, X_val=None, y_val=None,
            group_labels_val=None):
        """Fit the ERM last layer, then its reweighted retraining.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings (features) of the training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True groups of ``X``, used only to score the validation rows
            held out of ``X`` (training never sees them).
        X_val : array-like of shape (n_val, n_features), default=None
            Validation data to choose ``gamma`` and ``lambda`` on; all of
            ``X`` is then used for training.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``.
        group_labels_val : array-like of shape (n_val,), default=None
            True groups of ``X_val``; without them the worst-class accuracy
            chooses.

        Returns
        -------
        self : AFRClassifier
            The fitted classifier.
        """
        X, y_enc, group_labels, X_val, y_val, group_labels_val = (
            self._validate_fit_data(X, y, group_labels, X_val, y_val, group_labels_val)
        )
        grid = [
            (float(g), float(lam))
            for g in _check_grid(self.gammas, "gammas", allow_zero=True)
            for lam in _check_grid(self.lambdas, "lambdas", allow_zero=True)
        ]
        seed_valid, seed_erm = self._seeds(2)
        rows = np.arange(len(y_enc))
        valid = None
        self.validation_groups_source_ = None
        if X_val is not None:
            X_sel, y_sel, groups_sel = X_val, y_val, group_labels_val
        elif len(grid) > 1:
            split = split_rows(
                y_enc,
                joint_strata(y_enc, group_labels),
                self.validation_fraction,
                seed_valid,
            )
            if split is not None:
                rows, valid = split
            X_sel = None if valid is None else X[valid]
            y_sel = None if valid is None else y_enc[valid]
            groups_sel = (
                None if valid is None or group_labels is None else group_labels[valid]
            )
        else:
            X_sel = None
        if X_sel is not None:
            self.validation_groups_source_ = (
                "group_labels" if groups_sel is not None else "class"
            )
            if groups_sel is None:
                groups_sel = y_sel

        # The ERM part and the reweighting part; on data too small to split
        # with every class on both sides, both stages see all the rows.
        split = split_rows(y_enc[rows], None, self.reweight_fraction, seed_erm)
        erm_rows, rw_rows = (rows, rows) if split is None else (
            rows[split[0]],
            rows[split[1]],
        )
        self.scaler_ = StandardScaler().fit(X[rows])
        Z_erm = self.scaler_.transform(X[erm_rows])
        Z_rw, y_rw = self.scaler_.transform(X[rw_rows]), y_enc[rw_rows]
        n_classes = len(self.classes_)

        self.erm_ = LogisticRegression(C=self.C, max_iter=1000)
        self.erm_.fit(Z_erm, y_enc[erm_rows])
        W0, b0 = _softmax_params(self.erm_, n_classes)
        p_true = self.erm_.predict_proba(Z_rw)[np.arange(len(y_rw)), y_rw]

        self.validation_scores_ = {}
        best = None
        for gamma, lam in grid:
            weight = _afr_weights(p_true, y_rw, gamma, n_classes)
            W, b, n_iter = _retrain(
                Z_rw, y_rw, weight, W0, b0, lam, int(self.max_iter)
            )
            if X_sel is None:
                best = (gamma, lam, W, b, weight, n_iter)
                break
            Z_sel = self.scaler_.transform(X_sel)
            pred = np.argmax(Z_sel @ W.T + b, axis=1)
            score = worst_group_score(y_sel, pred, groups_sel)
            self.validation_scores_[(gamma, lam)] = score
            if best is None or score > self.validation_scores_[best[:2]]:
                best = (gamma, lam, W, b, weight, n_iter)
        self.gamma_, self.lambda_, W, b, self.sample_weight_, self.n_iter_ = best
        self.estimator_ = copy.deepcopy(self.erm_)
        if n_classes == 2:
            self.estimator_.coef_ = (W[1] - W[0])[None, :]
            self.estimator_.intercept_ = np.array([b[1] - b[0]])
        else:
            self.estimator_.coef_ = W
            self.estimator_.intercept_ = b
        return self


def _check_grid(values, name, allow_zero=False):
    values = np.asarray(values, dtype=np.float64).ravel()
    low_ok = (values >= 0) if allow_zero else (values > 0)
    if len(values) == 0 or not (np.isfinite(values).all() and low_ok.all()):
        raise ValueError(
            f"{name} must hold non-negative finite floats; got {values.tolist()}."
        )
    return values


def _softmax_params(model, n_classes):
    """``(W, b)`` of shape ``(K, d)``, ``(K,)`` giving the model's softmax."""
    W, b = model.coef_, model.intercept_
    if n_classes == 2:  # sigmoid(z) = softmax([-z/2, z/2])[1]
        return np.vstack([-W[0] / 2, W[0] / 2]), np.array([-b[0] / 2, b[0] / 2])
    return W.copy(), b.copy()


def _afr_weights(p_true, y, gamma, n_classes):
    """``exp(-gamma p)``, each class summing to ``1 / n_classes``."""
    weight = np.exp(-gamma * p_true)
    for k in range(n_classes):
        mask = y == k
        weight[mask] /= weight[mask].sum() * n_classes
    return weight


def _retrain(Z, y, weight, W0, b0, lam, max_iter):
    """Minimise the weighted cross-entropy plus ``lam * ||(W, b) - (W0, b0)||^2``."""
    n_classes, n_features = W0.shape
    onehot = np.eye(n_classes)[y]

    def loss_grad(theta):
        W = theta[: n_classes * n_features].reshape(n_classes, n_features)
        b = theta[n_classes * n_features:]
        logits = Z @ W.T + b
        loss = -(weight * log_softmax(logits, axis=1)[np.arange(len(y)), y]).sum()
        diff_W, diff_b = W - W0, b - b0
        loss += lam * ((diff_W**2).sum() + (diff_b**2).sum())
        residual = (softmax(logits, axis=1) - onehot) * weight[:, None]
        grad_W = residual.T @ Z + 2 * lam * diff_W
        grad_b = residual.sum(axis=0) + 2 * lam * diff_b
        return loss, np.concatenate([grad_W.ravel(), grad_b])

    theta0 = np.concatenate([W0.ravel(), b0])
    result = minimize(
        loss_grad,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter},
    )
    theta = result.x
    return (
        theta[: n_classes * n_features].reshape(n_classes, n_features),
        theta[n_classes * n_features:],
        max(int(result.nit), 1),
    )
