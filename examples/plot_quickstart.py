"""
======================================================
Quick start: MAT against ERM on a spurious correlation
======================================================

A classifier trained by empirical risk minimization (ERM) on data with a
spurious correlation learns the spurious feature for the majority of the
rows and *memorizes* the few rows where it disagrees with the label. Its
average accuracy looks fine; its accuracy on the minority groups does not.

This example trains :class:`~skmat.baselines.ERMClassifier` and
:class:`~skmat.MATClassifier` with their defaults on the interpretable data
of the MAT paper (:func:`~skmat.datasets.make_spurious_memorization`) and
compares their worst-group accuracy on the test split. No group labels are
used anywhere: MAT's early stopping scores the validation split with the
groups that its XRM infers.
"""

# %%
# The data
# --------
# Three splits of 1,000 rows with 1,800 features: a small *core* feature that
# predicts the label everywhere, a *spurious* feature five times larger that
# agrees with the label on 90% of the training rows (50% in validation and
# test), and 1,798 example-specific noise dimensions that a linear model can
# use to memorize the rest. The groups are ``2 * y + a``; groups 1 and 2,
# where the spurious attribute ``a`` disagrees with ``y``, are the minority.
import numpy as np

from skmat.datasets import make_spurious_memorization

data = make_spurious_memorization(random_state=0)
print(data.X_train.shape)
for g, name in data.group_names.items():
    n_train = int(np.sum(data.group_labels_train == g))
    n_test = int(np.sum(data.group_labels_test == g))
    print(f"group {g} ({name}): {n_train} training rows, {n_test} test rows")

# %%
# ERM and MAT
# -----------
# Both estimators use the same SGD loop; ERM a linear network, MAT a linear
# or an MLP head (``module="auto"``), whichever wins on the validation rows
# (``module_``), and the linear head alone here, where the 1,800 features
# outnumber the 1,000 training rows. MAT first fits an
# :class:`~skmat.XRMEstimator` to obtain *held-out* logits for every training
# row, then trains with a logit shift built from them. The data set's
# validation split drives early stopping (``X_val``/``y_val``): without group
# labels, ERM keeps the epoch with the best worst-class accuracy and MAT the
# one with the best worst-group accuracy on the groups its XRM infers.
from skmat import MATClassifier
from skmat.baselines import ERMClassifier

erm = ERMClassifier(random_state=0)
erm.fit(data.X_train, data.y_train, X_val=data.X_valid, y_val=data.y_valid)

mat = MATClassifier(random_state=0)
mat.fit(data.X_train, data.y_train, X_val=data.X_valid, y_val=data.y_valid)
print("MAT validation groups:", mat.validation_groups_source_)
print("MAT head and temperature:", mat.module_, mat.temperature_)
print("XRM flip rate:", round(mat.xrm_.flip_rate_, 3))

# %%
# Worst-group accuracy
# --------------------
# :func:`~skmat.metrics.worst_group_accuracy` is the accuracy on the group
# where the model does worst; :func:`~skmat.metrics.group_accuracy_report`
# gives every group.
from skmat.metrics import group_accuracy_report, worst_group_accuracy

models = {"ERM": erm, "MAT": mat}
for name, model in models.items():
    pred = model.predict(data.X_test)
    wga = worst_group_accuracy(data.y_test, pred, group_labels=data.group_labels_test)
    print(f"{name}: accuracy {np.mean(pred == data.y_test):.3f}, worst-group {wga:.3f}")

report = group_accuracy_report(
    data.y_test, mat.predict(data.X_test), group_labels=data.group_labels_test
)
print(report[["count", "accuracy", "is_worst"]])

# %%
# A bar chart per group
# ---------------------
# ERM is perfect on the majority groups (0 and 3) and classifies most of the
# minority by the spurious feature; MAT gives up a little on the majority and
# gets most of the minority right.
# :func:`skmat.inspection.plot_group_accuracy` draws one bar per model and
# group, with each model's worst-group accuracy in the legend.
import matplotlib.pyplot as plt

from skmat.inspection import plot_group_accuracy

fig, ax = plt.subplots(figsize=(7, 4))
plot_group_accuracy(
    models,
    data.X_test,
    data.y_test,
    group_labels=data.group_labels_test,
    group_names=data.group_names,
    ax=ax,
)
ax.set_title("Test accuracy per group (groups 1 and 2 are the minority)")
fig.tight_layout()
plt.show()
