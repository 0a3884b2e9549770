"""Torch and skorch internals shared by the estimators.

Nothing in this module is public. The scikit-learn facing classes call the
functions here and never touch torch tensors themselves.
"""

import functools
import inspect
import io
import math
import warnings
from collections.abc import Mapping

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.dataset import unpack_data
from skorch.history import History
from torch import nn
from torch.nn import functional as F

from .exceptions import DivergedError

_EPS = 1e-8


# --------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------
class LinearModule(nn.Module):
    """A single linear layer ``n_features -> n_classes``."""

    def __init__(self, n_features, n_classes, bias=True):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes, bias=bias)

    def forward(self, X):
        return self.linear(X)


class MLPModule(nn.Module):
    """A multilayer perceptron with ReLU activations."""

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(256,), dropout=0.0):
        super().__init__()
        layers = []
        n_in = n_features
        for width in hidden_layer_sizes:
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            n_in = width
        layers.append(nn.Linear(n_in, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)


class TwinModule(nn.Module):
    """Two independent copies of a module; forward returns ``(2, B, K)``."""

    def __init__(self, make_module):
        super().__init__()
        self.twins = nn.ModuleList([make_module(), make_module()])

    @classmethod
    def factory(cls, make_module):
        """Return a picklable zero-argument factory of twins."""
        return functools.partial(cls, make_module=make_module)

    def forward(self, X):
        return torch.stack([twin(X) for twin in self.twins])


_BUILTIN_MODULES = {"linear": LinearModule, "mlp": MLPModule}


def resolve_module(module, module_params, n_features, n_classes):
    """Return a zero-argument factory building the torch module.

    ``module`` is ``"linear"``, ``"mlp"`` or an ``nn.Module`` subclass. The
    sizes ``n_features`` and ``n_classes`` are passed to any class whose
    ``__init__`` accepts them.
    """
    params = dict(module_params or {})
    cls = _BUILTIN_MODULES[module] if isinstance(module, str) else module
    signature = inspect.signature(cls.__init__).parameters
    takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in signature.values())
    for name, value in (("n_features", n_features), ("n_classes", n_classes)):
        if name in signature or takes_kwargs:
            params.setdefault(name, value)

    return functools.partial(cls, **params)


def resolve_optimizer(optimizer):
    """Map an optimizer name to its torch class."""
    if isinstance(optimizer, str):
        return {"sgd": torch.optim.SGD, "adam": torch.optim.Adam,
                "adamw": torch.optim.AdamW}[optimizer.lower()]
    return optimizer


def optimizer_kwargs(optimizer, momentum, weight_decay):
    """Keyword arguments that the optimizer accepts."""
    params = inspect.signature(optimizer.__init__).parameters
    kwargs = {}
    if "momentum" in params:
        kwargs["momentum"] = momentum
    if "weight_decay" in params:
        kwargs["weight_decay"] = weight_decay
    return kwargs


# --------------------------------------------------------------------------
# Data path: slice whole batches instead of collating single samples
# --------------------------------------------------------------------------
def _take(X, idx):
    if isinstance(X, Mapping):
        return {key: value[idx] for key, value in X.items()}
    return X[idx]


def _length(X):
    if isinstance(X, Mapping):
        return len(next(iter(X.values())))
    return len(X)


class BatchIterator:
    """Yield ``(X_batch, y_batch)`` by indexing tensors with a batch of indices.

    Used as skorch's ``iterator_train`` and ``iterator_valid``: skorch's
    default ``DataLoader`` indexes and collates one sample at a time.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False):
        self.X, self.y = dataset.X, dataset.y
        self.n = _length(self.X)
        self.batch_size = self.n if batch_size in (None, -1) else int(batch_size)
        self.batch_size = max(1, self.batch_size)
        self.shuffle = shuffle

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __iter__(self):
        if self.shuffle and self.n > self.batch_size:
            order = torch.randperm(self.n)
        else:
            order = None
        for start in range(0, self.n, self.batch_size):
            stop = min(start + self.batch_size, self.n)
            idx = slice(start, stop) if order is None else order[start:stop]
            yb = None if self.y is None else self.y[idx]
            yield _take(self.X, idx), yb


def as_tensor(X):
    """One float32 tensor for X (no copy when X already is float32)."""
    return torch.as_tensor(np.asarray(X, dtype=np.float32))


def training_data(X, **per_row):
    """Build the dict that travels through batches: float32 X, per-row arrays.

    Integer arrays become int64 tensors (indices, labels), float arrays
    float32 tensors (shift, weights).
    """
    data = {"X": as_tensor(X)}
    for key, value in per_row.items():
        value = np.asarray(value)
        dtype = np.int64 if value.dtype.kind in "iub" else np.float32
        data[key] = torch.as_tensor(value.astype(dtype, copy=False))
    return data


def xrm_training_data(X, twin):
    """XRM's batches: X, the row index (for the dynamic labels) and the twin."""
    return training_data(X, index=np.arange(len(twin)), twin=twin)


def label_tensor(y):
    """Return encoded labels as the int64 tensor that cross-entropy takes."""
    return torch.as_tensor(np.asarray(y, dtype=np.int64))


def dynamic_labels(net):
    """XRM's dynamic (flipped) labels as a numpy array."""
    return net.labels_.cpu().numpy()


# --------------------------------------------------------------------------
# Nets
# --------------------------------------------------------------------------
class _ArrayNet(NeuralNet):
    """A skorch net whose X may be a dict holding per-sample extras.

    Only ``X["X"]`` is fed to the module; the other entries (shift, sample
    index, twin assignment) travel with the batch for the loss.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping):
            x = x["X"]
        return super().infer(x, **fit_params)

    def check_training_loss(self, loss):
        if not torch.isfinite(loss):
            raise DivergedError(
                "The training loss became non-finite (NaN or inf). Lower `lr`, "
                "standardise the features (e.g. StandardScaler in a Pipeline) "
                "or use a smaller `temperature`."
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

    def __init__(self, *args, n_classes=2, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_classes = n_classes

    def start_labels(self, y):
        self.true_labels_ = y.clone()
        self.labels_ = y.clone()

    def flip_rate(self):
        return float((self.labels_ != self.true_labels_).float().mean())

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



# --------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------
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
        logits = predict_logits(net, self.X_valid)
        correct = logits.argmax(axis=1) == self.y_valid
        groups = self.y_valid if self.groups is None else self.groups
        score = min(correct[groups == g].mean() for g in np.unique(groups))
        net.history.record(self.name, float(score))
        net.history.record("valid_acc", float(correct.mean()))

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


# --------------------------------------------------------------------------
# Building, fitting and predicting
# --------------------------------------------------------------------------
def build_net(
    net_class,
    make_module,
    *,
    optimizer,
    lr,
    momentum,
    weight_decay,
    batch_size,
    max_epochs,
    device,
    callbacks=(),
    **kwargs,
):
    """Build an initialised skorch net with the fast batch iterator."""
    optimizer = resolve_optimizer(optimizer)
    opt_kwargs = {
        f"optimizer__{k}": v
        for k, v in optimizer_kwargs(optimizer, momentum, weight_decay).items()
    }
    net = net_class(
        module=make_module,
        criterion=nn.CrossEntropyLoss,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=-1 if batch_size is None else batch_size,
        iterator_train=BatchIterator,
        iterator_train__shuffle=True,
        iterator_valid=BatchIterator,
        train_split=None,
        callbacks=list(callbacks),
        device=device,
        verbose=0,
        **opt_kwargs,
        **kwargs,
    )
    return net


def fit_net(net, X, y, *, seed):
    """Initialise and fit ``net`` under its own torch random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.initialize()
        if isinstance(net, XRMNet):
            net.start_labels(y)
        net.partial_fit(X, y)
    return net


def export_net(net):
    """Plain-data state of a fitted net: weights as bytes, history as lists.

    Holds no torch object, so that pickle and ``skops.io`` can store it and a
    model trained on a GPU loads on a machine without one.
    """
    buffer = io.BytesIO()
    state = {k: v.detach().to("cpu") for k, v in net.module_.state_dict().items()}
    torch.save(state, buffer)
    return {"module_state": buffer.getvalue(), "history": _plain(list(net.history))}


def import_net(net, exported):
    """Initialise ``net`` and load what :func:`export_net` gave."""
    device = net.device
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        warnings.warn(
            f"This model was trained with device={device!r}; CUDA is not "
            "available here, so it is loaded on the CPU.",
            UserWarning,
            stacklevel=4,
        )
        net.set_params(device="cpu")
    net.initialize()
    state = torch.load(
        io.BytesIO(exported["module_state"]), map_location=net.device,
        weights_only=True,
    )
    net.module_.load_state_dict(state)
    net.history_ = History(exported["history"])
    return net


def _plain(value):
    """Turn numpy and torch scalars inside nested lists and dicts into Python."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.generic, torch.Tensor)):
        return value.item()
    return value


def predict_logits(net, X, batch_size=4096):
    """Logits of ``net`` on the float32 tensor ``X`` as a numpy array."""
    module = net.module_
    was_training = module.training
    module.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = X[start:start + batch_size].to(net.device)
            out.append(module(xb).detach().to("cpu"))
    module.train(was_training)
    if not out:
        return np.empty((0, 0), dtype=np.float32)
    dim = 1 if out[0].dim() == 3 else 0
    return torch.cat(out, dim=dim).numpy()


def mat_shift(heldout_logits, y, temperature, n_classes):
    """Compute the MAT shift ``log sum_yhat p(yhat|x) p(y|yhat)`` per example.

    ``p(y, yhat)`` is estimated over all rows given (the paper's formula).
    Returns a float32 array of shape ``(n_samples, n_classes)``.
    """
    logits = torch.as_tensor(np.asarray(heldout_logits, dtype=np.float64))
    p_hat = torch.softmax(logits / temperature, dim=1)  # p(yhat | x_i)
    onehot = F.one_hot(torch.as_tensor(y, dtype=torch.long), n_classes).double()
    joint = onehot.T @ p_hat / len(p_hat)  # p(y, yhat), rows y
    conditional = joint / joint.sum(dim=0, keepdim=True).clamp_min(_EPS)  # p(y|yhat)
    shift = torch.log(p_hat @ conditional.T + _EPS)
    return shift.float().numpy()
