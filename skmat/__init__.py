"""Memorization-Aware Training and XRM as scikit-learn estimators."""

from ._mat import MATClassifier
from ._scorer import WorstGroupScorer
from ._xrm import XRMEstimator

__version__ = "0.1.0.dev0"

__all__ = ["MATClassifier", "WorstGroupScorer", "XRMEstimator", "__version__"]
