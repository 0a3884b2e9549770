"""Checks of the torch-typed settings: module and optimizer classes, device.

The two constraints plug into scikit-learn's ``_parameter_constraints``, so
that the message of a rejected value says what is accepted (a subclass of
``torch.nn.Module``, not any callable).
"""

import torch
from sklearn.utils._param_validation import HasMethods, _Constraint
from torch import nn


class _SubclassOf(HasMethods):
    """A class deriving from ``base`` (the class itself, not an instance).

    Derives from ``HasMethods`` only because scikit-learn's parameter
    validation accepts no other custom constraint type; the check and the
    message are its own.
    """

    def __init__(self, base, name):
        _Constraint.__init__(self)
        self.methods = []
        self.base = base
        self.name = name

    def is_satisfied_by(self, val):
        return isinstance(val, type) and issubclass(val, self.base)

    def __str__(self):
        return f"a {self.name} subclass (the class, not an instance)"


def module_class():
    """Constraint: a ``torch.nn.Module`` subclass."""
    return _SubclassOf(nn.Module, "torch.nn.Module")


def optimizer_class():
    """Constraint: a ``torch.optim.Optimizer`` subclass."""
    return _SubclassOf(torch.optim.Optimizer, "torch.optim.Optimizer")


_DEVICE_FORMS = "'cpu', 'cuda' or 'cuda:N' (or a torch.device)"


def check_device(device):
    """Raise a ``ValueError`` unless ``device`` names a usable torch device.

    Accepts ``"cpu"``, ``"cuda"``, ``"cuda:N"`` and the other device types
    that torch can allocate a tensor on here (``"mps"`` on a Mac with Metal).
    """
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"`device` must be {_DEVICE_FORMS}; got {device!r}.")
    try:
        torch_device = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as error:
        first_line = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            f"`device` must be {_DEVICE_FORMS}; {device!r} is not a torch "
            f"device ({first_line})."
        ) from None
    kind = torch_device.type
    if kind == "cpu":
        return
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} but CUDA is not available on this machine; "
                "use device='cpu'."
            )
        count = torch.cuda.device_count()
        if torch_device.index is not None and torch_device.index >= count:
            raise ValueError(
                f"device={device!r} but this machine has {count} CUDA "
                f"device(s), numbered 0 to {count - 1}."
            )
        return
    if kind == "meta":
        raise ValueError(
            f"device={device!r} holds no data and cannot train; use "
            f"{_DEVICE_FORMS}."
        )
    try:
        torch.empty(1, device=torch_device)
    except Exception:  # noqa: BLE001 - torch raises various types here
        raise ValueError(
            f"device={device!r} is not available on this machine; use "
            "device='cpu' (or 'cuda' where CUDA is available)."
        ) from None
