"""
======================================================
What ERM and MAT memorize: scores per group (Figure 2)
======================================================

The *memorization score* of a training example (Feldman and Zhang, 2020) is
how much more probability a model gives to its label when the example is in
the training set than when it is not. An example learnt from features that
many others share scores about 0; one the model can only fit by memorizing it
scores close to 1.

Under a spurious correlation, ERM fits the majority with the spurious feature
and memorizes the minority through example-specific features: the minority
scores high. Figure 2 of the MAT paper shows that MAT, which must explain the
minority with a feature it shares with the rest of its class, memorizes it
less. This example measures the scores with
:func:`skmat.inspection.memorization_scores` on the interpretable data of
:func:`~skmat.datasets.make_spurious_memorization`.
"""

# %%
# Data and models
# ---------------
# The paper's recipe for its interpretable experiment: a linear model without
# bias, full-batch gradient descent (learning rate 1e-2) for 1,000 epochs,
# temperature 0.1 for MAT, the last epoch kept.
import numpy as np

from skmat import MATClassifier
from skmat.baselines import ERMClassifier
from skmat.datasets import make_spurious_memorization

data = make_spurious_memorization(random_state=0)
X, y, groups = data.X_train, data.y_train, data.group_labels_train

recipe = dict(
    module="linear",
    module_params={"bias": False},
    optimizer="sgd",
    lr=1e-2,
    momentum=0.0,
    batch_size=None,
    max_epochs=1000,
    early_stopping=False,
    random_state=0,
)
models = {
    "ERM": ERMClassifier(**recipe),
    "MAT": MATClassifier(temperature=0.1, **recipe),
}

# %%
# Memorization scores
# -------------------
# :func:`~skmat.inspection.memorization_scores` works with any classifier
# that has ``predict_proba``. In each of ``n_rounds`` rounds it splits the
# rows into two random halves (stratified by class), fits a clone of the
# estimator on each half and scores every row by the clone that trained on
# it and by the one that did not. Five rounds (ten fits per model) keep this
# example short; more rounds give less noisy scores.
from skmat.inspection import memorization_scores

scores = {
    name: memorization_scores(model, X, y, n_rounds=5, random_state=0)
    for name, model in models.items()
}

# %%
# Scores per group
# ----------------
# The majority (groups 0 and 3) is learnt from the spurious feature by both
# models and scores about 0. ERM memorizes the minority (groups 1 and 2):
# its scores sit around 0.75. MAT's are about half as high, at the price of a
# slightly higher score on the majority.
import matplotlib.pyplot as plt

from skmat.inspection import plot_memorization

is_minority = np.isin(groups, data.minority_groups)
minority_labels = np.where(is_minority, "minority", "majority")
bins = np.linspace(-0.2, 1.0, 25)
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True, sharey=True)
for ax, (name, values) in zip(axes, scores.items(), strict=True):
    plot_memorization(values, group_labels=minority_labels, bins=bins, ax=ax)
    ax.set_title(f"{name}: memorization of the training rows")
fig.tight_layout()
plt.show()

# %%
# The same per group, as box plots:
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (name, values) in zip(axes, scores.items(), strict=True):
    plot_memorization(
        values,
        group_labels=groups,
        group_names=data.group_names,
        kind="box",
        ax=ax,
    )
    ax.set_title(name)
fig.tight_layout()
plt.show()

# %%
# A per-group report
# ------------------
# :func:`~skmat.inspection.group_report` puts the mean memorization next to
# the accuracy and the confidence of a model fitted on all the training rows.
# Both fit the training rows perfectly; only the memorization tells them
# apart.
from skmat.inspection import group_report

for name, model in models.items():
    model.fit(X, y)
    report = group_report(model, X, y, group_labels=groups, memorization=scores[name])
    report.index = [data.group_names[g] for g in report.index]
    columns = ["count", "accuracy", "mean_true_proba", "mean_memorization"]
    print(name)
    print(report[columns].round(3).to_string(), end="\n\n")
