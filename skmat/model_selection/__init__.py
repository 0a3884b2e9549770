"""Cross-validation tools for worst-group model selection.

A splitter stratified on the class and the group of each sample, held-out
logits by K-fold cross-validation (an alternative source of MAT's shift), and
a one-call search of MAT's temperature.
"""

from ._heldout import cross_val_heldout_logits
from ._search import search_temperature
from ._split import StratifiedGroupLabelKFold

__all__ = [
    "StratifiedGroupLabelKFold",
    "cross_val_heldout_logits",
    "search_temperature",
]
