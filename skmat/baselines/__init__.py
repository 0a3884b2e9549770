"""Baselines with the estimator API of skmat, for comparison with MAT."""

from .._erm import ERMClassifier

__all__ = ["ERMClassifier"]
