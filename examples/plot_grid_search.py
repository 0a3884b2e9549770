"""
=====================================================================
Choosing the temperature by worst-group cross-validation
=====================================================================

MAT's ``temperature`` sets how strongly the held-out predictions shift the
training logits; it is the parameter to search. This example searches it with
:class:`~sklearn.model_selection.GridSearchCV` and
:class:`~skmat.WorstGroupScorer` on :func:`~skmat.datasets.make_colored_digits`,
a coloured-digits problem where the colour agrees with the label on 95% of the
training images:

* **with group labels**: metadata routing sends ``group_labels`` to the
  estimator (early stopping on the true groups of its validation rows) and to
  the scorer (worst-group accuracy on the true groups of the test fold);
* **without group labels**: the same code, minus ``group_labels``. The scorer
  then uses the groups that each fitted MATClassifier infers with its XRM.

MAT's ``memory=`` caches the fitted XRM: it depends neither on the temperature
nor on early stopping, so each search fits it once per fold instead of once per
candidate and fold.
"""

# %%
# The data
# --------
# 192 features per image: the 8x8 grey image, then a copy of it in one of two
# colour channels. The label is ``digit < 5``; the colour is the spurious
# attribute. Groups are ``2 * y + colour``, and groups 1 and 2 are the
# minority: 5% of the training images, half of the validation and test ones.
import numpy as np

from skmat.datasets import make_colored_digits

data = make_colored_digits(random_state=0)
print("training rows per group:", np.bincount(data.group_labels_train))
print("validation rows per group:", np.bincount(data.group_labels_valid))

# %%
# The search splits
# -----------------
# The data set comes with a validation split whose groups are balanced: the
# natural place to compare temperatures. A
# :class:`~sklearn.model_selection.PredefinedSplit` over the stacked
# training and validation rows makes it the single test fold of the search.
# (Without a separate validation split, cross-validate on the training rows
# with :class:`~skmat.model_selection.StratifiedGroupLabelKFold`, see the end
# of this example.)
from sklearn.model_selection import PredefinedSplit

X = np.vstack([data.X_train, data.X_valid])
y = np.r_[data.y_train, data.y_valid]
groups = np.r_[data.group_labels_train, data.group_labels_valid]
test_fold = np.r_[np.full(len(data.y_train), -1), np.zeros(len(data.y_valid))]
cv = PredefinedSplit(test_fold)

# %%
# The estimator and the grid
# --------------------------
# An MLP with 256 hidden units trained by SGD with momentum, as in the
# project's coloured-digits benchmark. ``memory`` is a directory where the
# fitted XRMs are cached; cache hits need an integer ``random_state``.
import shutil
import tempfile
import time
from pathlib import Path

import sklearn
from sklearn.model_selection import GridSearchCV

from skmat import MATClassifier, WorstGroupScorer

cache_dir = tempfile.mkdtemp(prefix="skmat_xrm_cache_")
network = dict(module="mlp", lr=0.05, batch_size=64, random_state=0)
mat = MATClassifier(memory=cache_dir, **network)
param_grid = {"temperature": [0.25, 0.5, 1.0, 2.0, 4.0]}

# %%
# With group labels
# -----------------
# Metadata routing is enabled for the search only, with
# :func:`sklearn.config_context`. The keyword is ``group_labels``: ``groups``
# is what :class:`~sklearn.model_selection.GroupKFold` consumes, and passing
# it would make a cross-validation leave whole groups out.
# ``refit=False``: the selected temperature is refitted below on the
# training split, with the validation split for early stopping.
scorer = WorstGroupScorer()
with sklearn.config_context(enable_metadata_routing=True):
    search_groups = GridSearchCV(mat, param_grid, scoring=scorer, cv=cv, refit=False)
    start = time.perf_counter()
    search_groups.fit(X, y, group_labels=groups)
print(f"search with group labels: {time.perf_counter() - start:.1f} s")
print("best temperature:", search_groups.best_params_["temperature"])
print("groups the scorer used:", dict(scorer.sources_))

# %%
# Without group labels
# --------------------
# The same search without ``group_labels``. Each candidate early-stops on the
# groups its XRM infers, and the scorer, which receives no ``group_labels``,
# scores the groups that the fitted estimator infers on the validation rows
# (``"inferred"``).
scorer_inferred = WorstGroupScorer()
with sklearn.config_context(enable_metadata_routing=True):
    search_inferred = GridSearchCV(
        mat, param_grid, scoring=scorer_inferred, cv=cv, refit=False
    )
    start = time.perf_counter()
    search_inferred.fit(X, y)
print(f"search without group labels: {time.perf_counter() - start:.1f} s")
print("best temperature:", search_inferred.best_params_["temperature"])
print("groups the scorer used:", dict(scorer_inferred.sources_))

# %%
# The cache
# ---------
# Each search fitted MAT four times, but XRM only once: XRM does not depend
# on the temperature. (The two searches train on different rows, because
# MAT stratifies its internal early-stopping split on the group labels when
# it has them, so each has its own XRM.) joblib keeps one entry per distinct
# call.
n_cached = len(list(Path(cache_dir).rglob("output.pkl")))
print("XRM fits in the cache:", n_cached)

# %%
# Refit and test
# --------------
# The selected temperatures are refitted on the training split with the
# validation split for early stopping (``X_val``/``y_val``, and its groups
# only in the protocol that has them), next to an ERM baseline. Both refits
# train XRM on the same rows with the same seed, so the second one reads it
# from the cache.
from skmat.baselines import ERMClassifier
from skmat.metrics import worst_group_accuracy

val = dict(X_val=data.X_valid, y_val=data.y_valid)
erm = ERMClassifier(**network).fit(data.X_train, data.y_train, **val)
mat_groups = MATClassifier(
    temperature=search_groups.best_params_["temperature"], memory=cache_dir, **network
).fit(data.X_train, data.y_train, group_labels_val=data.group_labels_valid, **val)
mat_inferred = MATClassifier(
    temperature=search_inferred.best_params_["temperature"], memory=cache_dir, **network
).fit(data.X_train, data.y_train, **val)

models = {
    "ERM": erm,
    "MAT, group labels": mat_groups,
    "MAT, no group labels": mat_inferred,
}
for name, model in models.items():
    pred = model.predict(data.X_test)
    wga = worst_group_accuracy(data.y_test, pred, group_labels=data.group_labels_test)
    print(f"{name}: test worst-group accuracy {wga:.3f}")

# %%
# Validation scores per temperature
# ---------------------------------
# With true groups the validation score is the worst-group accuracy; with
# inferred groups it is an estimate of it from XRM's groups, usually a
# different number, but it should rank the temperatures in a similar way.
import matplotlib.pyplot as plt

temperatures = param_grid["temperature"]
fig, ax = plt.subplots(figsize=(6, 4))
for name, search in (
    ("true group labels", search_groups),
    ("XRM-inferred groups", search_inferred),
):
    scores = search.cv_results_["mean_test_score"]
    print(name, np.round(scores, 3))
    ax.plot(temperatures, scores, "o-", label=name)
ax.set_xscale("log")
ax.set_xlabel("temperature")
ax.set_ylabel("validation worst-group accuracy")
ax.set_ylim(0, 1)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# The temperature acts on calibrated held-out logits
# --------------------------------------------------
# The shift depends on the held-out logits ``h`` only through
# ``softmax(h / temperature)``, and XRM's twins end with large margins. So
# MAT first divides ``h`` by the temperature that calibrates it against the
# training labels (``heldout_temperature_``), and ``temperature`` applies on
# top: 1 trusts the calibrated probabilities, smaller values sharpen them and
# ``np.inf`` removes the shift beyond the class prior (class balancing).
heldout = mat_inferred.xrm_.heldout_logits_ / mat_inferred.heldout_temperature_
margin = np.abs(heldout[:, 1] - heldout[:, 0])
print("calibration temperature:", round(mat_inferred.heldout_temperature_, 2))
for tau in temperatures:
    p_max = 1 / (1 + np.exp(-np.median(margin) / tau))
    print(f"temperature {tau:>4}: p(yhat | x) at the median margin = {p_max:.3f}")

# %%
# Cross-validation on the training rows
# -------------------------------------
# Without a validation split, cross-validate on the training rows with
# :class:`~skmat.model_selection.StratifiedGroupLabelKFold`, which requests
# ``group_labels`` too and keeps every ``(class, group)`` cell in every fold,
# so that the few minority rows reach every test fold.
# :func:`~skmat.model_selection.search_temperature` builds that search and
# runs it under metadata routing in one call:
#
# .. code-block:: python
#
#     from skmat.model_selection import StratifiedGroupLabelKFold, search_temperature
#
#     cv = StratifiedGroupLabelKFold(n_splits=3, shuffle=True, random_state=0)
#     with sklearn.config_context(enable_metadata_routing=True):
#         search = GridSearchCV(mat, param_grid, scoring=WorstGroupScorer(), cv=cv)
#         search.fit(data.X_train, data.y_train,
#                    group_labels=data.group_labels_train)
#
#     # the same in one call
#     search = search_temperature(
#         data.X_train, data.y_train, group_labels=data.group_labels_train,
#         temperatures=[0.25, 0.5, 1.0, 2.0, np.inf], estimator=mat, cv=3,
#         random_state=0,
#     )

shutil.rmtree(cache_dir, ignore_errors=True)
