"""Torch modules, optimizers and the checks of the torch-typed settings."""

import functools
import inspect

import torch
from torch import nn


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
    """Two independent copies of a module; forward returns ``(2, B, K)``.

    With ``zero_output=True`` the output layer of each twin (its last
    ``nn.Linear``) starts at zero, so that both twins start from uniform
    predictions. XRM's echo chamber flips a label with a probability that
    grows with the held-out twin's confidence: a randomly initialised twin
    can be confidently wrong before it has seen a label (easily separable
    data, large margins) and invert a whole class. From zero, labels are only
    flipped once the twins have learnt something from them.
    """

    def __init__(self, make_module, zero_output=False):
        super().__init__()
        self.twins = nn.ModuleList([make_module(), make_module()])
        if zero_output:
            for twin in self.twins:
                linear = [m for m in twin.modules() if isinstance(m, nn.Linear)]
                if linear:
                    nn.init.zeros_(linear[-1].weight)
                    if linear[-1].bias is not None:
                        nn.init.zeros_(linear[-1].bias)

    @classmethod
    def factory(cls, make_module, zero_output=False):
        """Return a picklable zero-argument factory of twins."""
        return functools.partial(cls, make_module=make_module, zero_output=zero_output)

    def forward(self, X):
        return torch.stack([twin(X) for twin in self.twins])


class HeadBank(nn.Module):
    """Independent heads on the same input; forward returns ``(H, B, K)``.

    Candidate networks trained in one pass over the data: the heads share no
    parameter, so the sum of their losses gives each head the gradient it
    would get alone. Each head is built under the same torch seed (as when
    each candidate was trained alone from ``seed``), so that candidates of
    the same architecture start from the same weights. A head switched off
    (``active[h] = False``, once its early stopping has ended) is not
    computed: its output is zeros and its parameters get no gradient, so an
    optimizer leaves them as they are.
    """

    def __init__(self, make_heads, seed=0):
        super().__init__()
        heads = []
        for make in make_heads:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                heads.append(make())
        self.heads = nn.ModuleList(heads)
        self.active = [True] * len(heads)

    @classmethod
    def factory(cls, make_heads, seed=0):
        """Return a picklable zero-argument factory of the bank."""
        return functools.partial(cls, make_heads=list(make_heads), seed=seed)

    def forward(self, X):
        active = self.active if any(self.active) else [True] * len(self.heads)
        outputs = [
            head(X) if on else None
            for head, on in zip(self.heads, active, strict=True)
        ]
        template = next(out for out in outputs if out is not None)
        return torch.stack(
            [torch.zeros_like(template) if out is None else out for out in outputs]
        )


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


def _is_module_class(value):
    return isinstance(value, type) and issubclass(value, nn.Module)


def _is_optimizer_class(value):
    return isinstance(value, type) and issubclass(value, torch.optim.Optimizer)


def check_settings(module, optimizer, device):
    """Check the settings whose valid values are torch types or devices.

    ``_parameter_constraints`` checks the names and that classes are
    callable; this checks that a class is an ``nn.Module`` or an optimizer
    subclass and that the device exists. Raises ``ValueError``.
    """
    if not isinstance(module, str) and not _is_module_class(module):
        raise ValueError(
            "`module` must be 'linear', 'mlp' or a torch.nn.Module subclass; "
            f"got {module!r}."
        )
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"`device` is not a torch device: {error}") from None
    if torch_device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available on this "
            "machine; use device='cpu'."
        )
    if not isinstance(optimizer, str) and not _is_optimizer_class(optimizer):
        raise ValueError(
            "`optimizer` must be 'sgd', 'adam', 'adamw' or a "
            f"torch.optim.Optimizer subclass; got {optimizer!r}."
        )
