"""A longer patience for MAT's candidates: what it changes.

The published table (``docs/results/patience.md``) was made before the
defaults gave a sharpened shift where a shortcut shows a patience of half
the budget: its ``default (20)`` column is the earlier defaults, and its
``50`` column equals today's defaults on every one of its 40 fits. Run
today, both columns give a patience of 50 to those networks and differ only
in the others' patience.

MAT early-stops each candidate head after ``n_iter_no_change`` epochs (20 by
default) without a better validation score. On the spurious data sets that
score is measured on a handful of minority rows, flat for long stretches,
and a strong shift that learns slowly can be stopped before it gets there.
This script fits ``MATClassifier()`` at its defaults and with
``n_iter_no_change=50`` (half the default budget of 100 epochs) on the four
synthetic spurious data sets, ``fit(X_train, y_train)`` only, and reports
test worst-group accuracy, the temperature kept and the fit time (two jobs
sharing the cores: indicative only).

Run ``python benchmarks/patience.py --n-jobs 2`` (seeds 0-9, about 20
minutes on two cores); the table is printed and written to
``docs/results/patience.{csv,md}``.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spurious_defaults import load  # noqa: E402

from skmat import MATClassifier  # noqa: E402
from skmat.metrics import worst_group_accuracy  # noqa: E402

DATASETS = ["interpretable", "colored_digits", "colored_digits_colour",
            "colored_digits3"]
PATIENCES = {"default (20)": {}, "50": {"n_iter_no_change": 50}}


def run_one(name, seed):
    torch.set_num_threads(1)
    (X, y, X_test, y_test, groups), _ = load(name, seed)
    row = dict(dataset=name, seed=seed)
    for label, params in PATIENCES.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MATClassifier(random_state=seed, **params).fit(X, y)
        row[f"seconds {label}"] = time.perf_counter() - start
        row[f"wga {label}"] = worst_group_accuracy(
            y_test, model.predict(X_test), group_labels=groups)
        row[f"tau {label}"] = model.temperature_
    print(f"{name} seed {seed}: " + ", ".join(
        f"{label} {row[f'wga {label}']:.3f} (tau {row[f'tau {label}']:g}, "
        f"{row[f'seconds {label}']:.0f} s)" for label in PATIENCES), flush=True)
    return row


def report(frame, output_dir):
    labels = list(PATIENCES)
    lines = [
        "Test worst-group accuracy of `MATClassifier()` at its defaults and "
        "with `n_iter_no_change=50`, `fit(X_train, y_train)` only, mean over "
        "seeds 0-4 and 5-9, and the median fit time (two jobs sharing two "
        "cores). Made by `python benchmarks/patience.py --n-jobs 2`.",
        "",
        "| data | seeds | " + " | ".join(f"WGA, patience {lb}" for lb in labels)
        + " | seeds changed | " + " | ".join(f"seconds, {lb}" for lb in labels)
        + " |",
        "|---|---|" + "---|" * (2 * len(labels) + 1),
    ]
    frame = frame.assign(half=(frame["seed"] >= 5).map({False: "0-4", True: "5-9"}))
    for (dataset, half), rows in frame.groupby(["dataset", "half"], sort=False):
        changed = (rows[f"wga {labels[0]}"] != rows[f"wga {labels[1]}"]).sum()
        wga = " | ".join(f"{rows[f'wga {lb}'].mean():.3f}" for lb in labels)
        seconds = " | ".join(f"{rows[f'seconds {lb}'].median():.0f}" for lb in labels)
        lines.append(f"| {dataset} | {half} | {wga} | {changed} | {seconds} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "patience.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(name, seed) for name in DATASETS for seed in range(args.seeds)]
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run_one)(name, seed) for name, seed in tasks
    )
    frame = pd.DataFrame(rows)
    frame.to_csv(args.output_dir / "patience.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
