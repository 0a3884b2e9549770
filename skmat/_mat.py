"""Memorization-Aware Training (MAT)."""

from numbers import Real

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import _fit_context
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from . import _torch
from ._base import (
    _BALANCED_TOLERANCE,
    _NETWORK_CONSTRAINTS,
    _PLATEAU_TOLERANCE,
    _TRAINING_CONSTRAINTS,
    _NetworkClassifier,
    _small_validation_group,
)
from ._xrm import _XRMSourceMixin
from .utils._docstring import _fill_network_params
from .utils._selection import _pooled_minority, minority_lift


@_fill_network_params
class MATClassifier(_XRMSourceMixin, _NetworkClassifier):
    r"""Memorization-Aware Training: a classifier robust to spurious correlations.

    A network trained by plain cross-entropy on data with a spurious
    correlation learns the spurious feature for the majority and memorizes
    the minority. MAT first obtains *held-out* logits ``h_i`` for every
    training example (from :class:`XRMEstimator`, or given by the user),
    turns them into a calibrated per-example logit shift

    .. math::

        s_i(y) = \log \sum_{\hat y} p(\hat y \mid x_i)\, p(y \mid \hat y),
        \qquad p(\hat y \mid x_i) = \mathrm{softmax}(h_i / \tau),

    and trains on ``cross_entropy(f(x_i) + s_i, y_i)``. The shift is a constant
    used only in training: :meth:`predict` uses ``f(x)`` alone. The table
    ``p(y, yhat)`` is estimated once over the whole training set (the paper's
    formula), not per minibatch as in the authors' code, so that the shift
    does not depend on the batch size or on which rows share a batch.

    By default a stratified ``validation_fraction`` of the data is held out
    and the epoch with the best worst-group validation accuracy is kept: with
    the user's ``group_labels`` when given to :meth:`fit`, else with the
    groups XRM infers on the validation rows, else worst-class accuracy.
    Where the groups are inferred, an epoch whose balanced validation
    accuracy is more than 0.02 below the best of its run so far is not
    kept: a network barely trained can score well on such groups by
    disagreeing with XRM when they are noise. Only a sharpened shift
    (``tau < 1``) where XRM's held-out mistakes look like a shortcut's
    minority (``heldout_mistake_spread_`` at most 0.1) may give up balanced
    accuracy, as a shift that corrects a shortcut does.

    Parameters
    ----------
    temperature : float or "auto", default="auto"
        Temperature ``tau`` of the held-out softmax: the strength of the
        shift, applied to held-out logits first *calibrated* by temperature
        scaling against the training labels (``heldout_temperature_``), so
        that ``tau = 1`` trusts the calibrated held-out probabilities, values
        below 1 sharpen them (a stronger shift) and ``np.inf`` flattens them
        to the class prior (the shift is then ``log p(y)``: logit adjustment,
        which is class balancing). Its meaning does not depend on the scale
        of the held-out logits. ``"auto"`` trains one network for each of
        ``tau`` in (inf, 2, 0.5, 0.25) on the same XRM and keeps, on the
        validation rows, the weakest shift whose score is within 0.02 of the
        best (``temperature_``, ``temperature_scores_``), as the
        one-standard-error rule keeps the simplest model. Without group
        labels the sharpened candidates (0.5, 0.25) are trained only when the
        held-out mistakes look like a shortcut's minority, all wrong with
        about the same calibrated confidence (``heldout_mistake_spread_`` at
        most 0.1); where they spread from confident to the boundary (noise
        and hard rows, as on Adult or ``make_classification``) the score on
        inferred groups would prefer the sharpest shift for fitting those
        rows, and only (inf, 2) are tried; there ``tau = 2`` is kept over
        ``inf`` only if its balanced validation accuracy is no lower (a
        network that fits XRM's noisy mistakes, or one barely trained, can
        score better on those groups at every other row's expense). Where
        they do look like a shortcut's minority, that minority is a handful
        of validation rows whose score differences are mostly noise, and the
        evidence is for a strong shift: the *sharpest* shift within 0.02 of
        the best is kept, unless the mistakes are labels flipped at random on
        easy data, which look the same: a sharpened shift would then train the
        network on the flipped labels. So a sharpened shift is kept only when
        some candidate network classifies the inferred minority of the
        validation rows better than label noise allows (``minority_lift_``
        above 0) or, where that test fails on the few such rows a validation
        split holds (or none is there), when retrained on each half of XRM's
        split it classifies the other half's inferred minority so, both halves
        (``crossfit_lift_`` above 0); otherwise only (inf, 2) compete, as
        where no shortcut shows. With either lift above 0 the data hold a
        shortcut, and only the sharpened shifts (0.5, 0.25) compete: the
        validation rows are drawn like the training rows, mostly the
        shortcut's majority, on which a weak shift that keeps the shortcut
        scores best. The same noise decides the epoch there:
        when the smallest validation group has fewer than 100 rows, a sharpened
        shift's network (``tau < 1``) that early stopping ends keeps the
        first epoch of its best epoch's plateau (the earliest of the epochs
        within 0.02 of the best without a break up to it), which has
        memorized the up-weighted minority least; and it is stopped only
        after ``max(n_iter_no_change, max_epochs // 2)`` epochs without a
        better score, since such a shift first over-corrects (the
        majority's accuracy falls) and recovers later.
        Without early stopping there is nothing to choose on and ``tau = 1``
        is used. A float is the knob to search with
        :class:`~sklearn.model_selection.GridSearchCV` and
        :class:`~skmat.WorstGroupScorer`.
    xrm : XRMEstimator or None, default=None
        Source of the held-out logits. It is cloned and fitted on the
        training rows at each :meth:`fit`. ``None`` uses an
        :class:`XRMEstimator` with this classifier's network settings, and
        does not warn where it makes no mistake on a class (most classes of
        easy data with no shortcut; ``xrm_.degenerate_`` records it): such a
        class is one inferred group. Not used when ``heldout_logits`` are
        passed to :meth:`fit`.
    refit : bool or "auto", default="auto"
        After the shift strength and the number of epochs are chosen on the
        validation split that early stopping holds out, train the network
        again on all the rows, for as many optimizer steps as the kept epoch
        took (as ``refit`` in
        :class:`~sklearn.linear_model.LogisticRegressionCV`): the rows held
        out for validation are a fifth of the few minority rows, which a
        network that can memorize needs most. A linear head is refitted from
        zero weights, as scikit-learn's linear models start: stopped after a
        few epochs, it would keep much of a random start, which on many
        features is a random projection of every row's noise. That refit is
        kept only if it classifies the validation rows (which it trained on)
        about as well as the network chosen on the split (balanced accuracy
        within 0.02); otherwise it is trained again from the random start
        whose trajectory the kept epoch was validated on. The held-out
        logits of the validation rows come from ``heldout_logits`` or from
        the fitted XRM (the mean of its twins, neither of which trained on
        them); an ``xrm`` without ``predict_proba`` gives no refit.
        ``"auto"`` refits
        when the smallest group the validation rows are scored on (the true
        groups, XRM's inferred groups, or the classes) has fewer than 100
        rows: such a group measures the kept epoch too coarsely for it to be
        worth much, and its rows are few enough that a quarter more helps.
        With larger groups (Adult's) the network chosen on the split is
        kept, its epoch validated on them. No refit with
        ``early_stopping=False`` or an explicit ``X_val`` (every row is
        already trained on); ``refitted_`` says whether it was done.
    memory : str, joblib.Memory or None, default=None
        Cache of fitted XRMs, as in :class:`~sklearn.pipeline.Pipeline`: a
        directory path or a :class:`joblib.Memory`. XRM depends neither on
        ``temperature`` nor on the network's early stopping, so a grid search
        over ``temperature`` fits XRM once per fold instead of once per
        candidate and fold. Hits need an integer ``random_state`` (the XRM
        seed and the validation split derive from it).
    module : {"auto", "linear", "mlp"} or torch.nn.Module subclass, default="auto"
        The network. ``"auto"`` trains a linear and an MLP head (one hidden
        layer of 256 units) at each candidate temperature and keeps the
        linear one unless the MLP's validation score beats it by more than
        0.02 and, on XRM's inferred groups, its balanced validation accuracy
        is higher than the linear head's at the same temperature, or equal
        with a lower validation loss (``module_``, ``module_scores_``): a
        more flexible head can raise the worst inferred group by fitting the
        hard rows XRM got wrong at the others' expense, which balanced
        accuracy does not reward. With at least as many features as
        training rows (after the validation split), as on a frozen
        backbone's embeddings of a few hundred rows, only the linear head
        is trained: it can already fit every training row, and the MLP
        would add another way to interpolate them, not a better fit. The
        candidate heads train in one pass over the data.
        ``module_params`` then configure the MLP, and the XRM that
        ``xrm=None`` stands for is linear. Without early stopping the linear
        head is used. A class is instantiated with ``n_features`` and
        ``n_classes`` when its ``__init__`` takes them, plus
        ``module_params``; a fixed module also builds that XRM.
    %(network_params_but_module)s
    %(early_stopping_params)s
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
        The fitted skorch net; ``net_.history`` holds the training curves.
    xrm_ : XRMEstimator or None
        The fitted clone of ``xrm``; None when ``heldout_logits`` were given.
    shift_ : ndarray of shape (n_train, n_classes)
        The logit shift of the rows the network of ``net_`` trained on, at
        ``temperature_``: every row after a refit, else the rows not held
        out.
    refitted_ : bool
        Whether ``net_`` was trained again on every row (see ``refit``).
    heldout_temperature_ : float
        The temperature that calibrates the held-out logits against the
        training labels; ``temperature`` applies on top of it.
    heldout_mistake_spread_ : float
        Interquartile range of the calibrated held-out probability of the
        true class over the training rows the held-out logits get wrong,
        scaled up by ``sqrt(20 / n)`` when fewer than ``n = 20`` rows are
        wrong (the range of a few values reads tighter than their source's
        by chance), ``inf`` with fewer than 4; ``temperature="auto"`` tries
        shifts sharper than calibrated only when it is at most 0.1, and then
        keeps the sharpest within 0.02 of the best score.
    minority_lift_ : float or None
        Where ``temperature="auto"`` trains sharpened shifts without group
        labels: how far the candidate networks, each at its last epoch,
        classify the inferred minority of the validation rows (XRM's
        mistakes there) beyond what label noise allows, the largest over
        the candidates. Under label
        noise a classifier's accuracy on those rows is at most one minus
        its accuracy on the others; this is the lower confidence bound of
        the minority's accuracy (one-sided, 2.5%% split over the candidates)
        minus that limit. At most 0, no sharpened shift is kept unless
        ``crossfit_lift_`` is above 0; above 0, only sharpened shifts
        compete. None where no inferred-minority row falls among the
        validation rows (then, as at most 0, only ``crossfit_lift_`` above 0
        lets a sharpened shift in), and elsewhere (a fixed temperature,
        true group labels, a spread above 0.1: then nothing is blocked).
    crossfit_lift_ : float or None
        Where ``minority_lift_`` is at most 0 or None with sharpened shifts
        judged on inferred groups: the same test on the training rows,
        which hold several times as many of XRM's inferred minority.
        Each sharpened candidate is trained again, for as many epochs as it
        trained, on each half of XRM's split (``xrm_.twin_assignment_``),
        and judged on the other half's inferred minority against its
        accuracy on that half's other rows (one-sided, 2.5%% split over the
        sharpened candidates); a candidate's lift is the lower of its two
        halves', and this is the largest over the candidates. Above 0, the
        sharpened shifts are kept as with ``minority_lift_`` above 0. None
        elsewhere, with an ``xrm`` that has no twin assignment, or where a
        half of every candidate had no inferred-minority row to judge.
    temperature_ : float
        The temperature used: ``temperature``, or the one ``"auto"`` chose.
    temperature_scores_ : dict
        Best validation score of the network trained at each candidate
        temperature, with the head kept (``{temperature_: score}`` for a
        fixed one; the score is None without early stopping). The epoch
        kept can score up to 0.02 less (``best_validation_score_``): the
        first of its plateau, for a sharpened shift where a shortcut shows
        (see ``temperature``). Listed but not eligible: the sharpened ones
        when ``minority_lift_`` is at most 0, the weak ones (inf, 2) when
        it is above 0.
    module_ : str or torch.nn.Module subclass
        The head kept: ``module``, or the one ``"auto"`` chose.
    module_scores_ : dict
        Validation score of each candidate head at its kept temperature
        (``{module_: score}`` when ``module`` is not ``"auto"``).
    %(early_stopping_attributes)s
    validation_groups_source_ : {"group_labels", "inferred", "class"} or None
        Which groups the validation score used.

    See Also
    --------
    XRMEstimator : The default source of held-out logits.
    WorstGroupScorer : Worst-group accuracy as a scorer for model selection.

    References
    ----------
    .. [1] Bayat, R., Pezeshki, M., Dohmatob, E., Lopez-Paz, D. and Vincent,
       P. "The Pitfalls of Memorization: When Memorization Hurts
       Generalization", ICLR 2025.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmat import MATClassifier
    >>> X, y = make_classification(n_samples=300, random_state=0)
    >>> clf = MATClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.validation_groups_source_
    'inferred'
    >>> clf.heldout_mistake_spread_ > 0.1  # no shortcut: no sharpened shift
    True
    >>> sorted(clf.temperature_scores_)
    [2.0, inf]
    >>> sorted(clf.module_scores_)
    ['linear', 'mlp']
    """

    _parameter_constraints = {
        **_NETWORK_CONSTRAINTS,
        **_TRAINING_CONSTRAINTS,
        "module": [StrOptions({"auto", "linear", "mlp"}), _torch.module_class()],
        "temperature": [
            Interval(Real, 0, None, closed="right"),
            StrOptions({"auto"}),
        ],
        "xrm": [HasMethods(["fit", "infer_group_labels"]), None],
        "memory": [None, str, HasMethods(["cache"])],
        "refit": ["boolean", StrOptions({"auto"})],
    }

    # The candidate heads (temperatures, modules) train in one pass.
    _bank_net_class = _torch.MultiHeadMATNet

    # group_labels and heldout_logits are requested by default when metadata
    # routing is on, so GridSearchCV(...).fit(X, y, group_labels=g) works.
    __metadata_request__fit = {"group_labels": True, "heldout_logits": True}

    def __init__(
        self,
        *,
        temperature="auto",
        xrm=None,
        refit="auto",
        memory=None,
        module="auto",
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
        self.temperature = temperature
        self.xrm = xrm
        self.refit = refit
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
        heldout_logits=None,
        X_val=None,
        y_val=None,
        group_labels_val=None,
    ):
        """Fit XRM (unless held-out logits are given), then the shifted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        group_labels : array-like of shape (n_samples,), default=None
            True group of each row, when known. Used only to score the
            validation rows for early stopping; training never sees it.
        heldout_logits : array-like of shape (n_samples, n_classes), default=None
            Precomputed held-out logits (columns in sorted label order), e.g.
            from :func:`~sklearn.model_selection.cross_val_predict`. When
            given, no XRM is fitted.
        X_val : array-like of shape (n_val, n_features), default=None
            An explicit validation set for early stopping, as in
            :class:`~sklearn.ensemble.HistGradientBoostingClassifier`. When
            given, all of X is used for training and no split is made.
        y_val : array-like of shape (n_val,), default=None
            Labels of ``X_val``.
        group_labels_val : array-like of shape (n_val,), default=None
            True groups of ``X_val``; without them XRM's inferred groups are
            used.

        Returns
        -------
        self : MATClassifier
            The fitted classifier.
        """
        return self._fit_network(
            X,
            y,
            group_labels=group_labels,
            heldout_logits=heldout_logits,
            X_val=X_val,
            y_val=y_val,
            group_labels_val=group_labels_val,
        )

    def _training_shift(self, X_train, y_train, heldout_logits, seed):
        if heldout_logits is None:
            self.xrm_ = self._fit_nested_xrm(X_train, y_train, seed)
            heldout_logits = getattr(self.xrm_, "heldout_logits_", None)
            if heldout_logits is None:
                raise ValueError(
                    f"xrm={type(self.xrm_).__name__}() has no `heldout_logits_` "
                    "after fit; MATClassifier needs a source of held-out logits "
                    "such as XRMEstimator, or pass heldout_logits to fit."
                )
        else:
            self.xrm_ = None
        self.heldout_temperature_ = _calibration_temperature(heldout_logits, y_train)
        calibrated = np.asarray(heldout_logits, dtype=np.float64) / (
            self.heldout_temperature_
        )
        self.heldout_mistake_spread_ = _mistake_spread(calibrated, y_train)
        # Set once the candidates are trained.
        self.minority_lift_ = self.crossfit_lift_ = None
        self._lift_asked = False
        true_groups = getattr(self, "_true_validation_groups", False)
        shortcut = self.heldout_mistake_spread_ <= MAX_MISTAKE_SPREAD
        if self.temperature != "auto":
            temperatures = [float(self.temperature)]
        elif self.early_stopping and (true_groups or shortcut):
            temperatures = list(AUTO_TEMPERATURES)
        elif self.early_stopping:
            # No sign of a shortcut's minority: no shift sharper than the
            # calibrated held-out probabilities (see _mistake_spread).
            temperatures = [t for t in AUTO_TEMPERATURES if t > 1]
        else:
            # Nothing to choose on: the calibrated held-out probabilities.
            temperatures = [1.0]
        self._shifts = {
            tau: _torch.mat_shift(calibrated, y_train, tau, len(self.classes_))
            for tau in temperatures
        }
        return self._shifts if len(temperatures) > 1 else self._shifts[temperatures[0]]

    def _refit_shift(self, X, y_enc, train, valid, heldout_logits):
        if heldout_logits is None:
            if not hasattr(self.xrm_, "predict_proba"):
                return None
            heldout_logits = np.empty((len(X), len(self.classes_)))
            heldout_logits[train] = self.xrm_.heldout_logits_
            # Neither twin trained on the validation rows.
            proba = self.xrm_.predict_proba(X[valid])
            heldout_logits[valid] = np.log(np.clip(proba, 1e-12, None))
        calibrated = np.asarray(heldout_logits, dtype=np.float64) / (
            self.heldout_temperature_
        )
        return _torch.mat_shift(
            calibrated, y_enc, self.temperature_, len(self.classes_)
        )

    def _candidate_modules(self, X_train):
        if self.module != "auto":
            return (None,)
        if X_train.shape[1] >= X_train.shape[0]:
            # As many features as training rows: the linear head alone (see
            # AUTO_MODULES).
            return AUTO_MODULES[:1]
        return AUTO_MODULES

    def _fitted_module(self):
        if self.module != "auto":
            return self.module
        return getattr(self, "module_", AUTO_MODULES[0])

    def _module_params(self, module):
        # With module="auto", module_params configure the MLP candidate.
        if self.module == "auto" and module != "mlp":
            return None
        return self.module_params

    def _shortcut_without_group_labels(self):
        # The held-out mistakes show a shortcut's minority, and no true
        # groups score the validation rows: that minority is then a handful
        # of validation rows whose score differences are mostly noise.
        shortcut = self.heldout_mistake_spread_ <= MAX_MISTAKE_SPREAD
        return shortcut and self.validation_groups_source_ != "group_labels"

    def _candidate_temperature(self, key):
        # The temperature of candidate ``key`` (None: the estimator's own);
        # None for "auto".
        temperature = self.temperature if key is None else key
        return None if isinstance(temperature, str) else temperature

    def _judge_candidates(self, fits, scoring, X_train, y_train, seed):
        # Whether any trained candidate classifies the inferred minority of
        # the validation rows better than label noise would allow: where the
        # held-out mistakes look like a shortcut's minority, they may as well
        # be labels flipped at random on easy data, and a sharpened shift
        # then trains the network on the flipped labels (see minority_lift).
        # Each candidate is judged at its last epoch, not its best: the best
        # is the epoch of up to a hundred whose score (the inferred minority's
        # accuracy, mostly) was highest on these same rows, a maximum the
        # correction over the candidates does not cover; under label noise it
        # passed the test in 4 fits of 63, the last epoch in 1.
        self.crossfit_lift_ = None
        if not (
            self.temperature == "auto"
            and self._shortcut_without_group_labels()
            and self.validation_groups_source_ == "inferred"
        ):
            return
        self._lift_asked = True
        _, y_valid, groups, _ = scoring
        n_minority = int(_pooled_minority(y_valid, groups).sum())
        lifts = [
            minority_lift(*fit["last_pooled_accuracies"], n_minority, len(fits))
            for fit in fits.values()
        ]
        lifts = [lift for lift in lifts if np.isfinite(lift)]
        self.minority_lift_ = max(lifts) if lifts else None
        # None: no inferred-minority row among the validation rows, whose
        # scores then cannot show what a sharpened shift does to it (raw
        # iris, seeds 0 and 1: XRM's mistakes, most of versicolor, looked
        # like a minority, every candidate scored 1.0 on the 21 validation
        # rows, and the sharpest kept epoch 5, test 0.844 and 0.689 against
        # 0.956 and 0.978 at tau = inf). Then, as where the lift fails, only
        # the cross-fitted lift can let a sharpened shift in.
        if self.minority_lift_ is None or self.minority_lift_ <= 0:
            self.crossfit_lift_ = self._crossfit_lift(fits, X_train, y_train, seed)

    def _crossfit_lift(self, fits, X_train, y_train, seed):
        # The validation rows hold a handful of the inferred minority (0 to 3
        # of a 98% shortcut's, 3 to 9 of three classes'), too few for the
        # test to tell a shortcut from label noise. The training rows hold
        # several times as many, each held out from one of XRM's twins: each
        # sharpened candidate is trained again, as long as it trained, on
        # each half of XRM's split and judged on the other half's inferred
        # minority against its own accuracy on the other rows. The test
        # holds for one classifier, so each half is a test of its own, and
        # the candidate passes only if both do: with the halves' rows pooled,
        # a half whose network had fitted the flipped labels (a low accuracy
        # on the other rows, hence a lax limit) carried the test in 11 of
        # 197 label-noise fits (docs/benchmarks.md, "The lift cross-fitted
        # on XRM's halves").
        halves = self._crossfit_accuracies(fits, X_train, y_train, seed)
        if halves is None:
            return None
        lifts = [
            min(
                -np.inf if half is None else minority_lift(*half, len(halves))
                for half in per_half
            )
            for per_half in halves.values()
        ]
        # -inf: a half with no rows of the inferred minority (or only those)
        # to judge, in every candidate; then nothing was measured.
        lifts = [lift for lift in lifts if np.isfinite(lift)]
        return max(lifts) if lifts else None

    def _crossfit_accuracies(self, fits, X_train, y_train, seed):
        # Each sharpened candidate trained again, as long as it trained, on
        # each half of XRM's split: {(module, key): [per half, its accuracy
        # on the other half's inferred minority, on that half's other rows,
        # and the minority's count; None where a half has no training row,
        # or no inferred-minority row (or only those) to judge]}. None where
        # XRM gave no twin assignment of these rows.
        xrm = self.xrm_
        twin = getattr(xrm, "twin_assignment_", None)
        groups = getattr(xrm, "group_labels_", None)
        if twin is None or groups is None or len(twin) != len(y_train):
            return None
        minority = _pooled_minority(y_train, groups).astype(bool)
        halves = {}
        for module, key in [(module, key) for module, key in fits if key < 1]:
            per_half = []
            for half in (0, 1):
                rows, other = twin == half, twin != half
                judged = minority[other]
                if not rows.any() or not judged.any() or judged.all():
                    per_half.append(None)
                    continue
                net = self._train_network(
                    X_train[rows], y_train[rows], {"shift": self._shifts[key][rows]},
                    None, seed, max_epochs=len(fits[module, key]["scores"]),
                    module=module,
                )["net"]
                correct = (
                    _torch.predict_logits(net, _torch.as_tensor(X_train[other]))
                    .argmax(axis=1) == y_train[other]
                )
                per_half.append((
                    float(correct[judged].mean()), float(correct[~judged].mean()),
                    int(judged.sum()),
                ))
            halves[module, key] = per_half
        return halves

    def _lift_passed(self):
        # Some candidate classifies the inferred minority beyond label noise:
        # on the validation rows, or, where they are too few, cross-fitted.
        return any(
            lift is not None and lift > 0
            for lift in (self.minority_lift_, getattr(self, "crossfit_lift_", None))
        )

    def _shortcut_learnable(self):
        # A shortcut's minority shows in the held-out mistakes and, once the
        # candidates are trained and judged, a lift says it is no label noise.
        return self._shortcut_without_group_labels() and (
            not getattr(self, "_lift_asked", False) or self._lift_passed()
        )

    def _candidate_order(self, keys):
        # Among shifts whose scores differ by noise, keep the sharpest where
        # the held-out mistakes show a shortcut's minority; where they may be
        # label noise instead, no sharpened shift, the weakest first. Where
        # the test says some network classifies that minority beyond label
        # noise (minority_lift_ above 0), the data hold a shortcut, and only
        # the sharpened shifts compete: the validation rows are drawn like
        # the training rows, mostly the shortcut's majority, and the weak
        # shifts, which keep the shortcut, win their score by the majority's
        # accuracy whenever the inferred minority there is a handful of rows.
        if self._shortcut_learnable():
            if getattr(self, "_lift_asked", False):  # "auto", inferred groups
                sharpened = [key for key in keys[::-1] if key < 1]
                if sharpened:
                    return sharpened
            return keys[::-1]
        if self._shortcut_without_group_labels():
            return [key for key in keys if key >= 1]
        return keys

    def _plateau_tolerance(self, key, scoring):
        # A shift sharper than the calibrated held-out probabilities weighs
        # the inferred minority up, and the longer the network trains the
        # more of those rows it memorizes. Where the held-out mistakes show
        # a shortcut and the worst group is a handful of validation rows,
        # among epochs whose scores differ by noise keep the earliest (as
        # the sharpest shift among candidates, see _candidate_order); a
        # larger group measures the best epoch well enough.
        temperature = self._candidate_temperature(key)
        if (
            temperature is not None
            and temperature < 1
            and self._shortcut_without_group_labels()
            and _small_validation_group(scoring)
        ):
            return _PLATEAU_TOLERANCE
        return None

    def _patience(self, key, scoring):
        # A sharpened shift weighs the inferred minority up so much that its
        # network first over-corrects (the majority's validation accuracy
        # falls) and recovers later; scored on a handful of minority rows,
        # the dip can outlast a patience of 20 epochs. Where the plateau
        # rule is on (same conditions), such a network gets at least half
        # the budget; the plateau rule still keeps the earliest of the
        # epochs that score alike.
        if self._plateau_tolerance(key, scoring) is not None:
            return max(self.n_iter_no_change, self.max_epochs // 2)
        return self.n_iter_no_change

    def _score_patience(self, key, scoring, module):
        # Where the plateau rule is on, a linear head is stopped once its best
        # score is as old as its patience, whatever its ties: with a flat
        # score the loss, mostly the majority's, keeps ranking later epochs
        # higher while the head memorizes the up-weighted minority through
        # example-specific features (interpretable data, seed 12: score 1.0
        # from epoch 29, the last of 100 epochs kept, test minority accuracy
        # 0.784; the plateau's start, epoch 5, 0.892). An MLP head's loss,
        # falling under a flat score, can still be the boundary being learned
        # (Gaussian quantiles, no shortcut: the same rule on every head cost
        # up to 0.25 of worst-class accuracy), and its ties keep counting.
        name = self.module if module is None else module
        if name == "linear" and self._plateau_tolerance(key, scoring) is not None:
            return self._patience(key, scoring)
        return None

    def _balanced_tolerance(self, key=None):
        # A weak shift (tau >= 1) is class balancing plus a little of XRM:
        # on inferred groups its epochs get the balanced guard even where
        # the mistakes look like a shortcut's minority, since they may be
        # label noise, on which a barely trained or distorted epoch scores
        # best (a coin flip maximises the worst inferred group). Only the
        # sharpened shifts there are let to give up balanced accuracy.
        temperature = self._candidate_temperature(key)
        weak = temperature is not None and temperature >= 1
        if weak and self.validation_groups_source_ == "inferred":
            return _BALANCED_TOLERANCE
        return super()._balanced_tolerance(key)

    def _balanced_candidates(self):
        # Without a sign of a shortcut the inferred groups are XRM's noise
        # and hard rows: a stronger shift must not lose balanced accuracy.
        # Once the candidates are trained, a minority that may be label noise
        # (minority_lift_ at most 0) counts as no sign of a shortcut.
        inferred = self.validation_groups_source_ == "inferred"
        return inferred and not self._shortcut_learnable()

    def _set_candidate(self, key, scores, module, module_scores):
        if key is None:  # one temperature
            key = next(iter(self._shifts))
            scores = {key: scores[None]}
        self.temperature_ = key
        self.temperature_scores_ = scores
        self.module_ = self._fitted_module() if module is None else module
        self.module_scores_ = {
            (self.module_ if m is None else m): score
            for m, score in module_scores.items()
        }
        self.shift_ = self._shifts[key]
        del self._shifts
        if self.verbose:
            print(f"{type(self).__name__}: {self._choice_summary()}")

    def _choice_summary(self):
        # What chose the shift strength and the head, for verbose fits.
        def signed(value):
            return "not measured" if value is None else f"{value:+.3f}"

        return (
            f"temperature {self.temperature_:g}, {self.module_} head; held-out "
            f"mistake spread {self.heldout_mistake_spread_:.3f} (a shortcut's "
            f"minority at most {MAX_MISTAKE_SPREAD:g}), minority lift "
            f"{signed(self.minority_lift_)}, cross-fitted "
            f"{signed(self.crossfit_lift_)}"
        )

    def infer_group_labels(self, X, y):
        """Infer the groups of labelled data with the fitted XRM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input samples.
        y : array-like of shape (n_samples,)
            Their labels.

        Returns
        -------
        group_labels : ndarray of shape (n_samples,)
            ``2 * class_index + mistake``, see
            :meth:`XRMEstimator.infer_group_labels`.
        """
        check_is_fitted(self)
        if self.xrm_ is None:
            raise AttributeError(
                "This MATClassifier was fitted with precomputed `heldout_logits` "
                "and has no XRM to infer groups with."
            )
        return self.xrm_.infer_group_labels(X, y)



# The candidate heads of module="auto", the simplest first. With at least as
# many features as training rows only the first competes: rows in general
# position are then linearly separable whatever their labels, so the linear
# head can already fit every training row, a shortcut's minority included;
# the MLP adds no fit, only another way to interpolate, and which of two
# interpolating heads generalises better is decided on a handful of
# inferred-minority validation rows, mostly by noise. The simpler head costs
# a fraction (the MAT paper's interpretable data: 1,800 features on 800
# rows; scikit-learn's LinearSVC(dual="auto") also chooses by n_samples
# against n_features).
AUTO_MODULES = ("linear", "mlp")

# The candidates of temperature="auto", weakest shift first: infinity is no
# shift beyond the class prior (logit adjustment, i.e. class balancing); the
# others are relative to the calibrated held-out logits.
AUTO_TEMPERATURES = (np.inf, 2.0, 0.5, 0.25)


# temperature="auto" tries shifts sharper than the calibrated held-out
# probabilities (tau < 1) only when the held-out mistakes' calibrated
# probabilities of the true class spread over at most this range.
MAX_MISTAKE_SPREAD = 0.1

# Below this many held-out mistakes their interquartile range is scaled up
# by sqrt(MISTAKES_FOR_SPREAD / n) (see _mistake_spread).
MISTAKES_FOR_SPREAD = 20


def _mistake_spread(calibrated, y):
    """Interquartile range of p(true class) over the rows the held-out logits miss.

    ``calibrated`` are held-out logits after temperature scaling. A
    shortcut's minority is mispredicted because of the shortcut, which
    points every such row the same way: the held-out model is wrong on them
    with about the same confidence (a spread of 0.016 to 0.046 in every
    fit of the interpretable data and the coloured digits). Where nothing is
    spurious the mistakes are noise and hard rows, from confidently wrong to
    the boundary (0.16 to 0.33 in 22 of 24 fits of seven ordinary data sets
    and Adult; ``benchmarks/xrm_mistakes.py``), and there the score on
    inferred groups prefers the sharpest shift, which fits those rows at the
    others' expense.

    The range of a few values reads tighter than that of the rows they are
    drawn from, by chance: of 10 values drawn from a spread of 0.15 (the low
    end of ordinary data), the range is at most 0.1 three times in ten, of
    20 values about once in ten. Below ``MISTAKES_FOR_SPREAD`` mistakes the
    range is therefore scaled up by ``sqrt(MISTAKES_FOR_SPREAD / n)``, which
    keeps that chance near one in ten for every ``n`` (the tenth
    percentile of the range of ``n`` such values is about
    ``0.1 * sqrt(n / 20)``, ``benchmarks/spread_count.py``) and costs a
    shortcut's minority nothing down to a handful of rows: its range (0.016
    to 0.046 above) stays under ``0.1 * sqrt(n / 20)`` to 4 or 5 rows. ``inf``
    when there are fewer than 4 mistakes: no evidence.
    """
    calibrated = np.asarray(calibrated, dtype=np.float64)
    rows = np.arange(len(y))
    wrong = calibrated.argmax(axis=1) != y
    n_wrong = int(wrong.sum())
    if n_wrong < 4:
        return np.inf
    p_true = softmax(calibrated, axis=1)[rows, y][wrong]
    q25, q75 = np.quantile(p_true, [0.25, 0.75])
    return float(_scaled_for_count(q75 - q25, n_wrong))


def _scaled_for_count(spread, n_mistakes):
    """Scale the range of ``n_mistakes`` values up below ``MISTAKES_FOR_SPREAD``."""
    return spread * np.sqrt(max(1.0, MISTAKES_FOR_SPREAD / n_mistakes))


def _calibration_temperature(logits, y):
    """Return the temperature that calibrates held-out logits against labels.

    Minimises the cross-entropy of ``softmax(logits / T)`` with ``y`` over
    ``T`` (temperature scaling, Guo et al. 2017), so that the MAT
    temperature ``tau`` acts on calibrated probabilities: ``tau = 1`` trusts
    them as they are, whatever the scale of the twins' margins.
    """
    logits = np.asarray(logits, dtype=np.float64)
    rows = np.arange(len(y))
    if not np.ptp(logits, axis=1).any():
        return 1.0  # constant logits: every temperature is the same

    def loss(log_t):
        return -log_softmax(logits / np.exp(log_t), axis=1)[rows, y].mean()

    result = minimize_scalar(loss, bounds=(-7.0, 7.0), method="bounded")
    return float(np.exp(result.x))
