"""Memorization-Aware Training and XRM as scikit-learn estimators.

The estimators are imported on first access (a module-level ``__getattr__``,
as in scikit-learn), so that ``import skmat`` and the light submodules
(``skmat.metrics``, ``skmat.model_selection``, ``skmat.datasets``) do not
import torch or skorch.
"""

import importlib

__version__ = "0.1.0.dev0"

# Public name -> private module that defines it.
_LAZY = {
    "MATClassifier": "._mat",
    "WorstGroupScorer": "._scorer",
    "XRMEstimator": "._xrm",
}

__all__ = ["MATClassifier", "WorstGroupScorer", "XRMEstimator", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
