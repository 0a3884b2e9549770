"""Torch modules, optimizers and the checks of the torch-typed settings."""

import functools
import inspect

import torch
from torch import nn
from torch.nn import functional as F


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


def start_at_zero(module):
    """Set the weights and bias of a :class:`LinearModule` to zero, in place.

    Returns whether ``module`` is one; any other module is left as built (a
    hidden layer needs its random start to break the symmetry of its units,
    a linear model does not: scikit-learn's linear models start at zero).
    """
    if type(module) is not LinearModule:
        return False
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.zero_()
    return True


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


def state_copy(module):
    """Return a copy of ``module``'s state dict, on the CPU.

    The states kept while training (the best epoch's, the starts of a
    plateau, one per candidate head) then take no memory on a GPU; on the
    CPU the copy is a plain clone.
    """
    return {
        k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()
    }


def _stack_key(module):
    """Architecture of a built-in head, or None when it cannot be stacked.

    A :class:`LinearModule` or :class:`MLPModule` is its linear layers (all
    with a bias), ReLU between them and one dropout rate: heads with the
    same key can run as one batched network.
    """
    if type(module) not in (LinearModule, MLPModule):
        return None
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if any(layer.bias is None for layer in linears):
        return None
    dropout = [m.p for m in module.modules() if isinstance(m, nn.Dropout)]
    shapes = tuple((layer.in_features, layer.out_features) for layer in linears)
    return shapes, (dropout[0] if dropout else 0.0)


class _StackedHeads(nn.Module):
    """Several heads of one built-in architecture as batched matrix products.

    Layer ``l`` of head ``g`` is ``weights[l][g]`` and ``biases[l][g]``:
    the heads share no parameter, and one batched product replaces a loop
    of small ones, whose per-call cost dominates on small data.
    """

    def __init__(self, heads, dropout):
        super().__init__()
        layers = [
            [m for m in head.modules() if isinstance(m, nn.Linear)] for head in heads
        ]
        self.weights = nn.ParameterList([
            nn.Parameter(torch.stack([h[i].weight.detach() for h in layers]).clone())
            for i in range(len(layers[0]))
        ])
        self.biases = nn.ParameterList([
            nn.Parameter(torch.stack([h[i].bias.detach() for h in layers]).clone())
            for i in range(len(layers[0]))
        ])
        self.dropout = dropout

    def forward(self, X, positions=None):
        out = X
        last = len(self.weights) - 1
        for i, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            if positions is not None:
                index = torch.as_tensor(positions, device=weight.device)
                weight, bias = weight[index], bias[index]
            # (B, in) or (G, B, in) times (G, in, out), plus (G, 1, out).
            out = torch.matmul(out, weight.transpose(1, 2)) + bias.unsqueeze(1)
            if i < last:
                out = torch.relu(out)
                if self.dropout:
                    out = F.dropout(out, self.dropout, self.training)
        return out

    def head_state(self, position, template):
        """Return head ``position``'s state dict in the format of ``template``."""
        linears = [m for m in template.modules() if isinstance(m, nn.Linear)]
        with torch.no_grad():
            for layer, weight, bias in zip(
                linears, self.weights, self.biases, strict=True
            ):
                layer.weight.copy_(weight[position])
                layer.bias.copy_(bias[position])
        return state_copy(template)


class HeadBank(nn.Module):
    """Independent heads on the same input; forward returns ``(H, B, K)``.

    Candidate networks trained in one pass over the data: the heads share no
    parameter, so the sum of their losses gives each head the gradient it
    would get alone. Each head is built under the same torch seed (as when
    each candidate was trained alone from ``seed``), so that candidates of
    the same architecture start from the same weights. Heads of the same
    built-in architecture run as one batched network; other modules run one
    after another. A head switched off (``active[h] = False``, once its
    early stopping has ended) is not computed and its output is zeros: its
    weights no longer matter (the callback has kept those of its best
    epoch), though a stacked head's may still drift with the optimizer's
    momentum. ``head_state(h)`` is head ``h``'s state dict in the format of
    its own module.
    """

    def __init__(self, make_heads, seed=0):
        super().__init__()
        heads = []
        for make in make_heads:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                heads.append(make())
        groups = {}  # stack key (or head index) -> head indices
        for h, head in enumerate(heads):
            groups.setdefault(_stack_key(head) or h, []).append(h)
        self.groups = nn.ModuleList()
        self._members = []  # per group: its head indices
        for key, members in groups.items():
            if isinstance(key, tuple):
                group = _StackedHeads([heads[h] for h in members], key[1])
            else:
                group = heads[members[0]]
            self.groups.append(group)
            self._members.append(members)
        # Unregistered: the modules whose format head_state returns.
        self._templates = heads
        self.n_heads = len(heads)
        self.active = [True] * len(heads)

    @classmethod
    def factory(cls, make_heads, seed=0):
        """Return a picklable zero-argument factory of the bank."""
        return functools.partial(cls, make_heads=list(make_heads), seed=seed)

    def forward(self, X):
        active = self.active if any(self.active) else [True] * self.n_heads
        outputs = [None] * self.n_heads
        for group, members in zip(self.groups, self._members, strict=True):
            on = [i for i, h in enumerate(members) if active[h]]
            if not on:
                continue
            if isinstance(group, _StackedHeads):
                positions = None if len(on) == len(members) else on
                for i, out in zip(on, group(X, positions), strict=True):
                    outputs[members[i]] = out
            else:
                outputs[members[0]] = group(X)
        template = next(out for out in outputs if out is not None)
        return torch.stack(
            [torch.zeros_like(template) if out is None else out for out in outputs]
        )

    def head(self, h):
        """Head ``h``'s own module (weights not kept up to date when stacked)."""
        return self._templates[h]

    def head_state(self, h):
        """Return a copy of head ``h``'s state dict, in its own module's format."""
        for group, members in zip(self.groups, self._members, strict=True):
            if h in members:
                if isinstance(group, _StackedHeads):
                    return group.head_state(members.index(h), self._templates[h])
                return state_copy(group)
        raise IndexError(h)


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
    if "foreach" in params:
        # One call per step for all parameters instead of one per tensor,
        # the same update of each element (SGD, Adam and AdamW fits were
        # checked bit-identical), less per-step overhead on the CPU, where
        # torch's default is the per-tensor loop (on CUDA it is this one).
        kwargs["foreach"] = True
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
