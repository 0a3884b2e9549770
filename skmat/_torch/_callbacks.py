"""skorch callbacks: flip rate, worst-group validation, progress, stopping."""

import numpy as np
from skorch.callbacks import Callback, EarlyStopping

from ..metrics import worst_class_accuracy, worst_group_accuracy
from ._engine import predict_logits


class FlipRateRecorder(Callback):
    """Record XRM's flip rate each epoch and keep the twins of its best epoch."""

    def __init__(self, keep_best=True):
        self.keep_best = keep_best

    def on_train_begin(self, net, **kwargs):
        self.best_rate_ = -1.0
        self.best_state_ = None
        self.best_labels_ = None

    def on_epoch_end(self, net, **kwargs):
        rate = net.flip_rate()
        net.history.record("flip_rate", rate)
        if rate > self.best_rate_:
            self.best_rate_ = rate
            if self.keep_best:
                self.best_state_ = {
                    k: v.detach().clone() for k, v in net.module_.state_dict().items()
                }
                self.best_labels_ = net.labels_.clone()

    def on_train_end(self, net, **kwargs):
        if self.keep_best and self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            net.labels_ = self.best_labels_


class GroupValidation(Callback):
    """Score worst-group accuracy on a fixed validation set every epoch.

    ``groups`` are integer group ids of the validation rows, or ``None`` for
    worst-class accuracy.
    """

    def __init__(self, X_valid, y_valid, groups, name="valid_wga"):
        self.X_valid = X_valid
        self.y_valid = y_valid
        self.groups = groups
        self.name = name

    def on_epoch_end(self, net, **kwargs):
        y_pred = predict_logits(net, self.X_valid).argmax(axis=1)
        if self.groups is None:
            score = worst_class_accuracy(self.y_valid, y_pred)
        else:
            score = worst_group_accuracy(
                self.y_valid, y_pred, group_labels=self.groups
            )
        net.history.record(self.name, float(score))
        net.history.record("valid_acc", float(np.mean(y_pred == self.y_valid)))

    def on_train_end(self, net, **kwargs):
        # Do not keep a copy of the validation data inside the fitted net.
        self.X_valid = self.y_valid = self.groups = None


class EpochProgress(Callback):
    """A tqdm progress bar over epochs, with the latest scores as postfix."""

    def __init__(self, desc, keys=("train_loss", "valid_wga", "flip_rate")):
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


def early_stopping(patience, monitor="valid_wga"):
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
