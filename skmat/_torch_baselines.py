"""Torch and skorch internals of the baselines (GroupDRO's online loss).

Nothing in this module is public. :class:`~skmat.baselines.GroupDROClassifier`
builds a :class:`GroupDRONet` through the hooks of the shared network base.
"""

from collections.abc import Mapping

import torch
from torch.nn import functional as F

from ._torch import MATNet


class GroupDRONet(MATNet):
    """A net trained with the online GroupDRO loss of Sagawa et al. (2020).

    X is a dict holding ``"X"`` and ``"group"`` (an int group id in
    ``[0, n_groups)`` per row). At each training step, with ``L_g`` the mean
    cross-entropy of the batch rows of group ``g`` (0 for groups absent from
    the batch):

    * ``q_g <- q_g * exp(eta * L_g)``, then ``q <- q / sum(q)``;
    * ``loss = sum_g q_g L_g``.

    ``q_`` starts uniform at :meth:`initialize` and is not differentiated
    through. Outside training (or without ``"group"``) the loss is MATNet's.
    """

    def __init__(self, *args, n_groups=1, eta=0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_groups = n_groups
        self.eta = eta

    def initialize(self):
        self.q_ = torch.full((self.n_groups,), 1.0 / self.n_groups)
        return super().initialize()

    def group_losses(self, y_pred, y_true, group):
        """Mean cross-entropy per group over the batch, and the group counts."""
        ce = F.cross_entropy(y_pred, y_true, reduction="none")
        sums = torch.zeros(self.n_groups, dtype=ce.dtype, device=ce.device)
        sums = sums.index_add(0, group, ce)
        counts = torch.zeros(self.n_groups, dtype=ce.dtype, device=ce.device)
        counts = counts.index_add(0, group, torch.ones_like(ce))
        return sums / counts.clamp_min(1.0), counts

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if not (training and isinstance(X, Mapping) and "group" in X):
            return super().get_loss(y_pred, y_true, X=X, training=training)
        y_true = y_true.to(y_pred.device)
        group = X["group"].to(y_pred.device, torch.long)
        losses, _ = self.group_losses(y_pred, y_true, group)
        with torch.no_grad():
            # q * exp(eta * L), normalised; in log space so it cannot overflow.
            log_q = torch.log(self.q_.to(losses.device, losses.dtype).clamp_min(1e-30))
            q = torch.softmax(log_q + self.eta * losses.detach(), dim=0)
            self.q_ = q
        loss = (q * losses).sum()
        self.check_training_loss(loss)
        return loss
