"""Ordinary data with more features than training rows, at defaults.

Where the features are at least as many as the training rows (after the
validation split), ``MATClassifier(module="auto")`` trains the linear head
alone. The benchmark data sets of issue 11 hold that case once (the
interpretable data); this script measures it on ordinary data, cut small
so that the features outnumber the rows (none of them was looked at when
the rule was set):

* ``load_digits``, 75 training rows (64 features, 10 classes);
* ``load_breast_cancer``, 35 training rows (30 features);
* ``make_classification(300, 50 features, 10 informative)``, 60 training
  rows;
* ``make_moons(400, noise=0.2)`` with 40 standard normal features added, 50
  training rows (a non-linear signal among noise).

Each is split at random (stratified, ``random_state=seed``) into those
training rows and the rest as test rows, standardised on the training rows,
and fitted with ``LogisticRegression()``, ``MATClassifier()`` (the default:
the linear head alone here) and ``MATClassifier(module="mlp")`` (the MLP
head the rule leaves out). Test accuracy, mean over seeds.

Run ``python benchmarks/wide_data.py`` (10 seeds, about 3 minutes on one
core); the table is printed and written to
``docs/results/wide_data.{csv,md}``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _recipes import markdown_table
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmat import MATClassifier


def _moons_in_noise(seed):
    X, y = datasets.make_moons(400, noise=0.2, random_state=seed)
    noise = np.random.RandomState(seed).randn(len(y), 40)
    return np.hstack([X, noise]), y


# name -> (load(seed) -> (X, y), training rows)
DATASETS = {
    "digits, 75 rows (64 features)": (
        lambda s: datasets.load_digits(return_X_y=True), 75),
    "breast_cancer, 35 rows (30 features)": (
        lambda s: datasets.load_breast_cancer(return_X_y=True), 35),
    "make_classification(300, 50 features), 60 rows": (
        lambda s: datasets.make_classification(
            300, 50, n_informative=10, random_state=s), 60),
    "moons + 40 noise features, 50 rows": (_moons_in_noise, 50),
}

ESTIMATORS = {
    "LogisticRegression": lambda s: LogisticRegression(max_iter=2000),
    "MAT": lambda s: MATClassifier(random_state=s),
    'MAT(module="mlp")': lambda s: MATClassifier(module="mlp", random_state=s),
}


def run(seeds):
    torch.set_num_threads(1)
    rows = []
    for name, (load, n_train) in DATASETS.items():
        for seed in seeds:
            X, y = load(seed)
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, train_size=n_train, random_state=seed, stratify=y
            )
            for method, make in ESTIMATORS.items():
                model = make_pipeline(StandardScaler(), make(seed))
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X_train, y_train)
                rows.append(dict(
                    dataset=name, method=method, seed=seed,
                    accuracy=model.score(X_test, y_test),
                    head=getattr(model[-1], "module_", None),
                    fit_seconds=time.perf_counter() - start,
                ))
                print(f"{name:48s} {method:20s} seed {seed}: "
                      f"{rows[-1]['accuracy']:.3f}", flush=True)
    return pd.DataFrame(rows)


def report(frame, output_dir):
    mean = frame.pivot_table(index="dataset", columns="method",
                             values="accuracy", aggfunc="mean")
    mean = mean.loc[[d for d in DATASETS if d in mean.index],
                    [m for m in ESTIMATORS if m in mean.columns]]
    gap = mean["MAT"] - mean["LogisticRegression"]
    table = mean.map(lambda v: f"{v:.3f}")
    table["seeds"] = frame.groupby("dataset")["seed"].nunique()
    table["MAT - LogisticRegression"] = gap.map(lambda v: f"{v:+.3f}")
    table.index.name, table.columns.name = "data", None
    text = (
        "Test accuracy on ordinary data with more features than training "
        "rows, every estimator at its defaults after a `StandardScaler`, mean "
        "over seeds; made by `python benchmarks/wide_data.py`.\n\n"
        + markdown_table(table)
    )
    print(text)
    (output_dir / "wide_data.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    frame = run(range(args.first_seed, args.first_seed + args.seeds))
    frame.to_csv(args.output_dir / "wide_data.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
