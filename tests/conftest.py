"""Test-wide settings."""

import os

import pytest
import torch
from hypothesis import settings

# The tests train many tiny networks: on two cores a single torch thread is
# both faster (no thread hand-offs on tiny tensors) and independent of the
# machine's core count.
torch.set_num_threads(1)

# Property tests draw the same examples on every run (a CI run cannot fail on
# an example no earlier run met); HYPOTHESIS_PROFILE=explore draws new ones.
settings.register_profile("deterministic", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture
def recorded_splits(monkeypatch):
    """The (train, valid) rows of every early-stopping split made in the test."""
    from skmat._base import _NetworkClassifier

    splits = []
    original = _NetworkClassifier._split

    def recording_split(self, *args, **kwargs):
        splits.append(original(self, *args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(_NetworkClassifier, "_split", recording_split)
    return splits
