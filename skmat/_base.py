"""Shared machinery of the neural estimators (parameters, input checks)."""

import functools
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _torch
from ._scorer import _check_group_labels_reach_the_scorer
from .exceptions import FeatureScaleWarning
from .utils._validation import _check_group_labels
from .utils._warnings import find_stack_level

_NETWORK_CONSTRAINTS = {
    "module": [StrOptions({"linear", "mlp"}), _torch.module_class()],
    "module_params": [dict, None],
    "optimizer": [StrOptions({"sgd", "adam", "adamw"}), _torch.optimizer_class()],
    "lr": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "batch_size": [
        Interval(Integral, 1, None, closed="left"),
        StrOptions({"auto"}),
        None,
    ],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "device": "no_validation",
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


class _NeuralClassifierMixin(ClassifierMixin):
    """Input checks, label encoding and network settings shared by estimators.

    Subclasses define the network parameters listed in
    ``_NETWORK_CONSTRAINTS`` in their ``__init__``.
    """

    def _check_settings(self):
        """Check the settings that need torch to check (classes, device).

        Also fails a search or cross-validation whose ``group_labels`` would
        never reach its :class:`~skmat.WorstGroupScorer` (routing off).
        """
        _torch.check_device(self.device)
        _torch.check_settings(self.module, self.optimizer, self.device)
        _check_group_labels_reach_the_scorer(type(self).__name__)

    def _validate_X_y(self, X, y):
        """Validate training data; return X (float32 or float64) and encoded y."""
        X, y = validate_data(self, X, y, dtype=[np.float32, np.float64])
        _check_float32_range(X)
        _check_feature_scales(
            X, type(self).__name__, getattr(self, "feature_names_in_", None)
        )
        check_classification_targets(y)
        self._label_encoder = LabelEncoder().fit(y)
        self.classes_ = self._label_encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data; got 1 class ({self.classes_.tolist()[0]!r})."
            )
        return X, self._label_encoder.transform(y)

    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        return _check_float32_range(X)

    def _encode_y(self, y, n_samples, name="y"):
        """Encode known labels of ``y``; raise on unknown labels or length."""
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != n_samples:
            raise ValueError(
                f"`{name}` must be 1-d with {n_samples} entries like X; got shape "
                f"{y.shape}."
            )
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if len(unknown):
            raise ValueError(
                f"`{name}` holds labels unseen in fit: {unknown.tolist()[:5]}; "
                f"known classes are {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def _seeds(self, n=1):
        """Integer seeds drawn from ``random_state``."""
        rng = check_random_state(self.random_state)
        return rng.randint(np.iinfo(np.int32).max, size=n)

    # The skorch net class and its extra keyword arguments (subclasses swap).
    _net_class = _torch.MATNet
    #: The net that trains several candidate heads in one pass, or None
    #: (each candidate trained alone).
    _bank_net_class = None

    def _extra_net_params(self):
        """Keyword arguments of ``_net_class`` beyond the common ones."""
        return {}

    def _net_module_factory(self, n_features, n_classes, module=None):
        """Return the factory of the torch module that ``net_`` holds."""
        return self._module_factory(n_features, n_classes, module)

    def _build_net(
        self, n_features, n_classes, callbacks=(), X=None, max_epochs=None,
        module=None, bank=None,
    ):
        """Build the skorch net; ``X``, the training rows, sizes "auto" settings.

        ``module`` overrides the fitted module (a candidate head). ``bank``,
        ``(modules, seed, head_shift)``, builds instead the net that trains a
        head of each of ``modules`` in one pass (``_bank_net_class``).
        """
        settings = self._net_settings()
        if max_epochs is not None:
            settings["max_epochs"] = max_epochs
        n_samples = None if X is None else len(X)
        settings["epoch_rows"] = _epoch_rows(settings["batch_size"], n_samples)
        settings["batch_size"] = _resolve_batch_size(settings["batch_size"], n_samples)
        settings["lr"] = _resolve_lr(settings["lr"], X)
        # n_classes: the width the net checks the module's output against.
        extra = {"n_classes": n_classes, **self._extra_net_params()}
        if bank is None:
            net_class = self._net_class
            factory = self._net_module_factory(n_features, n_classes, module)
        else:
            modules, seed, head_shift = bank
            net_class = self._bank_net_class
            factory = _torch.HeadBank.factory(
                [self._module_factory(n_features, n_classes, m) for m in modules],
                seed=seed,
            )
            extra["head_shift"] = list(head_shift)
        return _torch.build_net(
            net_class, factory, callbacks=callbacks, **settings, **extra
        )

    def __getstate__(self):
        # The fitted net is stored as plain data (weights as bytes, history as
        # lists), so pickle and skops.io need no torch object and a model
        # trained on a GPU loads on a CPU-only machine.
        state = dict(super().__getstate__())  # may be self.__dict__ itself
        net = state.pop("net_", None)
        if net is not None:
            state["_net_state"] = _torch.export_net(net)
        return state

    def __setstate__(self, state):
        exported = state.pop("_net_state", None)
        super().__setstate__(state)
        if exported is not None:
            net = self._build_net(self.n_features_in_, len(self.classes_))
            self.net_ = _torch.import_net(net, exported)

    def _module_factory(self, n_features, n_classes, module=None):
        if module is None:
            module = self._fitted_module()
        return _torch.resolve_module(
            module, self._module_params(module), n_features, n_classes
        )

    def _module_params(self, module):
        """Return the keyword arguments of ``module`` (``module_params``)."""
        return self.module_params

    def _fitted_module(self):
        """Return the module of the fitted network (estimators choosing it override)."""
        return self.module

    def _net_settings(self):
        return dict(
            optimizer=self.optimizer,
            lr=self.lr,
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            device=self.device,
        )

    def _logits(self, X):
        X = self._validate_X(X)
        return _torch.predict_logits(self.net_, _torch.as_tensor(X), exact=True)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities of the classes, in the order of ``classes_``.
        """
        return softmax(self._logits(X).astype(np.float64), axis=1)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


_TRAINING_CONSTRAINTS = {
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
}


class _NetworkClassifier(_NeuralClassifierMixin, BaseEstimator, ABC):
    """A network classifier trained on a (possibly shifted) cross-entropy.

    Holds the fit logic shared by :class:`MATClassifier` and the baselines:
    the validation split, worst-group early stopping and the skorch net.
    Subclasses implement ``_training_shift``.
    """

    @abstractmethod
    def _training_shift(self, X_train, y_train, heldout_logits, seed):
        """Per-example logit shift of shape (n_train, n_classes), or None.

        The hook that sees the training rows with a seed: subclasses fit what
        the shift or the loss needs here (XRM, an identification model).
        """

    def _inferred_valid_groups(self, X_valid, y_valid):
        """Inferred groups of the validation rows, or None."""
        return None

    def _extra_training_data(self, X_train, y_train, train_rows, group_labels):
        """Per-row arrays that travel with X to the loss (name -> array)."""
        return {}

    def _refit_shift(self, X, y_enc, train, valid, heldout_logits):
        """Shift of every row for the refit on all rows, or None (no refit).

        Called after the candidate and the epoch were chosen on the
        validation split, for estimators whose ``refit`` is True.
        """
        return None

    def _split(self, y_enc, strata, seed):
        """Stratified train/validation indices."""
        from sklearn.model_selection import train_test_split

        rows = np.arange(len(y_enc))
        class_counts = np.bincount(y_enc, minlength=len(self.classes_))
        if class_counts.min() < 2:
            k = int(np.argmin(class_counts))
            raise ValueError(
                f"Class {self.classes_.tolist()[k]!r} has only {class_counts[k]} "
                "sample; "
                "the validation split of early stopping (validation_fraction="
                f"{self.validation_fraction}) needs at least 2 samples per class, "
                "one on each side. Give more samples of that class, set "
                "early_stopping=False, or pass X_val and y_val."
            )
        _, counts = np.unique(strata, return_counts=True)
        stratify = strata if counts.min() >= 2 else y_enc
        n_valid = int(np.ceil(self.validation_fraction * len(rows)))
        n_classes = len(np.unique(y_enc))
        if n_valid < n_classes or len(rows) - n_valid < n_classes:
            raise ValueError(
                f"{type(self).__name__} with early_stopping=True holds out "
                f"validation_fraction={self.validation_fraction} of {len(rows)} "
                "samples, too few to keep every class on both sides; pass more "
                "data or early_stopping=False."
            )
        try:
            return train_test_split(
                rows, test_size=n_valid, stratify=stratify, random_state=seed
            )
        except ValueError:
            return train_test_split(rows, test_size=n_valid, random_state=seed)

    def _check_validation_set(self, X_val, y_val, group_labels_val):
        """Validate an explicit validation set given to ``fit``."""
        if not self.early_stopping:
            raise ValueError(
                "X_val/y_val are used for early stopping only; they were given "
                "with early_stopping=False. Set early_stopping=True or drop them."
            )
        if X_val is None or y_val is None:
            raise ValueError("Pass both X_val and y_val, or neither.")
        try:
            X_valid = validate_data(
                self, X_val, dtype=[np.float32, np.float64], reset=False
            )
        except ValueError as error:
            message = str(error)
            if not message.startswith("X has "):
                raise
            # sklearn names the array X; the user passed it as X_val.
            raise ValueError("`X_val` has " + message[len("X has "):]) from None
        _check_float32_range(X_valid, name="X_val")
        y_valid = self._encode_y(y_val, len(X_valid), name="y_val")
        if group_labels_val is not None:
            group_labels_val = _check_group_labels(
                group_labels_val, len(X_valid), name="group_labels_val"
            ).to_numpy()
        return X_valid, y_valid, group_labels_val

    def _fit_network(
        self,
        X,
        y,
        *,
        group_labels=None,
        heldout_logits=None,
        X_val=None,
        y_val=None,
        group_labels_val=None,
    ):
        self._check_settings()
        X, y_enc = self._validate_X_y(X, y)
        n_samples, n_classes = len(X), len(self.classes_)
        if group_labels is not None:
            group_labels = _check_group_labels(group_labels, n_samples).to_numpy()
        if heldout_logits is not None:
            heldout_logits = _check_heldout_logits(heldout_logits, n_samples, n_classes)
        seed_split, seed_shift, seed_torch = self._seeds(3)

        groups_valid = None
        refit_rows = None  # (train, valid) when an internal split is made
        if X_val is not None or y_val is not None or group_labels_val is not None:
            X_valid, y_valid, groups_valid = self._check_validation_set(
                X_val, y_val, group_labels_val
            )
            train = slice(None)
        elif self.early_stopping:
            strata = y_enc if group_labels is None else _strata(y_enc, group_labels)
            train, valid = self._split(y_enc, strata, seed_split)
            refit_rows = train, valid
            X_valid, y_valid = X[valid], y_enc[valid]
            if group_labels is not None:
                groups_valid = group_labels[valid]
        else:
            train, X_valid = slice(None), None

        # A slice (all rows) is a view: no copy of X when nothing is held out.
        X_train, y_train = X[train], y_enc[train]
        # Whether candidates will be scored on true groups (read by MAT).
        self._true_validation_groups = groups_valid is not None
        try:
            shift = self._training_shift(
                X_train,
                y_train,
                None if heldout_logits is None else heldout_logits[train],
                int(seed_shift),
            )
        finally:
            del self._true_validation_groups
        extra = self._extra_training_data(X_train, y_train, train, group_labels)

        scoring = None
        self.validation_groups_source_ = None
        if X_valid is not None:
            if groups_valid is not None:
                groups = np.unique(groups_valid, return_inverse=True)[1]
                source = "group_labels"
            else:
                groups = self._inferred_valid_groups(X_valid, y_valid)
                source = "inferred" if groups is not None else "class"
            self.validation_groups_source_ = source
            scoring = (_torch.as_tensor(X_valid), y_valid, groups, source)

        # One shift, or candidate shifts (most parsimonious first), for each
        # candidate module (the simplest first), to choose from on the
        # validation rows.
        candidates = shift if isinstance(shift, dict) else {None: shift}
        modules = self._candidate_modules(X_train)
        if scoring is None:  # nothing to choose on: the simplest
            modules = modules[:1]
        specs = [(module, key) for module in modules for key in candidates]
        if scoring is not None and len(specs) > 1 and self._bank_net_class:
            fits = self._train_candidates(
                X_train, y_train, extra, candidates, specs, scoring, int(seed_torch)
            )
        else:
            fits = {}
            for module, key in specs:
                if candidates[key] is not None:
                    extra["shift"] = candidates[key]
                fits[module, key] = self._train_network(
                    X_train, y_train, extra, scoring, int(seed_torch), module=module,
                    key=key,
                )
        self._judge_candidates(fits, scoring, X_train, y_train, int(seed_torch))
        order = self._candidate_order(list(candidates))
        balanced = self._balanced_candidates()
        kept = {
            module: _choose_candidate(
                {key: fits[module, key] for key in order}, balanced=balanced
            )
            for module in modules
        }
        module = _choose_module(fits, kept, self.validation_groups_source_)
        chosen = kept[module]
        self._set_candidate(
            chosen,
            {key: fits[module, key]["top_score"] for key in candidates},
            module,
            {m: fits[m, kept[m]]["top_score"] for m in modules},
        )
        fit = fits[module, chosen]
        self.net_ = fit["net"] if fit["net"] is not None else fit["build"]()
        self.n_epochs_ = len(self.net_.history)
        self.best_epoch_ = fit["best_epoch"]
        if hasattr(self, "refit"):
            self.refitted_ = False
        if refit_rows is not None and self._refits(scoring):
            # As LogisticRegressionCV's refit: the shift strength and the
            # number of epochs were chosen on the split; train them again on
            # every row, the validation rows included.
            full_shift = self._refit_shift(
                X, y_enc, *refit_rows, heldout_logits=heldout_logits
            )
            if full_shift is not None:
                refit = functools.partial(
                    self._train_network, X, y_enc, {"shift": full_shift}, None,
                    int(seed_torch),
                    max_epochs=self._refit_epochs(len(X_train), n_samples),
                    module=module,
                )
                # A linear head is trained again from zero weights, as
                # scikit-learn's linear models start: stopped after a few
                # epochs, it would keep much of a random start, which on
                # many features is a random projection of every row's noise
                # (interpretable data: 1,798 noise dimensions, epochs 2-8).
                net = refit(zero_start=True)["net"]
                if type(net.module_) is _torch.LinearModule and not _refit_holds(
                    net, self.net_, scoring
                ):
                    # The epoch was validated on the trajectory from the
                    # random start, which the refit from the same seed
                    # retraces; from zero it follows another, and where the
                    # start made that epoch right (a sharpened shift on
                    # flipped labels inverts a classifier from zero) it can
                    # classify the rows it trained on worse than the network
                    # chosen without them: then the validated trajectory.
                    net = refit()["net"]
                self.net_ = net
                self.shift_ = full_shift
                self.refitted_ = True
        self.validation_score_ = fit["scores"]
        self.best_validation_score_ = fit["best_score"]
        if scoring is not None and _untrained(fit):
            warnings.warn(
                f"{type(self).__name__}: the kept network scores "
                f"{fit['best_score']:.3f} on the validation rows "
                f"({self.validation_groups_source_} score) and "
                f"{fit['best_balanced_accuracy']:.3f} balanced accuracy, no "
                f"better than the untrained network ({fit['initial_score']:.3f}"
                f", {fit['initial_balanced_accuracy']:.3f}). Train longer "
                "(`max_epochs`), raise `lr`, or check the data.",
                ConvergenceWarning,
                stacklevel=find_stack_level(),
            )
        if self.verbose:
            print(
                f"{type(self).__name__}: {self.n_epochs_} epochs, best epoch "
                f"{self.best_epoch_}, validation score "
                f"{self.best_validation_score_} "
                f"({self.validation_groups_source_})"
            )
        return self

    def _refits(self, scoring):
        """Whether to train again on every row after the internal split.

        ``refit="auto"``: when the smallest group the validation rows are
        scored on (true groups, inferred groups, or classes) is small.
        """
        refit = getattr(self, "refit", False)
        if refit != "auto":
            return refit
        return _small_validation_group(scoring)

    def _refit_epochs(self, n_split, n_all):
        """Epochs of the refit: as many optimizer steps as the kept epoch took.

        With ``batch_size="auto"`` an epoch is about 16 steps whatever the
        number of rows, and the refit runs ``best_epoch_`` epochs; with
        batches of a fixed size (large data, or an int) the refit's epochs
        hold more steps, and fewer of them make the same number of steps.
        """
        def steps(n):
            batch = _resolve_batch_size(self.batch_size, n) or n
            return int(np.ceil((_epoch_rows(self.batch_size, n) or n) / batch))

        return max(1, round(self.best_epoch_ * steps(n_split) / steps(n_all)))

    def _candidate_modules(self, X_train):
        """Modules to choose from on the validation rows, the simplest first.

        ``X_train`` holds the rows the networks train on. ``(None,)``: the
        estimator's own ``module``, nothing to choose.
        """
        return (None,)

    def _judge_candidates(self, fits, scoring, X_train, y_train, seed):
        """Read the trained candidates before one is chosen (subclasses).

        ``fits[module, key]`` as in :func:`_choose_module`; ``scoring`` the
        validation rows, None without them; ``X_train``, ``y_train`` the
        rows the candidates trained on, ``seed`` their torch seed.
        """

    def _candidate_order(self, keys):
        """Return the candidates in the order ties are broken: the first is kept.

        A candidate left out cannot be kept.
        """
        return keys

    def _balanced_candidates(self):
        """Whether a later candidate must match the first's balanced accuracy.

        See :func:`_choose_candidate`. Then an epoch, too, cannot be kept
        when its balanced validation accuracy is more than
        ``_BALANCED_TOLERANCE`` below the best of its run so far.
        """
        return False

    def _balanced_tolerance(self, key=None):
        """Tolerance of the epochs' balanced-accuracy guard, None when off.

        ``key`` is the candidate whose network is guarded (None: the
        estimator's one setting).
        """
        return _BALANCED_TOLERANCE if self._balanced_candidates() else None

    def _plateau_tolerance(self, key, scoring):
        """Tolerance of the plateau whose first epoch is kept; None: the best.

        ``key`` is the candidate (None: the estimator's one setting),
        ``scoring`` what the validation rows are scored on. A
        network that early stopping ends keeps the earliest of the epochs
        within this of the best, without a break up to it (see
        ``skmat._torch._callbacks._PlateauStart``); subclasses turn it on.
        """
        return None

    def _patience(self, key, scoring):
        """Epochs without a better score before ``key``'s network is stopped.

        ``key`` and ``scoring`` as in :meth:`_plateau_tolerance`;
        ``n_iter_no_change`` unless a subclass lengthens it for a candidate.
        """
        return self.n_iter_no_change

    def _score_patience(self, key, scoring, module):
        """Epochs after its best *score* before a network is stopped; None: off.

        ``key`` and ``scoring`` as in :meth:`_plateau_tolerance`, ``module``
        the candidate head (None: the estimator's own). Where a plateau rule
        is on, its ties can rank later epochs higher for as long as the
        network trains (see ``skmat._torch._callbacks._past_plateau``);
        subclasses turn it on.
        """
        return None

    def _set_candidate(self, key, scores, module, module_scores):
        """Record the candidate kept (subclasses with candidates)."""

    def _train_network(
        self, X_train, y_train, extra, scoring, seed, max_epochs=None, module=None,
        key=None, zero_start=False,
    ):
        """Fit one network; return it with its validation curve.

        ``module`` overrides the estimator's own (a candidate head); ``key``
        names the candidate shift it trains with; ``zero_start`` starts a
        linear module from zero weights (:func:`_torch.start_at_zero`).
        """
        data = _torch.training_data(X_train, **extra)
        callbacks = []
        if scoring is not None:
            validation = _torch.GroupValidation(
                *scoring, balanced_tolerance=self._balanced_tolerance(key),
                plateau_tolerance=self._plateau_tolerance(key, scoring),
                score_patience=self._score_patience(key, scoring, module),
            )
            callbacks = [
                ("valid_score", validation),
                ("early_stopping", _torch.early_stopping(self._patience(key, scoring))),
            ]
        if self.verbose:
            callbacks.append(("progress", _torch.EpochProgress(type(self).__name__)))
        net = self._build_net(
            X_train.shape[1], len(self.classes_), callbacks, X_train, max_epochs,
            module,
        )
        _torch.fit_net(
            net, data, _torch.label_tensor(y_train), seed=seed, zero_start=zero_start
        )
        if scoring is None:
            return dict(
                net=net,
                best_epoch=len(net.history),
                scores=np.empty(0, dtype=np.float64),
                best_score=None,
                top_score=None,
                best_balanced_accuracy=None,
                best_loss=None,
                last_pooled_accuracies=None,
                initial_score=None,
                initial_balanced_accuracy=None,
            )
        scores = np.asarray(net.history[:, "valid_score"], dtype=np.float64)
        best = int(np.argmax(net.history[:, "valid_rank"]))
        top = float(scores[best])
        stopped = len(net.history) < net.max_epochs or validation.past_plateau_
        if validation.plateau_ is not None and stopped:
            # Stopped past its best: the first epoch of its plateau (a network
            # whose score is still improving when the epochs run out keeps
            # its best).
            epoch, _, state = validation.plateau_.kept
            net.module_.load_state_dict(state)
            best, top = epoch - 1, validation.plateau_.top
        return dict(
            net=net,
            best_epoch=best + 1,
            scores=scores,
            best_score=float(scores[best]),
            top_score=top,
            best_balanced_accuracy=float(net.history[best, "valid_balanced_acc"]),
            best_loss=float(net.history[best, "valid_loss"]),
            last_pooled_accuracies=(
                float(net.history[-1, "valid_minority_acc"]),
                float(net.history[-1, "valid_majority_acc"]),
            ),
            initial_score=validation.initial_score_,
            initial_balanced_accuracy=validation.initial_balanced_accuracy_,
        )

    def _train_candidates(self, X_train, y_train, extra, shifts, specs, scoring, seed):
        """Fit every candidate head in one pass; return the fit of each.

        ``specs`` lists the ``(module, key)`` candidates; ``shifts[key]`` is
        the training shift of ``key``, ``(n, K)``. The heads share the
        batches and the optimizer steps, so the data and the per-step costs
        are paid once instead of once per candidate, but share no parameter:
        each head follows its own gradient from the same start as when
        trained alone (the same seed), is scored and stopped on the
        validation rows as a network alone is, and keeps its best epoch. A
        fit's ``"build"`` makes the candidate's own skorch net, with its
        weights and its history, as :meth:`_train_network` would have left it.
        """
        keys = list(dict.fromkeys(key for _, key in specs))
        head_shift = [keys.index(key) for _, key in specs]
        data = _torch.training_data(
            X_train, **extra, shift=np.stack([shifts[key] for key in keys], axis=1)
        )
        validation = _torch.HeadsValidation(
            *scoring, patience=[self._patience(key, scoring) for _, key in specs],
            balanced_tolerance=[self._balanced_tolerance(key) for _, key in specs],
            plateau_tolerance=[
                self._plateau_tolerance(key, scoring) for _, key in specs
            ],
            score_patience=[
                self._score_patience(key, scoring, module) for module, key in specs
            ],
        )
        callbacks = [("valid_score", validation)]
        if self.verbose:
            # The bar's train_loss is the sum over the heads still training.
            desc = f"{type(self).__name__} ({len(specs)} candidate heads)"
            callbacks.append(("progress", _torch.EpochProgress(desc)))
        n_features, n_classes = X_train.shape[1], len(self.classes_)
        modules = [module for module, _ in specs]
        net = self._build_net(
            n_features, n_classes, callbacks, X_train,
            bank=(modules, seed, head_shift),
        )
        _torch.fit_net(net, data, _torch.label_tensor(y_train), seed=seed)
        epochs = list(net.history)

        def build(h):
            n_epochs = len(validation.records_[h])
            history = [
                {
                    "epoch": row["epoch"],
                    "train_loss": row["head_train_loss"][h],
                    **validation.records_[h][i],
                    "dur": row.get("dur"),
                }
                for i, row in enumerate(epochs[:n_epochs])
            ]
            head = self._build_net(
                n_features, n_classes, X=X_train, module=modules[h]
            )
            return _torch.head_net(head, validation.best_state_[h], history)

        fits = {}
        for h, spec in enumerate(specs):
            records = validation.records_[h]
            best = validation.best_epoch_[h] - 1
            fits[spec] = dict(
                net=None,
                build=functools.partial(build, h),
                best_epoch=best + 1,
                scores=np.array([r["valid_score"] for r in records], dtype=np.float64),
                best_score=float(records[best]["valid_score"]),
                top_score=(
                    float(records[best]["valid_score"])
                    if validation.top_score_[h] is None
                    else validation.top_score_[h]
                ),
                best_balanced_accuracy=float(records[best]["valid_balanced_acc"]),
                best_loss=float(records[best]["valid_loss"]),
                last_pooled_accuracies=(
                    float(records[-1]["valid_minority_acc"]),
                    float(records[-1]["valid_majority_acc"]),
                ),
                initial_score=validation.initial_score_[h],
                initial_balanced_accuracy=validation.initial_balanced_accuracy_[h],
            )
        return fits


# refit="auto" trains again on every row when the smallest validation group
# has fewer rows than this. Both sides of the trade turn on that group: with
# a hundred rows or more its accuracy is measured to about 0.05 (one standard
# error), so the epoch chosen on it is worth keeping, and its four hundred
# training rows (at validation_fraction=0.2) gain little from a quarter
# more; a group of a handful of rows chooses little and needs every row.
# MAT's plateau rule for epochs (MATClassifier._plateau_tolerance) turns on
# the same threshold.
_REFIT_MAX_GROUP = 100


def _small_validation_group(scoring):
    """Whether the smallest group the validation rows are scored on is small.

    The groups are the true ones, the inferred ones, or the classes; small
    is fewer than ``_REFIT_MAX_GROUP`` rows.
    """
    _, y_valid, groups, _ = scoring
    counts = np.unique(y_valid if groups is None else groups, return_counts=True)[1]
    return bool(counts.min() < _REFIT_MAX_GROUP)


# Where the balanced guard is on, an epoch whose balanced validation accuracy
# is more than this below the best of its run so far cannot be kept: on groups
# inferred from noisy held-out mistakes, an epoch barely trained can score
# better by disagreeing with XRM (make_classification(2000), seeds 2 and 3,
# kept epoch 1 of the linear head).
_BALANCED_TOLERANCE = 0.02


# Where an estimator keeps the first epoch of the best epoch's plateau (MAT's
# sharpened shifts where the held-out mistakes show a shortcut), the plateau
# is the epochs within this of the best score, the tolerance between
# candidates too.
_PLATEAU_TOLERANCE = 0.02


def _untrained(fit):
    """Whether the kept network of ``fit`` is no better than the untrained one.

    No better on the validation score, nor on balanced validation accuracy.
    The score alone can fall while a network learns: an untrained network
    errs at random, which can score the worst group better than a trained
    one whose errors concentrate there. On XRM's inferred groups those
    errors are XRM's, label noise and the hard rows near the boundary
    (``make_classification(20000)``, seeds 0, 1 and 4 of
    ``benchmarks/sanity.py``: scores 0.35-0.42 against the untrained
    network's 0.46-0.50, at balanced accuracies of 0.85-0.93 against
    0.50-0.55); on the classes, a rare class that a network trained without
    class balance gives up.
    """
    return (
        fit["best_score"] <= fit["initial_score"]
        and fit["best_balanced_accuracy"] <= fit["initial_balanced_accuracy"]
    )


def _refit_holds(refitted, chosen, scoring, tolerance=_BALANCED_TOLERANCE):
    """Whether a refit classifies the validation rows about as well as ``chosen``.

    ``refitted`` trained on every row, the validation rows included, for as
    many steps as ``chosen``, the network chosen on the split, took without
    them: a refit that reproduces the choice classifies those rows at least
    about as well (balanced accuracy, within ``tolerance``).
    """
    X_valid, y_valid = scoring[0], scoring[1]

    def balanced(net):
        predicted = _torch.predict_logits(net, X_valid).argmax(axis=1)
        return balanced_accuracy_score(y_valid, predicted)

    return balanced(refitted) >= balanced(chosen) - tolerance


def _choose_candidate(fits, tolerance=0.02, balanced=False):
    """Return the first (most plausible) candidate within ``tolerance`` of the best.

    As the one-standard-error rule of cross-validated penalties: among
    candidates whose validation scores differ by noise, the first one in the
    order of ``fits`` is kept, the one the evidence outside the validation
    score favours (the weakest shift, unless MAT's held-out mistakes look
    like a shortcut's minority: see ``MATClassifier._candidate_order``).

    With ``balanced``, a later candidate competes only when its balanced
    validation accuracy is no lower than the first's, as in
    :func:`_choose_module`: on groups inferred from held-out mistakes that
    are noise and hard rows, a stronger shift, or an epoch barely trained,
    can raise the worst inferred group by fitting those rows at the
    expense of every other, which balanced accuracy does not reward.
    """
    keys = list(fits)
    scores = [fits[k]["top_score"] for k in keys]
    if len(keys) == 1 or any(score is None for score in scores):
        return keys[0]
    if balanced:
        floor = fits[keys[0]]["best_balanced_accuracy"]
        keys = [keys[0]] + [
            k for k in keys[1:] if fits[k]["best_balanced_accuracy"] >= floor
        ]
    top = max(fits[k]["top_score"] for k in keys)
    return next(k for k in keys if fits[k]["top_score"] >= top - tolerance)


def _choose_module(fits, kept, source, tolerance=0.02):
    """Return the module kept: the first (simplest) unless another is better.

    ``fits[module, key]`` is the fit of every candidate and ``kept[module]``
    the candidate (temperature) each module keeps. A later module is kept
    only when its kept fit's validation score beats the first module's by
    more than ``tolerance`` and, on groups inferred by XRM, it classifies
    the validation rows better than the first module *at the same
    candidate*: a higher balanced validation accuracy or, on a tie, a lower
    validation loss (the tie-breaks of early stopping, in the same order).
    A more flexible network can raise the worst inferred group by fitting
    the hard or mislabelled rows XRM got wrong at the expense of the
    others, which the inferred score rewards and balanced accuracy does
    not. On a few dozen validation rows the two heads often tie on
    balanced accuracy; the loss then says which fits those rows better, and
    a full tie keeps the simpler head. Comparing at the same temperature
    isolates that effect of the network: across temperatures balanced
    accuracy on validation rows drawn like the training rows falls with the
    strength of the shift whatever the network, and would refuse a better
    head for using a stronger shift.
    """
    modules = list(kept)
    first = best = modules[0]
    base = fits[first, kept[first]]
    for module in modules[1:]:
        fit = fits[module, kept[module]]
        if fit["top_score"] is None or base["top_score"] is None:
            continue
        better = fit["top_score"] > base["top_score"] + tolerance
        balanced = source != "inferred" or (
            _classification_rank(fit) > _classification_rank(fits[first, kept[module]])
        )
        top = fits[best, kept[best]]["top_score"]
        if better and balanced and fit["top_score"] > top:
            best = module
    return best


def _classification_rank(fit):
    """How well a fit classifies its validation rows, as a comparable tuple.

    Balanced accuracy first, then the validation loss (lower is better).
    """
    return fit["best_balanced_accuracy"], -fit["best_loss"]


# batch_size="auto": the optimizer steps an epoch makes, and the batches' bounds.
_AUTO_EPOCH_STEPS = 16
_AUTO_MIN_BATCH, _AUTO_MAX_BATCH = 16, 256


def _resolve_batch_size(batch_size, n_samples):
    """``"auto"``: about 16 steps per epoch, batches of 16 to 256 rows.

    An epoch budget gives a small data set as many updates as a large one
    gets in a few epochs: 240 rows in batches of 256 make one step an epoch,
    and 100 epochs of them do not train a network. Under 256 rows the
    batches stay at 16 rows and an epoch draws more rows than the data
    hold (:func:`_epoch_rows`).
    """
    if batch_size != "auto":
        return batch_size
    if n_samples is None:
        return _AUTO_MAX_BATCH
    return int(min(
        _AUTO_MAX_BATCH,
        max(_AUTO_MIN_BATCH, np.ceil(n_samples / _AUTO_EPOCH_STEPS)),
    ))


def _epoch_rows(batch_size, n_samples):
    """Rows a training epoch draws: None for one pass over the data.

    With ``batch_size="auto"`` an epoch is 16 steps. From 256 rows one pass
    makes them (batches of ``ceil(n / 16)`` rows); under 256 rows, batches
    of 16 make fewer, so the epoch draws 256 rows (the data's rows in
    random order, again and again): iris's 84 training rows would otherwise
    make 6 steps an epoch, and the budget, the patience and the epochs that
    validation compares would count a third of the updates that larger data
    get. An int ``batch_size`` keeps one pass, as in skorch.
    """
    if batch_size != "auto" or n_samples is None:
        return None
    # Below 16 steps of the smallest batch only: from 256 rows one pass of
    # batches of ceil(n / 16) rows already makes about 16 steps, and the
    # rows drawn must stay the data's (16 * ceil(n / 16) can exceed n).
    rows = _AUTO_EPOCH_STEPS * _AUTO_MIN_BATCH
    return rows if n_samples < rows else None


# "auto" learning rate: this one, unless the data's scale makes it unstable.
_AUTO_LR = 0.01


def _resolve_lr(lr, X, max_rows=4096, n_iter=30):
    """``"auto"``: 0.01, or ``1 / lambda_max`` where that is smaller.

    ``lambda_max`` is the largest eigenvalue of the second moment
    ``E[z z^T]`` of the rows ``z = (x, 1)`` (power iteration on at most 4096
    rows), which bounds the curvature of the cross-entropy of a linear layer
    (and of a network's first layer) by ``lambda_max / 2``. SGD with momentum
    0.9 is stable below ``lr = 3.8 / curvature``; ``1 / lambda_max`` keeps a
    margin of 7. Standardised features (lambda_max of a few to a few tens)
    keep 0.01; features in the hundreds, where 0.01 diverges, get a smaller
    step.
    """
    if lr != "auto":
        return lr
    if X is None or not len(X):
        return _AUTO_LR
    rows = np.asarray(X[:max_rows], dtype=np.float64)
    Z = np.hstack([rows, np.ones((len(rows), 1))])
    v = np.full(Z.shape[1], 1.0 / np.sqrt(Z.shape[1]))
    lam = 0.0
    for _ in range(n_iter):
        w = Z.T @ (Z @ v) / len(Z)
        lam = float(np.linalg.norm(w))
        if lam == 0.0:
            break
        v = w / lam
    return float(min(_AUTO_LR, 1.0 / max(lam, 1e-12)))


# fit warns (FeatureScaleWarning) when some feature's root mean square is
# more than this many times the median feature's standard deviation: the
# step size of lr="auto" is bounded by the largest feature, and a typical
# feature then moves 1/MAX_SCALE_RATIO**2 as fast as on standardised data.
# Standardised data give 1, Adult's one-hot columns beside its standardised
# numbers 8 (a median one-hot column has a standard deviation of 0.13; one
# of a category in 1 row of 1,000, 0.03), raw pixels 3 (digits) and the
# planted data sets at most 10; the raw breast cancer and wine data 14,000
# and 1,000, where MAT at defaults is 0.07 and 0.32 below logistic
# regression (benchmarks/sanity.py --raw).
MAX_SCALE_RATIO = 100.0


def _check_feature_scales(X, name, feature_names=None, max_rows=4096):
    """Warn when the features of ``X`` are on very different scales.

    On the rows the step size of ``lr="auto"`` is computed on (the first
    ``max_rows``); constant features are left out. ``name`` is the
    estimator's, ``feature_names`` those of a DataFrame X (or None).
    """
    rows = np.asarray(X[:max_rows], dtype=np.float64)
    if len(rows) < 2:
        return
    std = rows.std(axis=0)
    varying = np.flatnonzero(std > 0)
    if not len(varying):
        return
    rms = np.sqrt(np.mean(rows[:, varying] ** 2, axis=0))
    typical = float(np.median(std[varying]))
    ratio = rms.max() / typical
    if ratio > MAX_SCALE_RATIO:
        feature = int(varying[np.argmax(rms)])
        if feature_names is not None:
            feature = repr(str(feature_names[feature]))
        warnings.warn(
            f"The features of X are on very different scales: feature {feature} "
            f"has a root mean square of {rms.max():.3g}, {ratio:.0f} times the "
            f"median feature's standard deviation ({typical:.3g}). {name} "
            "trains with a step size that the largest feature bounds, and most "
            "features then barely train. Standardise X first, e.g. "
            f"make_pipeline(StandardScaler(), {name}()).",
            FeatureScaleWarning,
            stacklevel=find_stack_level(),
        )


def _strata(y_enc, group_labels):
    _, g = np.unique(group_labels, return_inverse=True)
    return y_enc * (g.max() + 1) + g


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(X, name="X"):
    """Raise unless every value of ``X`` is finite once cast to float32.

    The networks train and predict in float32: a float64 value beyond
    float32's range becomes infinity there, and the error would surface as a
    diverged loss (at fit) or as NaN probabilities (at predict). ``X`` is
    already checked for NaN and infinity; two reductions, no copy.
    """
    if X.dtype != np.float64 or X.size == 0:
        return X
    if X.max() <= _FLOAT32_MAX and X.min() >= -_FLOAT32_MAX:
        return X
    beyond = np.abs(X) > _FLOAT32_MAX
    row, col = np.argwhere(beyond)[0]
    raise ValueError(
        f"{name} has values beyond float32's range (|x| > 3.4e38), the precision "
        f"the network computes in ({int(beyond.sum())} value(s), the first "
        f"{X[row, col]:.3g} at row {row}, column {col}). Rescale the features "
        "(e.g. StandardScaler in a Pipeline) or drop these rows."
    )


def _check_heldout_logits(heldout_logits, n_samples, n_classes):
    logits = np.asarray(heldout_logits, dtype=np.float64)
    if logits.shape != (n_samples, n_classes):
        raise ValueError(
            f"`heldout_logits` must have shape (n_samples, n_classes) = "
            f"({n_samples}, {n_classes}); got {logits.shape}."
        )
    if not np.isfinite(logits).all():
        raise ValueError("`heldout_logits` contains NaN or infinity.")
    return logits
