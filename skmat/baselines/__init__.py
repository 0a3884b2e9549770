"""Baselines with the estimator API of skmat, for comparison with MAT.

- :class:`ERMClassifier`: plain cross-entropy with the same networks.
- :class:`GroupDROClassifier`: online GroupDRO on given or XRM-inferred
  groups.
- :class:`JTTClassifier`: Just Train Twice, upweighting the errors of a
  short ERM run.
"""

from .._erm import ERMClassifier
from .._groupdro import GroupDROClassifier
from .._jtt import JTTClassifier

__all__ = ["ERMClassifier", "GroupDROClassifier", "JTTClassifier"]
