"""Parameter descriptions written once, for every estimator that takes them.

The five network estimators share their network, early-stopping and
run-time parameters. Their descriptions live here and are inserted into
each class docstring by :class:`Substitution` (as in imbalanced-learn), at
the placeholders ``%(network_params)s`` (``%(network_params_but_module)s``
for an estimator that documents its own ``module``),
``%(early_stopping_params)s`` and
``%(runtime_params)s``, and the attributes of early stopping at
``%(early_stopping_attributes)s``. A literal ``%`` in a decorated docstring is written
``%%``.
"""

import textwrap

_MODULE_PARAM = """\
module : {"linear", "mlp"} or torch.nn.Module subclass, default="linear"
    The network. A class is instantiated with ``n_features`` and
    ``n_classes`` when its ``__init__`` takes them, plus ``module_params``.
    Helper networks (the XRM that ``xrm=None`` stands for, JTT's
    identification model) are built from it too.
"""

_NETWORK_PARAMS_BUT_MODULE = """\
module_params : dict, default=None
    Keyword arguments of the module, e.g. ``{"hidden_layer_sizes":
    (128,)}`` for ``"mlp"`` or ``{"bias": False}`` for ``"linear"``.
optimizer : {"sgd", "adam", "adamw"} or torch optimizer class, default="sgd"
    Optimizer, of the helper networks too. SGD is the default because
    gradient descent's implicit bias is part of why XRM and MAT work: with
    Adam, XRM's label flipping can run away on high-dimensional data (a
    flip rate near 0.5).
lr : float or "auto", default="auto"
    Learning rate. ``"auto"`` is 0.01, lowered to ``1 / lambda_max`` on
    data whose scale would make 0.01 diverge (``lambda_max``: the largest
    eigenvalue of the second moment of the rows with a constant 1 appended,
    which bounds the curvature of the loss of a linear layer); standardised
    features keep 0.01.
momentum : float, default=0.9
    Momentum, for optimizers that take it.
weight_decay : float, default=0.0
    Weight decay (L2 penalty).
batch_size : int, "auto" or None, default="auto"
    Rows per step; ``None`` trains on the full batch. ``"auto"`` takes
    ``clip(n_train / 16, 16, 256)`` rows, and an epoch makes about 16 steps
    (more above 4,096 rows): under 256 training rows an epoch draws 256
    (the rows in random order, again and again), so that the epoch budget,
    the patience and the epochs early stopping compares train small and
    large data alike.
max_epochs : int, default=100
    Number of epochs (passes over the training rows, or 16 steps on data
    under 256 rows with ``batch_size="auto"``); early stopping, where the
    estimator has it, may end training sooner."""

_EARLY_STOPPING_PARAMS = """\
early_stopping : bool, default=True
    Hold out a stratified ``validation_fraction`` of the rows, stop after
    ``n_iter_no_change`` epochs without a better validation score and keep
    the best epoch (ties go to the better balanced accuracy). The score is
    the worst-group accuracy on the ``group_labels`` given to :meth:`fit`;
    else, for estimators with a fitted XRM, ``0.3 * worst-class + 0.7 *
    worst inferred-group accuracy``, where the worst inferred group is the
    lower of the worst of XRM's groups and the worst of two pooled ones
    (each class's largest inferred group together, all the other rows
    together), and each group is shrunk towards the overall accuracy by 5
    pseudo-rows, so that a handful of rows cannot decide alone and the
    minorities of many classes still count together; else the worst-class
    accuracy. A warning says when the kept network is no better than the
    untrained one on the score and on balanced accuracy.
    ``False`` trains ``max_epochs`` epochs on all rows and keeps the last
    one. An explicit ``X_val, y_val`` given to :meth:`fit` replaces the
    held-out rows.
validation_fraction : float, default=0.2
    Share of the rows held out for early stopping, stratified on the class
    (and on ``group_labels`` when given).
n_iter_no_change : int, default=20
    Patience of early stopping, in epochs."""

_RUNTIME_PARAMS = """\
device : str or torch.device, default="cpu"
    Where to train, e.g. ``"cuda"``. A fitted model saved with pickle or
    skops loads on a machine without that device.
random_state : int, RandomState instance or None, default=None
    Seeds everything random in :meth:`fit`: the validation split, the
    initial weights, the order of the batches and, where the estimator
    trains XRM, the twin assignment and the label flips. The same value
    gives the same model.
verbose : int, default=0
    ``0`` is silent. Otherwise :meth:`fit` shows tqdm progress bars over
    epochs (on stderr) and prints a summary line when fitting ends. The
    default XRM that ``xrm=None`` stands for, in estimators that fit one,
    does the same; other helper models stay silent."""


_EARLY_STOPPING_ATTRIBUTES = """\
n_epochs_ : int
    Epochs that training ran before it stopped.
best_epoch_ : int
    Epoch whose weights were kept: the best validation epoch, or the last
    one without a validation set. With MAT's ``refit``, the network of
    ``net_`` was then trained again on every row for as many steps.
validation_score_ : ndarray of shape (n_epochs_,)
    Worst-group validation accuracy of every epoch, over the groups that
    ``validation_groups_source_`` names; as the
    ``validation_score_`` of scikit-learn's histogram gradient boosting.
    Empty without a validation set (``early_stopping=False``).
best_validation_score_ : float or None
    Worst-group validation accuracy of the kept epoch,
    ``validation_score_[best_epoch_ - 1]``; None without a validation set."""


def _indent(text, spaces=4):
    """Indent every line but the first, which the placeholder indents."""
    first, *rest = text.splitlines()
    return "\n".join([first, *(textwrap.indent(line, " " * spaces) if line
                                else line for line in rest)])


class Substitution:
    """Fill the ``%(name)s`` placeholders of a docstring.

    Parameters
    ----------
    **params : str
        Text of each placeholder.
    """

    def __init__(self, **params):
        self.params = params

    def __call__(self, obj):
        """Fill the docstring of ``obj`` and return ``obj``."""
        if obj.__doc__:  # None under python -OO
            obj.__doc__ = obj.__doc__ % self.params
        return obj


#: Decorator of the network estimators' class docstrings.
_fill_network_params = Substitution(
    network_params=_indent(_MODULE_PARAM + _NETWORK_PARAMS_BUT_MODULE),
    network_params_but_module=_indent(_NETWORK_PARAMS_BUT_MODULE),
    early_stopping_params=_indent(_EARLY_STOPPING_PARAMS),
    runtime_params=_indent(_RUNTIME_PARAMS),
    early_stopping_attributes=_indent(_EARLY_STOPPING_ATTRIBUTES),
)
