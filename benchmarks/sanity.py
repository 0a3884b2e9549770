"""Ordinary data at defaults: is each estimator a dependable classifier?

A user who does not know whether their data hold a shortcut fits
``MATClassifier()`` as they would fit ``LogisticRegression()``. This script
fits every estimator at its defaults after a ``StandardScaler``, on data with
no spurious feature, and prints the test accuracy of a 70/30 split:

* ``make_blobs(300)`` (3 classes), iris, wine, breast cancer, digits (10
  classes), ``make_classification(2000)`` and
  ``make_classification(20000, n_features=50)``;
* scikit-learn's ``LogisticRegression`` and ``MLPClassifier`` (what a user
  already has), skmat's ``ERMClassifier``, ``XRMEstimator.predict`` (the
  twins' average) and ``MATClassifier``.

The bars (issue 11): ERM >= LogisticRegression - 0.02 and MAT >=
LogisticRegression - 0.03 on every row; the script prints which rows miss them.

Run ``python benchmarks/sanity.py`` (about four minutes on two cores with one
seed); the table is printed and written to ``docs/results/sanity.{csv,md}``.
``--first-seed 3 --output-dir docs/results/heldout_seeds`` runs seeds that
the published table does not use. ``--update NAME ...`` fits only those
data sets and replaces their rows in the CSV already there (after a change
that can move only them). ``--raw`` fits the four real data sets
(iris, wine, breast cancer, digits) on their own feature scales, with no
``StandardScaler``, as a user who skips it would, and adds whether the
skmat estimators warned (``FeatureScaleWarning``, share of seeds); written
to ``docs/results/sanity_raw.{csv,md}``.
"""

import argparse
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from sklearn import datasets
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmat import MATClassifier, XRMEstimator
from skmat.baselines import ERMClassifier

DATASETS = {
    "make_blobs(300), 3 classes": lambda s: datasets.make_blobs(300, random_state=s),
    "iris": lambda s: datasets.load_iris(return_X_y=True),
    "wine": lambda s: datasets.load_wine(return_X_y=True),
    "breast_cancer": lambda s: datasets.load_breast_cancer(return_X_y=True),
    "digits (10 classes)": lambda s: datasets.load_digits(return_X_y=True),
    "make_classification(2000)": lambda s: datasets.make_classification(
        2000, random_state=s
    ),
    "make_classification(20000, 50 features)": lambda s: (
        datasets.make_classification(20000, n_features=50, random_state=s)
    ),
}

ESTIMATORS = {
    "LogisticRegression": lambda s: LogisticRegression(max_iter=1000),
    "MLPClassifier": lambda s: MLPClassifier(max_iter=500, random_state=s),
    "ERMClassifier": lambda s: ERMClassifier(random_state=s),
    "XRMEstimator.predict": lambda s: XRMEstimator(random_state=s),
    "MATClassifier": lambda s: MATClassifier(random_state=s),
}

BARS = {"ERMClassifier": 0.02, "MATClassifier": 0.03}


# The real data sets, whose features come on their own scales (--raw).
RAW_DATASETS = ("iris", "wine", "breast_cancer", "digits (10 classes)")


def run(seeds, raw=False, only=None):
    """Fit every estimator on every data set (``only``: these) and seed."""
    # Imported here: fit_cost.py takes DATASETS from this module with older
    # versions of skmat on the path, which lack the warning.
    from skmat.exceptions import FeatureScaleWarning

    rows = []
    for name, load in DATASETS.items():
        if raw and name not in RAW_DATASETS:
            continue
        if only is not None and name not in only:
            continue
        for seed in seeds:
            X, y = load(seed)
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.3, random_state=seed
            )
            for method, make in ESTIMATORS.items():
                model = make(seed)
                if not raw:
                    model = make_pipeline(StandardScaler(), model)
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as record:
                    warnings.simplefilter("always")
                    model.fit(X_train, y_train)
                rows.append(
                    dict(
                        dataset=name,
                        method=method,
                        seed=seed,
                        accuracy=model.score(X_test, y_test),
                        fit_seconds=time.perf_counter() - start,
                        scale_warning=any(
                            w.category is FeatureScaleWarning for w in record
                        ),
                    )
                )
                print(f"{name:42s} {method:22s} seed {seed}: "
                      f"{rows[-1]['accuracy']:.3f} ({rows[-1]['fit_seconds']:.1f} s)",
                      flush=True)
    return pd.DataFrame(rows)


def table(results):
    mean = results.pivot_table(
        index="dataset", columns="method", values="accuracy", aggfunc="mean"
    )
    mean = mean.loc[[d for d in DATASETS if d in mean.index], list(ESTIMATORS)]
    return mean


def misses(mean):
    out = []
    for method, slack in BARS.items():
        gap = mean[method] - (mean["LogisticRegression"] - slack)
        for dataset in gap[gap < 0].index:
            out.append(
                f"{method} on {dataset}: {mean.loc[dataset, method]:.3f} < "
                f"LogisticRegression {mean.loc[dataset, 'LogisticRegression']:.3f}"
                f" - {slack}"
            )
    return out


def report(results, seeds, raw, output_dir, command):
    """Write ``sanity{,_raw}.md`` from the fits of ``results``; return its text."""
    mean = table(results)
    stem = "sanity_raw" if raw else "sanity"
    if raw:
        warned = results[results.method == "MATClassifier"].groupby("dataset")[
            "scale_warning"
        ].mean()
        mean["MAT warned (FeatureScaleWarning)"] = warned
    scaling = "no StandardScaler" if raw else "StandardScaler first"
    lines = [
        f"Test accuracy at defaults ({scaling}, 70/30 split, mean of "
        f"seeds {seeds.start} to {seeds.stop - 1}); made by `{command}`.",
        "",
        "| data | " + " | ".join(mean.columns) + " |",
        "|---" * (len(mean.columns) + 1) + "|",
    ]
    for dataset, row in mean.iterrows():
        lines.append(f"| {dataset} | " + " | ".join(
            f"{v:.0%}" if column.startswith("MAT warned") else f"{v:.3f}"
            for column, v in row.items()) + " |")
    failed = misses(mean)
    verdict = "all rows meet them." if not failed else "missed: " + "; ".join(failed)
    bars = "Bars (ERM >= LR - 0.02, MAT >= LR - 0.03)"
    if raw:
        bars += ", which hold for standardised features only"
    lines += ["", f"{bars}: {verdict}"]
    text = "\n".join(lines) + "\n"
    (output_dir / f"{stem}.md").write_text(text)
    return text


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds first-seed, first-seed + 1, ...")
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--raw", action="store_true",
                        help="no StandardScaler; the four real data sets only")
    parser.add_argument(
        "--update", nargs="+", metavar="DATASET", choices=list(DATASETS),
        help="fit only these data sets and replace their rows in the CSV "
        "already in --output-dir (same seeds); the table is redrawn from it",
    )
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    stem = "sanity_raw" if args.raw else "sanity"
    results = run(seeds, raw=args.raw, only=args.update)
    if args.update:
        kept = pd.read_csv(args.output_dir / f"{stem}.csv")
        if sorted(set(kept["seed"])) != list(seeds):
            raise SystemExit(
                f"{stem}.csv holds seeds {sorted(set(kept['seed']))}, not "
                f"{list(seeds)}: give the --seeds and --first-seed it was made with."
            )
        kept = kept[~kept["dataset"].isin(args.update)]
        order = {name: i for i, name in enumerate(DATASETS)}
        results = pd.concat([kept, results], ignore_index=True).sort_values(
            "dataset", key=lambda d: d.map(order), kind="stable"
        )
    results.to_csv(args.output_dir / f"{stem}.csv", index=False)
    command = f"python benchmarks/sanity.py --seeds {args.seeds}"
    if args.first_seed:
        command += f" --first-seed {args.first_seed}"
    if args.raw:
        command += " --raw"
    if args.update:
        # The table's figures come from two runs: say which rows are new.
        command += " --update " + " ".join(f'"{name}"' for name in args.update)
    text = report(results, seeds, args.raw, args.output_dir, command)
    print()
    print(text)


if __name__ == "__main__":
    main()
