"""What group labels give on the planted data, against MAT with none.

The bars of issue 11 on the planted spurious data sets ask MAT to reach a
worst-group accuracy (WGA) from ``fit(X_train, y_train)`` alone. This
measures what the same networks reach when the group labels are *given*,
so that a bar can be read against what the data and the networks allow:

* ``MAT``: ``MATClassifier(random_state=seed).fit(X_train, y_train)``, no
  group labels anywhere (the product; the figure of
  ``spurious_defaults.py``);
* ``MAT, validation groups``: the same defaults given the data set's own
  validation split with its true groups (``X_val``, ``y_val``,
  ``group_labels_val``): half of its rows are minority rows, so the epoch,
  the temperature and the head are chosen on true worst-group accuracy;
* ``ERM, group-balanced (linear)`` and ``(MLP)``:
  ``ERMClassifier(balance="reweight_group")`` with the true *training*
  groups and the same group-labelled validation split (Idrissi et al.,
  2022: the group-balanced baseline that needs every label);
* ``GroupDRO (MLP)``: ``GroupDROClassifier(module="mlp")`` with the true
  training groups and the same validation split (the usual oracle of the
  literature).

Every estimator is otherwise at its defaults. Data sets:
``make_spurious_memorization`` (``interpretable``), ``make_colored_digits``
with the grey copy (``colored_digits``), on colour channels only
(``colored_digits_colour``) and with 3 classes (``colored_digits3``).

Run ``python benchmarks/group_labels_reference.py --seeds 20 --n-jobs 2``
(about 20 minutes on two cores); the table is printed and written to
``docs/results/group_labels_reference.{csv,md}``.
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed

from skmat import MATClassifier
from skmat.baselines import ERMClassifier, GroupDROClassifier
from skmat.datasets import make_colored_digits, make_spurious_memorization
from skmat.metrics import worst_group_accuracy

DATASETS = {
    "interpretable": make_spurious_memorization,
    "colored_digits": make_colored_digits,
    "colored_digits_colour": lambda random_state: make_colored_digits(
        grayscale=False, random_state=random_state),
    "colored_digits3": lambda random_state: make_colored_digits(
        n_classes=3, random_state=random_state),
}

# (method, estimator factory, what fit is given: "nothing", "validation
# groups", or "all groups").
METHODS = [
    ("MAT", lambda s: MATClassifier(random_state=s), "nothing"),
    ("MAT, validation groups", lambda s: MATClassifier(random_state=s),
     "validation groups"),
    ("ERM, group-balanced (linear)",
     lambda s: ERMClassifier(balance="reweight_group", random_state=s),
     "all groups"),
    ("ERM, group-balanced (MLP)",
     lambda s: ERMClassifier(balance="reweight_group", module="mlp",
                             random_state=s),
     "all groups"),
    ("GroupDRO (MLP)",
     lambda s: GroupDROClassifier(module="mlp", random_state=s),
     "all groups"),
]


def run_one(name, seed):
    """Fit every method on one data set and seed; return their rows."""
    torch.set_num_threads(1)
    data = DATASETS[name](random_state=seed)
    validation = dict(X_val=data.X_valid, y_val=data.y_valid,
                      group_labels_val=data.group_labels_valid)
    rows = []
    for method, make, given in METHODS:
        fit_params = {}
        if given != "nothing":
            fit_params.update(validation)
        if given == "all groups":
            fit_params["group_labels"] = data.group_labels_train
        model = make(seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(data.X_train, data.y_train, **fit_params)
        seconds = time.perf_counter() - start
        pred = model.predict(data.X_test)
        minority = np.isin(data.group_labels_test, data.minority_groups)
        rows.append(dict(
            dataset=name, method=method, seed=seed,
            wga=worst_group_accuracy(data.y_test, pred,
                                     group_labels=data.group_labels_test),
            minority_acc=float(np.mean(pred[minority] == data.y_test[minority])),
            fit_seconds=seconds,
        ))
        print(f"{name:22s} seed {seed:2d} {method:29s} WGA {rows[-1]['wga']:.3f}"
              f" ({seconds:.0f} s)", flush=True)
    return rows


def report(frame, output_dir):
    """Print and write the Markdown table of mean (and lowest) test WGA."""
    names = [m for m, _, _ in METHODS]
    mean = frame.pivot_table(index="dataset", columns="method", values="wga",
                             aggfunc="mean")
    low = frame.pivot_table(index="dataset", columns="method", values="wga",
                            aggfunc="min")
    datasets = [d for d in DATASETS if d in mean.index]
    seeds = frame.groupby("dataset")["seed"].agg(["min", "max", "nunique"])
    lines = [
        "Test worst-group accuracy, mean over seeds (lowest seed in "
        "brackets). `MAT`: `fit(X_train, y_train)` only, no group labels "
        "anywhere; `MAT, validation groups`: the same defaults given the data "
        "set's validation split and its true groups; the last three are "
        "given the true groups of the training rows too. Made by `python "
        "benchmarks/group_labels_reference.py`.",
        "",
        "| data | seeds | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for d in datasets:
        s = seeds.loc[d]
        cells = [f"{mean.loc[d, m]:.3f} ({low.loc[d, m]:.3f})" for m in names]
        lines.append(f"| {d} | {s['min']}-{s['max']} | " + " | ".join(cells)
                     + " |")
    text = "\n".join(lines) + "\n"
    (output_dir / "group_labels_reference.md").write_text(text)
    print()
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=list(DATASETS))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    results = Parallel(n_jobs=args.n_jobs)(
        delayed(run_one)(name, seed) for name in args.datasets for seed in seeds
    )
    frame = pd.DataFrame([row for rows in results for row in rows])
    frame.to_csv(args.output_dir / "group_labels_reference.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
