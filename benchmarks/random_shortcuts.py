"""Shortcuts planted at random in ordinary data: does MAT find them alone?

The planted data sets of ``benchmarks/spurious_defaults.py`` and the
variants of ``benchmarks/shortcut_variants.py`` were each built by hand.
This script draws shortcut data at random instead (added once the defaults
were set, so that none of them chose a default): configuration ``j`` comes
from ``RandomState(2000 + j)``, which draws

* a core task: ``make_classification`` with 2 to 4 classes (binary twice
  as often), 1,000 to 4,000 training rows and 2,000 test rows, 5 to 40
  features of which 2 to 8 informative, one or two clusters per class, a
  class separation of 1 to 2 and, in a third of the draws, 2% of the
  labels drawn at random;
* a shortcut: an attribute with one value per class that equals the
  (possibly noisy) label in a fraction 0.8, 0.9 or 0.95 of the training
  rows (another value at random otherwise) and is drawn at random in the
  test rows, given as one indicator feature per value times a scale of 1,
  2 or 3, plus Gaussian noise of standard deviation 0.5; in a third of the
  draws every feature is then rotated at random (as in a backbone's
  embedding, where no one feature is the attribute).

Groups are class x attribute. Every feature is standardised on the
training rows; each method is fitted at its defaults on the training rows
alone (no validation split, no group labels, but for the one that says
so) and scored by test worst-group accuracy: ``MATClassifier()``,
``MATClassifier(temperature=0.5)`` (a user who knows there is a
shortcut), ``MATClassifier()`` given a fifth of the training rows with
their group labels as its validation split (``fit(X, y, X_val=, y_val=,
group_labels_val=)``, the rest to train: what a few group labels buy),
``ERMClassifier()`` plain and class-balanced (the same network),
``LogisticRegression(class_weight="balanced")`` and
``HistGradientBoostingClassifier(class_weight="balanced")``.

Run ``python benchmarks/random_shortcuts.py --n-jobs 2`` (40
configurations, about 8 minutes on two cores); the tables are printed and
written to ``docs/results/random_shortcuts.{csv,md}``. ``--first-config
40`` draws configurations the published table does not use;
``--figure-from`` draws ``random_shortcuts.png`` (the spread of each fit
against what ``temperature=0.5`` gives) from result files, without fitting.
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skmat import MATClassifier
from skmat.baselines import ERMClassifier
from skmat.metrics import worst_group_accuracy

N_TEST = 2000


def draw_config(j):
    """Return the settings of configuration ``j`` (a dict)."""
    rng = np.random.RandomState(2000 + j)
    n_classes = int(rng.choice([2, 2, 3, 4]))
    n_features = int(rng.choice([5, 10, 20, 40]))
    informative = int(min(n_features, rng.choice([2, 3, 5, 8])))
    # make_classification needs 2 ** informative >= classes x clusters.
    informative = max(informative, int(np.ceil(np.log2(2 * n_classes))))
    return dict(
        n_classes=n_classes,
        n_train=int(rng.choice([1000, 2000, 4000])),
        n_features=max(n_features, informative),
        n_informative=informative,
        n_clusters_per_class=int(rng.choice([1, 2])),
        class_sep=float(rng.choice([1.0, 1.5, 2.0])),
        flip_y=float(rng.choice([0.0, 0.0, 0.02])),
        majority=float(rng.choice([0.8, 0.9, 0.95])),
        scale=float(rng.choice([1.0, 2.0, 3.0])),
        rotated=bool(rng.rand() < 1 / 3),
    )


def make_data(j):
    """Training and test rows of configuration ``j``, with their groups.

    Returns ``config, X, y, groups, X_test, y_test, groups_test``.
    """
    config = draw_config(j)
    k, n_train = config["n_classes"], config["n_train"]
    X, y = make_classification(
        n_samples=n_train + N_TEST, n_features=config["n_features"],
        n_informative=config["n_informative"], n_redundant=0, n_classes=k,
        n_clusters_per_class=config["n_clusters_per_class"],
        class_sep=config["class_sep"], flip_y=config["flip_y"], random_state=j)
    rng = np.random.RandomState(j)
    other = (y + rng.randint(1, k, len(y))) % k
    attribute = np.where(rng.rand(len(y)) < config["majority"], y, other)
    attribute[n_train:] = rng.randint(0, k, N_TEST)
    shortcut = config["scale"] * np.eye(k)[attribute] + 0.5 * rng.randn(len(y), k)
    X = np.hstack([X, shortcut])
    if config["rotated"]:
        X = X @ np.linalg.qr(rng.randn(X.shape[1], X.shape[1]))[0]
    scaler = StandardScaler().fit(X[:n_train])
    X = scaler.transform(X).astype(np.float32)
    groups = k * y + attribute
    train, test = slice(None, n_train), slice(n_train, None)
    return (config, X[train], y[train], groups[train], X[test], y[test],
            groups[test])


LABELLED = "MAT, 20% labelled validation"


def methods(seed):
    return {
        "MAT": MATClassifier(random_state=seed),
        LABELLED: MATClassifier(random_state=seed),
        "MAT(temperature=0.5)": MATClassifier(temperature=0.5, random_state=seed),
        "ERM": ERMClassifier(random_state=seed),
        "ERM, class-balanced": ERMClassifier(
            balance="reweight_class", random_state=seed),
        "LogisticRegression(balanced)": LogisticRegression(
            class_weight="balanced", max_iter=3000),
        "HistGradientBoosting(balanced)": HistGradientBoostingClassifier(
            class_weight="balanced", random_state=seed),
    }


def run_one(j):
    torch.set_num_threads(1)
    config, X, y, groups, X_test, y_test, g_test = make_data(j)
    row = dict(config=j, settings=json.dumps(config))
    # What a few group labels buy: a fifth of the training rows, with their
    # groups, as MAT's validation split (the rest to train).
    fit, val = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y,
                                random_state=j)
    for name, model in methods(j).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if name == LABELLED:
                model.fit(X[fit], y[fit], X_val=X[val], y_val=y[val],
                          group_labels_val=groups[val])
            else:
                model.fit(X, y)
        row[name] = worst_group_accuracy(
            y_test, model.predict(X_test), group_labels=g_test)
        if name == "MAT":
            row.update(tau=model.temperature_, spread=model.heldout_mistake_spread_,
                       lift=model.minority_lift_)
    print(f"config {j:3d} k={config['n_classes']} majority {config['majority']} "
          f"rotated {config['rotated']!s:5s} MAT {row['MAT']:.3f} (tau {row['tau']}, "
          f"spread {row['spread']:.3f}) ERM bal {row['ERM, class-balanced']:.3f} "
          f"MAT(0.5) {row['MAT(temperature=0.5)']:.3f}", flush=True)
    return row


METHODS = list(methods(0))  # the table's columns


def report(frame, output_dir):
    settings = pd.DataFrame([json.loads(s) for s in frame["settings"]])
    frame = pd.concat([frame.reset_index(drop=True), settings], axis=1)
    frame["best ERM"] = frame[["ERM", "ERM, class-balanced"]].max(axis=1)
    frame["sharpened"] = frame["tau"] < 1
    lines = [
        "Test worst-group accuracy on shortcuts planted at random "
        "(`python benchmarks/random_shortcuts.py`), every method at its "
        "defaults, `fit(X_train, y_train)` only, no group labels anywhere; "
        "mean over the configurations of each row. `sharpened`: share of MAT "
        "fits that kept tau < 1; `MAT - best ERM`: against the better of ERM "
        "and class-balanced ERM, mean and worst configuration.",
        "",
        "| configurations | n | " + " | ".join(METHODS)
        + " | sharpened | MAT - best ERM (mean / worst) |",
        "|---" * (len(METHODS) + 4) + "|",
    ]

    def line(label, part):
        gap = part["MAT"] - part["best ERM"]
        cells = [f"{part[m].mean():.3f}" for m in METHODS]
        return (f"| {label} | {len(part)} | " + " | ".join(cells)
                + f" | {part['sharpened'].mean():.0%} | {gap.mean():+.3f} / "
                f"{gap.min():+.3f} |")

    for column, label in [("majority", "majority {}"), ("n_classes", "{} classes"),
                          ("rotated", "rotated: {}")]:
        for value, part in frame.groupby(column):
            lines.append(line(label.format(value), part))
    lines.append(line("all", frame))
    text = "\n".join(lines) + "\n"
    (output_dir / "random_shortcuts.md").write_text(text)
    print()
    print(text)


def figure(frame, path):
    """What a sharpened shift gives against the spread of XRM's mistakes.

    One point per configuration: ``heldout_mistake_spread_`` of the default
    fit (no spread, fewer than 4 mistakes, drawn at the right edge) against
    the test worst-group accuracy of ``MATClassifier(temperature=0.5)``
    minus the default's, marked by whether the default kept a sharpened
    shift.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install skmat[plot])")
        return None
    edge = 0.4
    spread = frame["spread"].clip(upper=edge).fillna(edge)
    gain = frame["MAT(temperature=0.5)"] - frame["MAT"]
    sharpened = frame["tau"] < 1
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.scatter(spread[~sharpened], gain[~sharpened], s=22, c="tab:blue",
               label="default kept tau >= 2")
    ax.scatter(spread[sharpened], gain[sharpened], s=30, c="tab:red", marker="s",
               label="default kept tau < 1")
    ax.axvline(0.1, color="grey", ls="--", lw=1)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.text(0.102, ax.get_ylim()[1] * 0.92, "spread threshold 0.1", fontsize=8,
            color="grey")
    ax.set_xlabel("heldout_mistake_spread_ of the default fit "
                  f"(none: drawn at {edge})")
    ax.set_ylabel("WGA of temperature=0.5 minus the default's")
    ax.set_title(f"Shortcuts planted at random, {len(frame)} configurations")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=40)
    parser.add_argument("--first-config", type=int, default=0,
                        help="configurations first-config, first-config + 1, ... "
                        "(the published table uses 0-39)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--figure-from", type=Path, nargs="+",
                        help="no fit: draw random_shortcuts.png in the output "
                        "directory from these result files")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.figure_from:
        frame = pd.concat([pd.read_csv(path) for path in args.figure_from])
        print(figure(frame, args.output_dir / "random_shortcuts.png"))
        return
    configs = range(args.first_config, args.first_config + args.configs)
    rows = Parallel(n_jobs=args.n_jobs)(delayed(run_one)(j) for j in configs)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.output_dir / "random_shortcuts.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
