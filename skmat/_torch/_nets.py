"""The skorch nets: MAT's shifted loss, XRM's twins, online GroupDRO."""

import math
from collections.abc import Mapping

import torch
from skorch import NeuralNet
from skorch.dataset import unpack_data
from torch.nn import functional as F

from ..exceptions import DivergedError

_EPS = 1e-8


class _ArrayNet(NeuralNet):
    """A skorch net whose X may be a dict holding per-sample extras.

    Only ``X["X"]`` is fed to the module; the other entries (shift, sample
    index, twin assignment) travel with the batch for the loss.

    ``n_classes`` is the number of logits per row the module must return
    (``None``: unchecked). At the start of training one row goes through the
    module, so that a module of the wrong output width fails at once with
    its name, not later as an ``IndexError`` or a silent ``(n, 7)`` output.
    """

    #: The training loss may not grow beyond this factor times its first
    #: value (at least 1): cross-entropy starts near ``log K`` and healthy
    #: training only lowers it, so a thousandfold rise is divergence even
    #: while the loss is still finite (``lr=1e10`` reaches ~1e9).
    divergence_factor = 1e3

    def __init__(self, *args, n_classes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_classes = n_classes

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return super().infer(x, **fit_params)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One training pass over the batches, without per-batch bookkeeping.

        skorch notifies every callback and records every batch in the history
        (about 3 ms a step): on small data and small networks that is most of
        the cost of a fit. None of the callbacks used here reads batches, so
        the epoch records one entry, the mean training loss over the rows,
        which skorch's ``train_loss`` scoring turns into the epoch's loss.
        """
        if iterator is None:
            return
        if not training:  # not used (no skorch validation split): skorch's
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        total, rows, count = 0.0, 0, 0
        for batch in iterator:
            steps = []

            def closure(batch=batch, steps=steps):
                self._zero_grad_optimizer()
                step = self.train_step_single(batch, **fit_params)
                steps.append(step)
                return step["loss"]

            self._step_optimizer(closure)
            n = len(batch[1]) if batch[1] is not None else 1
            total = total + steps[-1]["loss"].detach() * n
            rows += n
            count += 1
        self.history.new_batch()
        self.history.record_batch(prefix + "_loss", float(total) / max(rows, 1))
        self.history.record_batch(prefix + "_batch_size", rows)
        self.history.record(prefix + "_batch_count", count)

    def _set_training(self, training=True):
        """Set the modules' mode, skipping those already in it.

        skorch calls this at every training step, and ``Module.train`` sets
        an attribute on every submodule each time: a measurable share of a
        step on small networks.
        """
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                m.training != training for m in module.modules()
            ):
                module.train(training)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        self.initial_loss_ = None
        self._check_output_width(X)

    def _check_output_width(self, X):
        """Raise a ValueError unless the module maps a row to ``n_classes`` logits."""
        x = X.get("X") if isinstance(X, Mapping) else X
        if self.n_classes is None or not isinstance(x, torch.Tensor) or not len(x):
            return
        module = self.module_
        # XRM's TwinModule gives (2, B, K), a HeadBank (H, B, K).
        twins = getattr(module, "twins", None)
        if twins is None and hasattr(module, "head_state"):
            twins = [module.head(h) for h in range(module.n_heads)]
        inner = twins[0] if twins is not None else module
        name = type(inner).__name__
        was_training = module.training
        module.eval()  # one row: no batch statistics, no dropout, no RNG
        try:
            with torch.no_grad():
                out = module(x[:1].to(self.device))
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            first_line = (str(error).splitlines() or [""])[0]
            raise ValueError(
                f"The module {name} fails on a row of X with {x.shape[1]} "
                f"features: {type(error).__name__}: {first_line}. A module class "
                "whose __init__ takes `n_features` (and `n_classes`) gets them "
                "from the data."
            ) from error
        finally:
            module.train(was_training)
        if twins is not None and isinstance(out, torch.Tensor) and out.dim():
            out = out[0]  # one twin's (head's) output: what the module returned
        if isinstance(out, torch.Tensor) and out.shape == (1, self.n_classes):
            return
        if isinstance(out, torch.Tensor):
            n_out = out.shape[-1] if out.dim() else 0
            width = f"{n_out} output{'s' * (n_out != 1)}" if out.dim() else "a scalar"
            got = f"shape {tuple(out.shape)}"
        else:
            width, got = f"a {type(out).__name__}", f"a {type(out).__name__}"
        raise ValueError(
            f"The module {name} returns {width} per row, but y has "
            f"n_classes={self.n_classes} classes: it must return one logit per "
            f"class, a tensor of shape (n_samples, {self.n_classes}); one row "
            f"gave {got}. A module class whose __init__ takes `n_classes` "
            "gets it from the data."
        )

    def check_training_loss(self, loss):
        value = float(loss.detach())
        if not math.isfinite(value):
            raise DivergedError(
                "The training loss became non-finite (NaN or inf). Lower `lr`, "
                "standardise the features (e.g. StandardScaler in a Pipeline) "
                "or use a smaller `temperature`."
            )
        initial = getattr(self, "initial_loss_", None)
        if initial is None:
            self.initial_loss_ = value
            return
        limit = self.divergence_factor * max(initial, 1.0)
        if value > limit:
            raise DivergedError(
                "Training diverged: the training loss grew over "
                f"{self.divergence_factor:g} times its value at the first step, "
                f"though it is still finite. It went from {initial:.3g} to "
                f"{value:.3g}; lower `lr` (now {self.lr:g}) or standardise the "
                "features (e.g. StandardScaler in a Pipeline)."
            )


class MATNet(_ArrayNet):
    """A net trained with the MAT logit shift added in the loss only.

    Optional per-row entries of X: ``"shift"`` (added to the logits) and
    ``"weight"`` (a weighted mean of the cross-entropy), both in training only.
    """

    def get_loss(self, y_pred, y_true, X=None, training=False):
        extras = X if training and isinstance(X, Mapping) else {}
        if "shift" in extras:
            y_pred = y_pred + extras["shift"].to(y_pred.device)
        y_true = y_true.to(y_pred.device)
        if "weight" in extras:
            weight = extras["weight"].to(y_pred.device, y_pred.dtype)
            ce = F.cross_entropy(y_pred, y_true, reduction="none")
            loss = (ce * weight).sum() / weight.sum().clamp_min(_EPS)
        else:
            loss = F.cross_entropy(y_pred, y_true)
        if training:
            self.check_training_loss(loss)
        return loss


class MultiHeadMATNet(MATNet):
    """MAT's shifted loss for a bank of candidate heads trained in one pass.

    The module returns ``(H, B, K)`` (a :class:`HeadBank`). ``X["shift"]``
    holds one shift per candidate temperature, ``(n, T, K)``, and
    ``head_shift[h]`` is the temperature of head ``h``. The loss is the sum
    over the active heads of each head's MAT loss, so each head gets its own
    gradient; the epoch's mean loss of each head is recorded as
    ``head_train_loss``.
    """

    def __init__(self, *args, head_shift=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.head_shift = head_shift

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if y_pred.dim() != 3:
            return super().get_loss(y_pred, y_true, X=X, training=training)
        extras = X if training and isinstance(X, Mapping) else {}
        y_true = y_true.to(y_pred.device)
        shift = extras.get("shift")
        weight = extras.get("weight")
        if weight is not None:
            weight = weight.to(y_pred.device, y_pred.dtype)
        active = self.module_.active
        losses = []
        for h, logits in enumerate(y_pred):
            if not active[h]:
                losses.append(logits.new_zeros(()))
                continue
            if shift is not None:
                logits = logits + shift[:, self.head_shift[h]].to(y_pred.device)
            ce = F.cross_entropy(logits, y_true, reduction="none")
            if weight is None:
                losses.append(ce.mean())
            else:
                losses.append((ce * weight).sum() / weight.sum().clamp_min(_EPS))
        losses = torch.stack(losses)
        loss = losses.sum()
        if training:
            self.check_training_loss(loss)
            total = getattr(self, "head_loss_sum_", 0.0)
            self.head_loss_sum_ = total + losses.detach() * len(y_true)
            self.head_rows_ = getattr(self, "head_rows_", 0) + len(y_true)
        return loss

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if not training or iterator is None:
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        self.head_loss_sum_, self.head_rows_ = 0.0, 0
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        mean = torch.as_tensor(self.head_loss_sum_) / max(self.head_rows_, 1)
        self.history.record("head_train_loss", mean.cpu().tolist())


def class_balanced_cross_entropy(logits, labels, mask, n_classes):
    """Sum over classes of the mean cross-entropy within each class.

    Only the rows where ``mask`` is true count.
    """
    ce = F.cross_entropy(logits, labels, reduction="none")
    maskf = mask.to(ce.dtype)
    counts = torch.zeros(n_classes, dtype=ce.dtype, device=ce.device)
    counts.index_add_(0, labels, maskf)
    weights = maskf / counts.clamp_min(1.0)[labels]
    return (ce * weights).sum()


class XRMNet(_ArrayNet):
    """Twin networks trained on their own halves with held-out label flipping.

    ``X`` is a dict with ``"X"``, ``"index"`` (row in the training set) and
    ``"twin"`` (0 or 1, the twin that trains on the row). The dynamic labels
    live in ``labels_`` and start as the true labels.
    """

    def start_labels(self, y):
        self.true_labels_ = y.clone()
        self.labels_ = y.clone()

    def flip_rate(self):
        return float((self.labels_ != self.true_labels_).float().mean())

    def class_flip_rates(self):
        """Share of flipped labels within each true class (absent class: 0)."""
        flipped = (self.labels_ != self.true_labels_).double()
        counts = torch.bincount(self.true_labels_, minlength=self.n_classes)
        sums = torch.zeros(self.n_classes, dtype=torch.float64)
        sums.index_add_(0, self.true_labels_, flipped)
        return (sums / counts.clamp_min(1)).tolist()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = unpack_data(batch)
        index = Xi["index"]
        twin = Xi["twin"].to(self.device)
        logits = self.infer(Xi, **fit_params)  # (2, B, K)
        labels = self.labels_[index].to(logits.device)
        loss = sum(
            class_balanced_cross_entropy(logits[t], labels, twin == t, self.n_classes)
            for t in (0, 1)
        )
        self.check_training_loss(loss)
        loss.backward()
        with torch.no_grad():
            rows = torch.arange(len(index), device=logits.device)
            heldout = logits[1 - twin, rows].softmax(dim=1)
            p_max, guess = heldout.max(dim=1)
            k = self.n_classes
            p_flip = (p_max - 1.0 / k) * k / (k - 1)
            flip = (torch.rand(len(index)).to(logits.device) < p_flip).cpu()
            self.labels_[index[flip]] = guess.cpu()[flip]
        return {"loss": loss, "y_pred": logits}


class GroupDRONet(MATNet):
    """A net trained with the online GroupDRO loss of Sagawa et al. (2020).

    X is a dict holding ``"X"`` and ``"group"`` (an int group id in
    ``[0, n_groups)`` per row). At each training step, with ``L_g`` the mean
    cross-entropy of the batch rows of group ``g`` (0 for groups absent from
    the batch):

    * ``q_g <- q_g * exp(eta * L_g)``, then ``q <- q / sum(q)``;
    * ``loss = sum_g q_g L_g``.

    ``q_`` starts uniform at :meth:`initialize` and is not differentiated
    through. Outside training (or without ``"group"``) the loss is MATNet's.
    """

    def __init__(self, *args, n_groups=1, eta=0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_groups = n_groups
        self.eta = eta

    def initialize(self):
        self.q_ = torch.full((self.n_groups,), 1.0 / self.n_groups)
        return super().initialize()

    def group_losses(self, y_pred, y_true, group):
        """Mean cross-entropy per group over the batch, and the group counts."""
        ce = F.cross_entropy(y_pred, y_true, reduction="none")
        sums = torch.zeros(self.n_groups, dtype=ce.dtype, device=ce.device)
        sums = sums.index_add(0, group, ce)
        counts = torch.zeros(self.n_groups, dtype=ce.dtype, device=ce.device)
        counts = counts.index_add(0, group, torch.ones_like(ce))
        return sums / counts.clamp_min(1.0), counts

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (training and isinstance(X, Mapping) and "group" in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = y_true.to(y_pred.device)
        group = X["group"].to(y_pred.device, torch.long)
        losses, _ = self.group_losses(y_pred, y_true, group)
        with torch.no_grad():
            # q * exp(eta * L), normalised; in log space so it cannot overflow.
            log_q = torch.log(self.q_.to(losses.device, losses.dtype).clamp_min(1e-30))
            q = torch.softmax(log_q + self.eta * losses.detach(), dim=0)
            self.q_ = q
        loss = (q * losses).sum()
        self.check_training_loss(loss)
        return loss
