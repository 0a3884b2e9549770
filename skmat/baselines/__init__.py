"""Baselines with the estimator API of skmat, for comparison with MAT.

- :class:`ERMClassifier`: plain cross-entropy with the same networks.
- :class:`GroupDROClassifier`: online GroupDRO on given or XRM-inferred
  groups.
- :class:`JTTClassifier`: Just Train Twice, upweighting the errors of a
  short ERM run.

Like :mod:`skmat`, the classes are imported on first access, so that
``import skmat.baselines`` does not import torch.
"""

import importlib

# Public name -> private module that defines it.
_LAZY = {
    "ERMClassifier": "._erm",
    "GroupDROClassifier": "._groupdro",
    "JTTClassifier": "._jtt",
}

__all__ = ["ERMClassifier", "GroupDROClassifier", "JTTClassifier"]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
