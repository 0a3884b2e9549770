"""Baselines with the estimator API of skmat, for comparison with MAT.

- :class:`ERMClassifier`: plain cross-entropy with the same networks, with
  optional class or group balancing (Idrissi et al., 2022).
- :class:`GroupDROClassifier`: online GroupDRO on given or XRM-inferred
  groups.
- :class:`JTTClassifier`: Just Train Twice, upweighting the errors of a
  short ERM run.
- :class:`DFRClassifier`: Deep Feature Reweighting, a group-balanced
  logistic regression on embeddings (true or XRM-inferred groups).
- :class:`AFRClassifier`: Automatic Feature Reweighting, a last layer
  retrained on the rows the ERM model finds hard (no group labels).

Like :mod:`skmat`, the classes are imported on first access, so that
``import skmat.baselines`` does not import torch.
"""

import importlib

# Public name -> private module that defines it.
_LAZY = {
    "AFRClassifier": "._afr",
    "DFRClassifier": "._dfr",
    "ERMClassifier": "._erm",
    "GroupDROClassifier": "._groupdro",
    "JTTClassifier": "._jtt",
}

__all__ = [
    "AFRClassifier",
    "DFRClassifier",
    "ERMClassifier",
    "GroupDROClassifier",
    "JTTClassifier",
]


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
