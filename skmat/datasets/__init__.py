"""Datasets with spurious correlations and group labels.

Synthetic generators (:func:`make_spurious_memorization`,
:func:`make_colored_digits`), a loader for the UCI Adult data
(:func:`fetch_adult`) and one for precomputed embeddings of the standard
subpopulation-shift benchmarks (:func:`load_embeddings`). Each returns group
ids alongside the labels, for worst-group evaluation.
"""

from ._adult import fetch_adult
from ._colored_digits import make_colored_digits
from ._embeddings import load_embeddings
from ._interpretable import make_spurious_memorization

__all__ = [
    "fetch_adult",
    "load_embeddings",
    "make_colored_digits",
    "make_spurious_memorization",
]
