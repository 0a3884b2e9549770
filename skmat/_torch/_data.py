"""The data path: tensors from arrays, whole batches sliced by index."""

import math
from collections.abc import Mapping

import numpy as np
import torch


def _rows(value, idx):
    # index_select gives the rows that value[idx] gives, at a fraction of
    # the per-call cost of advanced indexing (a few steps' worth per epoch).
    if isinstance(value, torch.Tensor) and isinstance(idx, torch.Tensor):
        return torch.index_select(value, 0, idx)
    return value[idx]


def _take(X, idx):
    if isinstance(X, Mapping):
        return {key: _rows(value, idx) for key, value in X.items()}
    return _rows(X, idx)


def _length(X):
    if isinstance(X, Mapping):
        return len(next(iter(X.values())))
    return len(X)


class BatchIterator:
    """Yield ``(X_batch, y_batch)`` by indexing tensors with a batch of indices.

    Used as skorch's ``iterator_train`` and ``iterator_valid``: skorch's
    default ``DataLoader`` indexes and collates one sample at a time.

    ``epoch_rows`` (training only, None: one pass) is the number of rows an
    epoch draws when it exceeds the data: successive random permutations of
    the rows, cut at ``epoch_rows``, so that on small data an epoch makes as
    many optimizer steps as on larger data and each row is drawn equally
    often in expectation.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, drop_last=False,
                 epoch_rows=None):
        self.X, self.y = dataset.X, dataset.y
        self.n = _length(self.X)
        self.batch_size = self.n if batch_size in (None, -1) else int(batch_size)
        self.batch_size = max(1, self.batch_size)
        self.shuffle = shuffle
        self.epoch_rows = (
            int(epoch_rows)
            if shuffle and epoch_rows is not None and epoch_rows > self.n > 0
            else None
        )

    def __len__(self):
        return math.ceil((self.epoch_rows or self.n) / self.batch_size)

    def _order(self):
        """Return the epoch's row indices (a tensor), or None for the rows in order."""
        if self.epoch_rows is not None:
            passes = math.ceil(self.epoch_rows / self.n)
            order = torch.cat([torch.randperm(self.n) for _ in range(passes)])
            return order[: self.epoch_rows]
        if self.shuffle and self.n > self.batch_size:
            return torch.randperm(self.n)
        return None

    def __iter__(self):
        order = self._order()
        total = self.n if order is None else len(order)
        for start in range(0, total, self.batch_size):
            stop = min(start + self.batch_size, total)
            idx = slice(start, stop) if order is None else order[start:stop]
            yb = None if self.y is None else _take(self.y, idx)
            yield _take(self.X, idx), yb


def as_tensor(X):
    """One float32 tensor for X (no copy when X already is float32)."""
    return torch.as_tensor(np.asarray(X, dtype=np.float32))


def training_data(X, **per_row):
    """Build the dict that travels through batches: float32 X, per-row arrays.

    Integer arrays become int64 tensors (indices, labels), float arrays
    float32 tensors (shift, weights).
    """
    data = {"X": as_tensor(X)}
    for key, value in per_row.items():
        value = np.asarray(value)
        dtype = np.int64 if value.dtype.kind in "iub" else np.float32
        data[key] = torch.as_tensor(value.astype(dtype, copy=False))
    return data


def xrm_training_data(X, twin):
    """XRM's batches: X, the row index (for the dynamic labels) and the twin."""
    return training_data(X, index=np.arange(len(twin)), twin=twin)


def label_tensor(y):
    """Return encoded labels as the int64 tensor that cross-entropy takes."""
    return torch.as_tensor(np.asarray(y, dtype=np.int64))
