"""skorch callbacks: flip rate, worst-group validation, progress, stopping."""

import numpy as np
from scipy.special import logsumexp
from skorch.callbacks import Callback, EarlyStopping

from ..utils._selection import LOSS_TIE_BREAK_WEIGHT, ValidationScorer
from ._engine import predict_logits
from ._modules import state_copy


class FlipRateRecorder(Callback):
    """Record XRM's flip rates each epoch and keep the twins of the chosen epoch.

    ``keep="flip_rate"`` keeps the epoch with the highest flip rate;
    ``keep="last"`` keeps the last *sound* epoch: one where no class has more
    than ``max_class_flip`` of its labels flipped. Past that share the echo
    chamber has inverted the class or relabelled it at random, and the
    held-out logits no longer single out a minority. ``net.runaway_`` tells
    whether the last epoch was unsound; ``net.sound_epoch_`` is the epoch
    restored, 0 when the last one is kept (it was sound, or none was).
    """

    def __init__(self, keep="last", max_class_flip=0.5):
        self.keep = keep
        self.max_class_flip = max_class_flip

    def on_train_begin(self, net, **kwargs):
        self.best_rate_ = -1.0
        self.best_state_ = None
        self.best_labels_ = None
        self.best_epoch_ = 0

    def _snapshot(self, net):
        self.best_state_ = state_copy(net.module_)
        self.best_labels_ = net.labels_.clone()
        self.best_epoch_ = len(net.history)

    def on_epoch_end(self, net, **kwargs):
        rate = net.flip_rate()
        by_class = net.class_flip_rates()
        net.history.record("flip_rate", rate)
        net.history.record("max_class_flip_rate", max(by_class))
        sound = max(by_class) <= self.max_class_flip
        if self.keep == "flip_rate":
            if rate > self.best_rate_ and sound:
                self.best_rate_ = rate
                self._snapshot(net)
        elif sound:
            self._snapshot(net)

    def on_train_end(self, net, **kwargs):
        last = net.history[-1, "max_class_flip_rate"]
        net.runaway_ = last > self.max_class_flip
        restore = self.best_state_ is not None and (
            self.keep == "flip_rate" or net.runaway_
        )
        net.sound_epoch_ = self.best_epoch_ if restore else 0
        if restore:
            net.module_.load_state_dict(self.best_state_)
            net.labels_ = self.best_labels_
        self.best_state_ = self.best_labels_ = None


def _validation_record(logits, y_valid, scorer):
    """Score, rank, accuracies and loss of validation logits.

    ``scorer`` is the :class:`~skmat.utils._selection.ValidationScorer` of
    the rows ``y_valid``. The rank is the score with small tie-breaks
    (balanced accuracy, then the validation loss): among epochs with the same
    accuracies, the better fitted one (small validation sets score in coarse
    steps, and an epoch of a barely trained network can tie). The last two
    are the accuracies on the pooled inferred minority and on the other rows
    (NaN unless the groups are inferred).
    """
    logits = np.asarray(logits, dtype=np.float64)
    y_pred = logits.argmax(axis=1)
    score, rank, balanced = scorer.score(y_pred)
    rows = np.arange(len(y_pred))
    log_proba = logits - logsumexp(logits, axis=1, keepdims=True)
    loss = float(-log_proba[rows, y_valid].mean())
    rank -= LOSS_TIE_BREAK_WEIGHT * min(loss, 100.0)
    accuracy = float((y_pred == y_valid).astype(np.float64).mean())
    minority, majority = scorer.pooled_accuracies(y_pred)
    return score, rank, accuracy, balanced, loss, minority, majority


_RECORD_KEYS = ("valid_score", "valid_rank", "valid_acc", "valid_balanced_acc",
                "valid_loss", "valid_minority_acc", "valid_majority_acc")


class _BalancedRank:
    """Epoch ranks that never keep an epoch much less balanced than the run's best.

    With ``tolerance`` None the rank is returned unchanged. Otherwise an
    epoch whose balanced accuracy is more than ``tolerance`` below the best
    balanced accuracy seen so far in the run cannot be the best epoch: its
    rank is put below every epoch within the tolerance. Once a later epoch
    raises that best so far that the kept epoch falls out of the tolerance,
    a new *era* starts, whose epochs rank above every earlier one, so that
    the epoch that started it is kept until a better one within the
    tolerance comes. The ranks stay one increasing scale, which early
    stopping can monitor.
    """

    # Larger than the spread of the ranks (scores in [0, 1] plus small
    # tie-breaks), so that eras and eligibility dominate the order.
    _ERA = 10.0

    def __init__(self, tolerance=None):
        self.tolerance = tolerance
        self.top_balanced = -np.inf
        self.best_balanced = -np.inf
        self.best_rank = -np.inf
        self.era = 0

    def __call__(self, rank, balanced):
        if self.tolerance is None:
            return rank
        self.top_balanced = max(self.top_balanced, balanced)
        floor = self.top_balanced - self.tolerance
        if self.best_balanced < floor:
            self.era += 1  # the kept epoch is out: this one starts an era
        offset = 0.0 if balanced >= floor else -self._ERA / 2
        guarded = self.era * self._ERA + offset + rank
        if guarded > self.best_rank:
            self.best_rank, self.best_balanced = guarded, balanced
        return guarded


class _PlateauStart:
    """The first epoch of the best epoch's plateau: the earliest that scores alike.

    As the one-standard-error rule, for epochs: the epochs that score
    within ``tolerance`` of the best, without a break, up to the best one
    differ by less than the noise of a handful of validation rows, and the
    earliest of them has trained, and memorized, least. An epoch within the
    tolerance but cut off from the best by a worse one is not taken: it is
    a lucky epoch of a run still learning, not the start of its plateau.
    ``kept`` is ``(epoch, score, state)``, ``top`` the best score and
    ``top_epoch`` the epoch that first scored it.

    Only the states of epochs that can still start a plateau are copied:
    an epoch that beats the one before it, as long as no later epoch has
    scored as low as that one.
    """

    def __init__(self, tolerance):
        self.tolerance = tolerance
        self.top = None
        self.top_epoch = None
        self.kept = None
        self._last = -np.inf
        self._starts = []  # (epoch, score, state, score of the epoch before)

    def update(self, epoch, score, state):
        """Record an epoch's score; ``state()`` returns its weights (called lazily)."""
        while self._starts and self._starts[-1][3] >= score:
            self._starts.pop()
        if score > self._last:
            self._starts.append((epoch, score, state(), self._last))
        self._last = score
        if self.top is None or score > self.top:
            self.top, self.top_epoch = score, epoch
            floor = score - self.tolerance
            # The plateau starts after the last epoch that scored below the floor.
            first = max(i for i, start in enumerate(self._starts) if start[3] < floor)
            del self._starts[:first]
            self.kept = self._starts[0][:3]


class GroupValidation(Callback):
    """Score the network on a fixed validation set every epoch.

    ``source`` and ``groups`` say what is scored (see
    :func:`skmat.utils._selection.validation_score`): ``"group_labels"``
    (worst-group accuracy on true groups), ``"inferred"`` (XRM's groups) or
    ``"class"`` (worst-class accuracy). Records ``valid_score``, the score,
    ``valid_rank``, the score with a small tie-break (what early stopping
    monitors: balanced accuracy, then the validation loss break ties),
    ``valid_acc``, ``valid_balanced_acc``, ``valid_loss`` and, on inferred
    groups, ``valid_minority_acc`` and ``valid_majority_acc`` (the pooled
    inferred minority and the other rows; NaN otherwise).
    ``initial_score_`` and ``initial_balanced_accuracy_`` hold the score and
    the balanced accuracy of the network before its first step.
    With ``balanced_tolerance``, an epoch whose balanced accuracy is more
    than that below the best of the run so far ranks below every epoch
    within it (see :class:`_BalancedRank`). With ``plateau_tolerance``,
    ``plateau_.kept`` is the first epoch of the best epoch's plateau (see
    :class:`_PlateauStart`), for the caller to restore, and with
    ``score_patience`` too training ends that many epochs after the best
    score, whatever the ties (see :func:`_past_plateau`), and
    ``past_plateau_`` says so.
    """

    def __init__(self, X_valid, y_valid, groups, source="class",
                 balanced_tolerance=None, plateau_tolerance=None,
                 score_patience=None):
        self.X_valid = X_valid
        self.y_valid = y_valid
        self.groups = groups
        self.source = source
        self.balanced_tolerance = balanced_tolerance
        self.plateau_tolerance = plateau_tolerance
        self.score_patience = score_patience

    def _score(self, net):
        logits = predict_logits(net, self.X_valid)
        return _validation_record(logits, self.y_valid, self.scorer_)

    def on_train_begin(self, net, **kwargs):
        self.scorer_ = ValidationScorer(self.y_valid, self.groups, self.source)
        self.rank_ = _BalancedRank(self.balanced_tolerance)
        self.past_plateau_ = False
        self.plateau_ = (
            None if self.plateau_tolerance is None
            else _PlateauStart(self.plateau_tolerance)
        )
        if not len(net.history) or "valid_score" not in net.history[-1]:
            record = self._score(net)
            self.initial_score_, self.initial_balanced_accuracy_ = record[0], record[3]

    def on_epoch_end(self, net, **kwargs):
        record = list(self._score(net))
        record[1] = self.rank_(record[1], record[3])
        for key, value in zip(_RECORD_KEYS, record, strict=True):
            net.history.record(key, value)
        if self.plateau_ is not None:
            self.plateau_.update(
                len(net.history), record[0], lambda: state_copy(net.module_)
            )
            if _past_plateau(self.plateau_, len(net.history), self.score_patience):
                self.past_plateau_ = True
                raise KeyboardInterrupt  # skorch ends training

    def on_train_end(self, net, **kwargs):
        # Do not keep a copy of the validation data inside the fitted net.
        self.X_valid = self.y_valid = self.groups = self.scorer_ = None


class HeadsValidation(Callback):
    """Validation and early stopping of each head of a :class:`HeadBank`.

    Each head is scored as :class:`GroupValidation` scores a network and
    stopped as :func:`early_stopping` stops one: after ``patience`` epochs
    (one number for every head, or a list of one per head) without a better
    ``valid_rank``, the head is switched off and its best
    epoch's weights kept; training ends when every head has stopped. After
    training, ``records_[h]`` holds head ``h``'s validation records (dicts
    with the keys of :class:`GroupValidation`) up to its stopping epoch,
    ``best_epoch_[h]`` its best epoch (1-based), ``best_state_[h]`` the
    head's weights at that epoch and ``initial_score_[h]`` and
    ``initial_balanced_accuracy_[h]`` the score and the balanced accuracy of
    the untrained head. ``balanced_tolerance`` (one for every head, or a list of
    one per head) guards each head's ranks as in :class:`GroupValidation`.
    With ``plateau_tolerance`` (one for every
    head, or a list of one per head, None for the best epoch), a head that
    early stopping ends keeps the first epoch of its best epoch's plateau
    (see :class:`_PlateauStart`), and ``top_score_[h]`` is its best score;
    with ``score_patience`` (likewise) such a head is also ended that many
    epochs after its best *score*, whatever its ties (see
    :func:`_past_plateau`). A head still improving when the epochs run out
    keeps its best epoch.
    """

    def __init__(self, X_valid, y_valid, groups, source="class", patience=None,
                 balanced_tolerance=None, plateau_tolerance=None,
                 score_patience=None):
        self.X_valid = X_valid
        self.y_valid = y_valid
        self.groups = groups
        self.source = source
        self.patience = patience
        self.balanced_tolerance = balanced_tolerance
        self.plateau_tolerance = plateau_tolerance
        self.score_patience = score_patience

    def _records(self, net):
        logits = predict_logits(net, self.X_valid)  # (H, n_valid, K)
        return [_validation_record(head, self.y_valid, self.scorer_) for head in logits]

    def on_train_begin(self, net, **kwargs):
        self.scorer_ = ValidationScorer(self.y_valid, self.groups, self.source)
        n_heads = net.module_.n_heads
        initial = self._records(net)
        self.initial_score_ = [record[0] for record in initial]
        self.initial_balanced_accuracy_ = [record[3] for record in initial]
        self.records_ = [[] for _ in range(n_heads)]
        self.best_rank_ = [-np.inf] * n_heads
        self.best_epoch_ = [0] * n_heads
        self.best_state_ = [None] * n_heads
        self.misses_ = [0] * n_heads
        self.ranks_ = [
            _BalancedRank(tolerance)
            for tolerance in _per_head(self.balanced_tolerance, n_heads)
        ]
        self.patience_ = _per_head(self.patience, n_heads)
        self.score_patience_ = _per_head(self.score_patience, n_heads)
        tolerances = _per_head(self.plateau_tolerance, n_heads)
        self.plateau_ = [
            None if tolerance is None else _PlateauStart(tolerance)
            for tolerance in tolerances
        ]
        self.top_score_ = [None] * n_heads

    def on_epoch_end(self, net, **kwargs):
        bank = net.module_
        records = self._records(net)
        epoch = len(net.history)
        for h, record in enumerate(records):
            if not bank.active[h]:
                continue
            rank = self.ranks_[h](record[1], record[3])
            record = (record[0], rank, *record[2:])
            self.records_[h].append(dict(zip(_RECORD_KEYS, record, strict=True)))
            # One copy of the head's weights this epoch, made only if the
            # best rank or the plateau needs it (neither changes it).
            copies = []

            def state(h=h, copies=copies):
                if not copies:
                    copies.append(bank.head_state(h))
                return copies[0]

            if rank > self.best_rank_[h]:
                self.best_rank_[h], self.best_epoch_[h] = rank, epoch
                self.misses_[h] = 0
                self.best_state_[h] = state()
            else:
                self.misses_[h] += 1
            plateau = self.plateau_[h]
            if plateau is not None:
                plateau.update(epoch, record[0], state)
            if (
                self.patience_[h] is not None and self.misses_[h] >= self.patience_[h]
            ) or _past_plateau(plateau, epoch, self.score_patience_[h]):
                bank.active[h] = False
                if plateau is not None:
                    # Stopped past its best: the first epoch of its plateau.
                    self.best_epoch_[h], _, self.best_state_[h] = plateau.kept
                    self.top_score_[h] = plateau.top
        if not any(bank.active):
            raise KeyboardInterrupt

    def on_train_end(self, net, **kwargs):
        # Do not keep a copy of the validation data inside the fitted net.
        self.X_valid = self.y_valid = self.groups = self.scorer_ = None


def _past_plateau(plateau, n_epochs, patience):
    """Whether a run with a plateau rule is past its best score by ``patience``.

    Its tie-breaks (balanced accuracy, then the loss, mostly the majority's)
    can rank later epochs of a flat score higher for as long as the network
    trains on, which is what the plateau rule ignores: with this patience,
    the run has stopped improving once its best *score* is that old.
    """
    return (
        plateau is not None
        and patience is not None
        and n_epochs - plateau.top_epoch >= patience
    )


def _per_head(value, n_heads):
    """Return one value per head of a setting given once or as a list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value] * n_heads


class EpochProgress(Callback):
    """A tqdm progress bar over epochs, with the latest scores as postfix."""

    def __init__(self, desc, keys=("train_loss", "valid_score", "flip_rate")):
        self.desc = desc
        self.keys = keys

    def on_train_begin(self, net, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, unit="epoch",
                         leave=False)

    def on_epoch_end(self, net, **kwargs):
        last = net.history[-1]
        self.bar_.set_postfix(
            {k: f"{last[k]:.3f}" for k in self.keys if k in last}, refresh=False
        )
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        del self.bar_


def early_stopping(patience, monitor="valid_rank"):
    """Stop on the validation metric and restore the best epoch's weights."""
    return EarlyStopping(
        monitor=monitor,
        patience=patience,
        lower_is_better=False,
        threshold=0.0,
        threshold_mode="abs",
        load_best=True,
        sink=_silent,
    )


def _silent(*args, **kwargs):
    """Swallow skorch's messages; progress is reported by the estimators."""
