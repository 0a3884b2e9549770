"""Test-wide settings."""

import torch

# The tests train many tiny networks: on two cores a single torch thread is
# both faster (no thread hand-offs on tiny tensors) and independent of the
# machine's core count.
torch.set_num_threads(1)
