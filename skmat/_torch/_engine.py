"""Building, fitting, exporting and reading skorch nets; MAT's shift."""

import copy
import io
import warnings

import numpy as np
import torch
from skorch.history import History
from torch import nn
from torch.nn import functional as F

from ._data import BatchIterator
from ._modules import optimizer_kwargs, resolve_optimizer, start_at_zero
from ._nets import _EPS, XRMNet


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
    epoch_rows=None,
    **kwargs,
):
    """Build an initialised skorch net with the fast batch iterator.

    ``epoch_rows``: rows a training epoch draws where the data hold fewer
    (:class:`BatchIterator`); None, one pass over the rows.
    """
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
        iterator_train__epoch_rows=epoch_rows,
        iterator_valid=BatchIterator,
        train_split=None,
        callbacks=list(callbacks),
        device=device,
        verbose=0,
        # verbose=0 prints nothing, yet skorch's PrintLog still formats a
        # table of the history at every epoch; the package reports progress
        # itself (EpochProgress), so the log is dropped.
        callbacks__print_log=None,
        **opt_kwargs,
        **kwargs,
    )
    return net


def fit_net(net, X, y, *, seed, zero_start=False):
    """Initialise and fit ``net`` under its own torch random state.

    With ``zero_start``, a linear module starts from zero weights instead of
    its random initialisation (:func:`start_at_zero`).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net.initialize()
        if zero_start:
            start_at_zero(net.module_)
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


def head_net(net, state, history):
    """Initialise ``net`` with a head's weights ``state`` and its ``history``.

    Makes a candidate head trained in a :class:`HeadBank` the skorch net it
    would have been if trained alone. The initial weights it draws are
    replaced, so they are drawn without touching the global torch state.
    """
    with torch.random.fork_rng(devices=[]):
        net.initialize()
    net.module_.load_state_dict(state)
    net.history_ = History(history)
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


def predict_logits(net, X, batch_size=4096, exact=False):
    """Logits of ``net`` on the float32 tensor ``X`` as a numpy array.

    ``exact``: compute in float64 on a copy of the module, so that a row's
    logits do not depend on the rows predicted with it. In float32 the
    kernels that a batch's size selects sum in different orders, and the
    probabilities of a well-trained network move by about 1e-7 between a
    row predicted alone and among others (scikit-learn's
    ``check_methods_subset_invariance``). Not on Apple's ``mps`` devices,
    which have no float64.
    """
    module = net.module_
    dtype = None
    if exact and torch.device(net.device).type != "mps":
        module, dtype = copy.deepcopy(module).double(), torch.float64
    was_training = module.training
    module.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            xb = X[start:start + batch_size].to(net.device, dtype=dtype)
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


def dynamic_labels(net):
    """XRM's dynamic (flipped) labels as a numpy array."""
    return net.labels_.cpu().numpy()


def group_weights(net):
    """GroupDRO's group weights ``q`` as a float64 numpy array."""
    return net.q_.detach().cpu().numpy().astype(np.float64)


def set_num_threads(n_threads):
    """Set torch's intra-op thread count; return the previous one."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    return previous
