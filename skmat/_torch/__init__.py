"""Torch and skorch internals of the estimators: the only importer of both.

Nothing in this package is public. The scikit-learn facing classes call the
functions re-exported here (``_torch.build_net(...)``) and never touch torch
tensors themselves. One module per concern:

- ``_modules``: torch modules, optimizers, the checks of torch-typed settings;
- ``_data``: tensors from arrays and the batch iterator;
- ``_nets``: the skorch nets and their losses;
- ``_callbacks``: flip rate, worst-group validation, progress, early stopping;
- ``_engine``: building, fitting, exporting and reading the nets.
"""

from ._callbacks import (
    EpochProgress,
    FlipRateRecorder,
    GroupValidation,
    HeadsValidation,
    early_stopping,
)
from ._checks import check_device, module_class, optimizer_class
from ._data import (
    BatchIterator,
    as_tensor,
    label_tensor,
    training_data,
    xrm_training_data,
)
from ._engine import (
    build_net,
    dynamic_labels,
    export_net,
    fit_net,
    group_weights,
    head_net,
    import_net,
    mat_shift,
    predict_logits,
    set_num_threads,
)
from ._modules import (
    HeadBank,
    LinearModule,
    MLPModule,
    TwinModule,
    check_settings,
    resolve_module,
    resolve_optimizer,
    start_at_zero,
)
from ._nets import (
    GroupDRONet,
    MATNet,
    MultiHeadMATNet,
    XRMNet,
    class_balanced_cross_entropy,
)

__all__ = [
    "BatchIterator",
    "EpochProgress",
    "FlipRateRecorder",
    "GroupDRONet",
    "GroupValidation",
    "HeadBank",
    "HeadsValidation",
    "LinearModule",
    "MATNet",
    "MultiHeadMATNet",
    "MLPModule",
    "TwinModule",
    "XRMNet",
    "as_tensor",
    "build_net",
    "check_device",
    "check_settings",
    "class_balanced_cross_entropy",
    "dynamic_labels",
    "early_stopping",
    "export_net",
    "fit_net",
    "group_weights",
    "head_net",
    "import_net",
    "label_tensor",
    "mat_shift",
    "module_class",
    "optimizer_class",
    "predict_logits",
    "resolve_module",
    "resolve_optimizer",
    "set_num_threads",
    "start_at_zero",
    "training_data",
    "xrm_training_data",
]
