"""Ordinary data drawn at random: is ``MATClassifier()`` dependable on them?

``benchmarks/sanity.py`` and ``benchmarks/tabular_variants.py`` fit data
sets that were named one by one, some of them after a failure was seen.
This script draws its data sets at random instead, so that none of them
was chosen (added once the defaults were set): configuration ``i`` comes
from ``RandomState(1000 + i)``, which picks a generator of scikit-learn
(``make_classification`` twice as often as ``make_blobs``, ``make_moons``
and ``make_gaussian_quantiles``), 200 to 3,000 rows, and that generator's
settings (for ``make_classification``: 2 to 6 classes, 5 to 80 features, 2
to 10 informative, one or two clusters per class, 0 to 10% of the labels
drawn at random, a class separation of 0.5 to 2.5 and, in four draws of
ten, one class of 70%, 85% or 95% of the rows). None holds a spurious
feature.

Each is split 70/30 (stratified, seeded by ``i``) and standardised on the
training part; ``LogisticRegression`` (plain and
``class_weight="balanced"``), ``HistGradientBoostingClassifier(class_weight=
"balanced")`` and ``MATClassifier(random_state=i)`` are fitted at their
defaults and scored by test accuracy and worst-class accuracy. MAT balances
the classes by construction, so where the classes are imbalanced it is
held to the balanced logistic regression's worst class, elsewhere to the
plain one's accuracy; a *miss* is either more than 0.03 below. A
configuration whose training split holds a class of one row is left out
and counted (``MATClassifier`` refuses it with an error that says so: its
early-stopping split needs a row of each class on each side; 5 of the
first 3,000 configurations, none of the first 180).

Run ``python benchmarks/random_tabular.py --n-jobs 2`` (60 configurations,
about 2 minutes on two cores); the tables are printed and written to
``docs/results/random_tabular.{csv,md}``. ``--first-config 60`` draws
configurations the published table does not use.
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn import datasets
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmat import MATClassifier
from skmat.metrics import worst_class_accuracy

TOLERANCE = 0.03


def draw_config(i):
    """Return ``(generator name, its keyword arguments)`` of configuration ``i``."""
    rng = np.random.RandomState(1000 + i)
    kind = rng.choice(["classification", "classification", "blobs", "moons",
                       "quantiles"])
    n = int(rng.choice([200, 400, 800, 1500, 3000]))
    if kind == "classification":
        n_classes = int(rng.choice([2, 2, 3, 4, 6]))
        n_features = int(rng.choice([5, 10, 20, 40, 80]))
        informative = int(min(n_features, rng.choice([2, 3, 5, 10])))
        # make_classification needs 2 ** informative >= classes x clusters.
        informative = max(informative, int(np.ceil(np.log2(2 * n_classes))))
        weights = None
        if rng.rand() < 0.4:
            major = float(rng.choice([0.7, 0.85, 0.95]))
            weights = [major] + [(1 - major) / (n_classes - 1)] * (n_classes - 1)
        return kind, dict(
            n_samples=n, n_features=max(n_features, informative),
            n_informative=informative, n_redundant=0, n_classes=n_classes,
            n_clusters_per_class=int(rng.choice([1, 2])),
            flip_y=float(rng.choice([0, 0.01, 0.05, 0.1])),
            class_sep=float(rng.choice([0.5, 1.0, 1.5, 2.5])), weights=weights,
        )
    if kind == "blobs":
        return kind, dict(
            n_samples=n, centers=int(rng.choice([2, 3, 5, 8])),
            n_features=int(rng.choice([2, 5, 20])),
            cluster_std=float(rng.choice([0.5, 1.5, 3.0])),
        )
    if kind == "moons":
        return kind, dict(n_samples=n, noise=float(rng.choice([0.1, 0.2, 0.35])))
    n_classes = int(rng.choice([2, 3]))
    return kind, dict(n_samples=n, n_features=int(rng.choice([2, 4, 8])),
                      n_classes=n_classes)


GENERATORS = {
    "classification": datasets.make_classification,
    "blobs": datasets.make_blobs,
    "moons": datasets.make_moons,
    "quantiles": datasets.make_gaussian_quantiles,
}


def make_data(i):
    """Configuration ``i``'s data, split 70/30 and standardised.

    Returns ``kind, params, X_train, X_test, y_train, y_test``.
    """
    kind, params = draw_config(i)
    X, y = GENERATORS[kind](**params, random_state=i)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=i)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    return kind, params, X_train, X_test, y_train, y_test


def run_one(i):
    torch.set_num_threads(1)
    kind, params, X_train, X_test, y_train, y_test = make_data(i)
    counts = np.bincount(y_train)
    if counts.min() < 2:
        # MATClassifier refuses a class of one training row with an error
        # (its early-stopping split needs one on each side): the
        # configuration is left out of the tables, and counted.
        print(f"config {i:3d} {kind:14s} skipped: a class of one training row",
              flush=True)
        return dict(config=i, generator=kind, params=json.dumps(params),
                    skipped=True)
    row = dict(config=i, generator=kind, params=json.dumps(params), skipped=False,
               imbalanced=bool(counts.max() > 1.5 * counts.min()),
               test_rows=len(y_test),
               smallest_test_class=int(np.bincount(y_test).min()))
    models = {
        "LogisticRegression": LogisticRegression(max_iter=3000),
        "LogisticRegression(balanced)": LogisticRegression(
            max_iter=3000, class_weight="balanced"),
        "HistGradientBoosting(balanced)": HistGradientBoostingClassifier(
            class_weight="balanced", random_state=i),
        "MAT": MATClassifier(random_state=i),
    }
    for name, model in models.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        pred = model.predict(X_test)
        row[f"{name} accuracy"] = float(np.mean(pred == y_test))
        row[f"{name} worst class"] = float(worst_class_accuracy(y_test, pred))
    mat = models["MAT"]
    row.update(tau=mat.temperature_, module=str(mat.module_),
               spread=mat.heldout_mistake_spread_, lift=mat.minority_lift_)
    print(f"config {i:3d} {kind:14s} MAT acc {row['MAT accuracy']:.3f} "
          f"(LR {row['LogisticRegression accuracy']:.3f}) worst class "
          f"{row['MAT worst class']:.3f} (balanced LR "
          f"{row['LogisticRegression(balanced) worst class']:.3f})", flush=True)
    return row


def misses(frame):
    """Rows where MAT is more than ``TOLERANCE`` below its reference."""
    accuracy = frame["MAT accuracy"] - frame["LogisticRegression accuracy"]
    worst = (frame["MAT worst class"]
             - frame["LogisticRegression(balanced) worst class"])
    gap = np.where(frame["imbalanced"], worst, accuracy)
    return frame.assign(gap=gap)[gap < -TOLERANCE]


def report(frame, output_dir):
    skipped = int(frame["skipped"].sum())
    frame = frame[~frame["skipped"].astype(bool)]
    methods = ["LogisticRegression", "LogisticRegression(balanced)",
               "HistGradientBoosting(balanced)", "MAT"]
    lines = [
        "Random ordinary data sets (`python benchmarks/random_tabular.py`): "
        "mean test accuracy and worst-class accuracy by generator; `imbalanced`: "
        "the largest class over 1.5 times the smallest. A miss: MAT more than "
        f"{TOLERANCE} below logistic regression's accuracy (balanced classes) "
        "or balanced logistic regression's worst class (imbalanced).",
        "",
        "| generator | imbalanced | configs | "
        + " | ".join(f"{m} acc / worst" for m in methods) + " | misses |",
        "|---" * (len(methods) + 4) + "|",
    ]
    missed = misses(frame)

    def cells(part):
        return " | ".join(f"{part[f'{m} accuracy'].mean():.3f} / "
                          f"{part[f'{m} worst class'].mean():.3f}" for m in methods)

    for (kind, imbalanced), part in frame.groupby(["generator", "imbalanced"]):
        n_missed = int(missed["config"].isin(part["config"]).sum())
        lines.append(f"| {kind} | {'yes' if imbalanced else 'no'} | {len(part)} | "
                     + cells(part) + f" | {n_missed} |")
    lines.append(f"| all | | {len(frame)} | " + cells(frame) + f" | {len(missed)} |")
    if skipped:
        lines += ["", f"{skipped} configuration(s) left out: a class of one "
                  "training row, which `MATClassifier` refuses with an error."]
    lines += ["", "Misses (MAT's gap to its reference, also in test rows: of the "
              "smallest class where the reference is a worst class; MAT's "
              "kept temperature, head and spread):", ""]
    if missed.empty:
        lines.append("None.")
    else:
        lines += ["| config | generator | settings | smallest test class (rows) "
                  "| gap | gap (rows) | tau | head | spread |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for _, row in missed.iterrows():
            # The reference's unit: a row of the smallest class, or of the test set.
            unit = row["smallest_test_class"] if row["imbalanced"] else row["test_rows"]
            rows = row["gap"] * unit
            lines.append(f"| {row['config']} | {row['generator']} | "
                         f"`{row['params']}` | {int(row['smallest_test_class'])} | "
                         f"{row['gap']:+.3f} | {rows:+.1f} | {row['tau']} | "
                         f"{row['module']} | {row['spread']:.3f} |")
    text = "\n".join(lines) + "\n"
    (output_dir / "random_tabular.md").write_text(text)
    print()
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=60)
    parser.add_argument("--first-config", type=int, default=0,
                        help="configurations first-config, first-config + 1, ... "
                        "(the published table uses 0-59)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    configs = range(args.first_config, args.first_config + args.configs)
    rows = Parallel(n_jobs=args.n_jobs)(delayed(run_one)(i) for i in configs)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.output_dir / "random_tabular.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
