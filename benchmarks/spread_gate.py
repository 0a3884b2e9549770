"""The spread gate opened: what the sharpened shifts do where it is shut.

Without group labels, ``MATClassifier(temperature="auto")`` trains the
sharpened shifts (tau = 0.5, 0.25) only where XRM's held-out mistakes look
like a shortcut's minority, ``heldout_mistake_spread_`` at most 0.1 (the
gate); elsewhere it keeps class balancing or tau = 2. The gate misses
shortcuts over a noisy core (``random_shortcuts.py``), and no threshold on
the spread separates those from ordinary data above 0.14. This script asks
whether anything else XRM's mistakes show, with no group labels, could.

On the data of ``random_shortcuts.py`` (configurations 0-79) and
``random_tabular.py`` (0-179), each configuration is fitted as the default
does, ``MATClassifier(random_state=i).fit(X_train, y_train)``, with the
gate *opened* (the private threshold ``skmat._mat.MAX_MISTAKE_SPREAD``
raised for this run, so that the sharpened shifts compete wherever the
spread is finite and ``minority_lift_`` alone keeps them out). Fits whose
spread is at most 0.1, or undefined (fewer than 4 mistakes), are the
default's own and are stopped once XRM is fitted. For the others the
opened fit's test score is set against the default's, read from the
published result files of the two scripts (``--defaults``), beside
statistics of XRM's held-out mistakes in the training part of MAT's split:
their number, the median calibrated probability of the true class, and
that median times the number of classes (a mistake at a two-class boundary
has about 1/2, one a shortcut or a flipped label makes confidently wrong
far less); and, for the planted shortcuts only, what no rule can read: the
share of the mistakes that are the shortcut's minority.

Run ``python benchmarks/spread_gate.py --n-jobs 2`` (about 15 minutes on
two cores); the tables are printed and written to
``docs/results/spread_gate.{csv,md}``; ``--from-csv`` redraws them.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parent))

import random_shortcuts  # noqa: E402
import random_tabular  # noqa: E402

from skmat import MATClassifier  # noqa: E402
from skmat.metrics import worst_class_accuracy, worst_group_accuracy  # noqa: E402

GATE = 0.1  # the package's MAX_MISTAKE_SPREAD
FAMILIES = {"shortcuts": range(0, 80), "ordinary": range(0, 180)}
DEFAULT_FILES = {
    "shortcuts": ["random_shortcuts.csv", "heldout_seeds/random_shortcuts.csv"],
    "ordinary": ["random_tabular.csv", "heldout_seeds/random_tabular.csv"],
}


def _open_gate():
    """Patch the package in this process: the gate opened, XRM recorded.

    Returns the record of the next fit (cleared) and the exception that
    stops a fit whose spread keeps the gate shut anyway. Both live on the
    patched module, so that every task a worker process runs shares them.
    """
    import skmat._mat as mat

    if not hasattr(mat, "_spread_gate"):
        record = {}

        class GateShut(Exception):
            pass

        spread, split = mat._mistake_spread, mat.MATClassifier._split

        def recording_split(self, y_enc, strata, seed):
            train, valid = split(self, y_enc, strata, seed)
            record["train_rows"] = np.asarray(train)
            return train, valid

        def recording_spread(calibrated, y):
            value = spread(calibrated, y)
            calibrated = np.asarray(calibrated, dtype=np.float64)
            wrong = calibrated.argmax(axis=1) != y
            p_true = softmax(calibrated, axis=1)[np.arange(len(y)), y][wrong]
            record.update(spread=value, p_true=p_true, wrong=np.flatnonzero(wrong),
                          n_classes=calibrated.shape[1])
            if not np.isfinite(value) or value <= GATE:
                raise GateShut  # the default's own fit
            return value

        mat._mistake_spread = recording_spread
        mat.MATClassifier._split = recording_split
        mat.MAX_MISTAKE_SPREAD = np.inf
        mat._spread_gate = (record, GateShut)
    record, shut = mat._spread_gate
    record.clear()
    return record, shut


def run_one(family, i):
    torch.set_num_threads(1)
    record, gate_shut = _open_gate()
    if family == "shortcuts":
        _, X, y, groups, X_test, y_test, g_test = random_shortcuts.make_data(i)
    else:
        _, _, X, X_test, y, y_test = random_tabular.make_data(i)
        if np.bincount(y).min() < 2:  # left out of random_tabular.py too
            return None
    model = MATClassifier(random_state=i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(X, y)
            opened = True
        except gate_shut:
            opened = False
    p_true, k = record["p_true"], record["n_classes"]
    median = float(np.median(p_true)) if len(p_true) else np.nan
    row = dict(family=family, config=i, n_classes=k, spread=record["spread"],
               opened=opened, mistakes=len(p_true), median_p_true=median,
               k_median=k * median)
    if family == "shortcuts":
        rows = record["train_rows"][record["wrong"]]
        minority = groups[rows] // k != groups[rows] % k
        row["minority_share"] = float(minority.mean()) if len(rows) else np.nan
    if opened:
        pred = model.predict(X_test)
        row.update(tau=model.temperature_, module=str(model.module_),
                   lift=model.minority_lift_)
        if family == "shortcuts":
            row["wga"] = worst_group_accuracy(y_test, pred, group_labels=g_test)
        else:
            row["accuracy"] = float(np.mean(pred == y_test))
            row["worst_class"] = float(worst_class_accuracy(y_test, pred))
    print(f"{family} {i:3d}: spread {row['spread']:.3f} opened {opened} "
          f"median {median:.3f} x k {k * median:.3f}", flush=True)
    return row


def with_defaults(frame, results_dir):
    """Join the default's published test scores (and check its spread)."""
    parts = []
    for family, part in frame.groupby("family"):
        published = pd.concat(
            [pd.read_csv(results_dir / name) for name in DEFAULT_FILES[family]]
        ).set_index("config")
        part = part.set_index("config")
        if family == "shortcuts":
            part["default wga"] = published.loc[part.index, "MAT"]
        else:
            part["default accuracy"] = published.loc[part.index, "MAT accuracy"]
            part["default worst_class"] = published.loc[
                part.index, "MAT worst class"]
            part["imbalanced"] = published.loc[part.index, "imbalanced"]
        drift = np.abs(part["spread"] - published.loc[part.index, "spread"])
        stale = part.index[(drift > 1e-3) & np.isfinite(part["spread"])]
        if len(stale):
            print(f"warning: {family} configurations {list(stale)} have another "
                  "spread than the published files: those defaults are stale")
        parts.append(part.reset_index())
    return pd.concat(parts, ignore_index=True)


def _cells(part, family):
    """Fits, mean gain of the opened fit, and fits up / down by 0.02."""
    if family == "shortcuts":
        gains = [part["wga"] - part["default wga"]]
    else:
        gains = [part["accuracy"] - part["default accuracy"],
                 part["worst_class"] - part["default worst_class"]]
    cells = [str(len(part))]
    for gain in gains:
        if len(part):
            cells.append(f"{gain.mean():+.3f}, {(gain > 0.02).sum()} / "
                         f"{(gain < -0.02).sum()}")
        else:
            cells.append("-")
    return cells


def report(frame, output_dir):
    opened = frame[frame["opened"]]
    lines = [
        "The sharpened shifts let in where the spread of XRM's held-out "
        "mistakes keeps them out (above 0.1): the default `MATClassifier()` "
        "with that gate opened against the default's published test score, "
        "on shortcuts planted at random (`random_shortcuts.py`, "
        "configurations 0-79; worst-group accuracy) and ordinary data drawn at "
        "random (`random_tabular.py`, 0-179; accuracy and worst-class "
        "accuracy). Each cell: mean gain of the opened fit, then fits up / "
        "down by more than 0.02. Made by `python benchmarks/spread_gate.py "
        "--n-jobs 2`.",
        "",
        f"Fits: {len(frame)}; spread above 0.1 (gate opened): "
        + ", ".join(f"{family} {int(part['opened'].sum())} of {len(part)}"
                    for family, part in frame.groupby("family", sort=False))
        + ".",
        "",
    ]

    def table(title, column, bins, labels, fits=opened, note=""):
        lines.extend([
            f"By {title}{note}:",
            "",
            f"| {title} | shortcuts: fits | WGA gain | ordinary: fits | "
            "accuracy gain | worst-class gain |",
            "|---|---|---|---|---|---|",
        ])
        for (lo, hi), label in zip(bins, labels, strict=True):
            cells = []
            for family in ("shortcuts", "ordinary"):
                part = fits[(fits["family"] == family)
                            & (fits[column] > lo) & (fits[column] <= hi)]
                cells += _cells(part, family)
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")

    table("spread", "spread",
          [(0.1, 0.15), (0.15, 0.2), (0.2, 0.3), (0.3, np.inf)],
          ["(0.10, 0.15]", "(0.15, 0.20]", "(0.20, 0.30]", "above 0.30"])
    table("median p(true) x classes", "k_median",
          [(-np.inf, 0.3), (0.3, 0.5), (0.5, 0.7), (0.7, np.inf)],
          ["at most 0.3", "(0.3, 0.5]", "(0.5, 0.7]", "above 0.7"],
          fits=opened[opened["mistakes"] >= 20],
          note=" (fits with at least 20 mistakes: the median of fewer is noise)")
    shortcuts = opened[opened["family"] == "shortcuts"]
    lines.extend([
        "Planted shortcuts, by the share of XRM's mistakes that are the "
        "shortcut's minority (not readable without group labels):",
        "",
        "| minority share of the mistakes | fits | WGA gain | median p(true) x "
        "classes (mean) |",
        "|---|---|---|---|",
    ])
    for lo, hi, label in [(0, 0.5, "below 0.5"), (0.5, 0.85, "0.5 to 0.85"),
                          (0.85, 1.01, "0.85 or more")]:
        part = shortcuts[(shortcuts["minority_share"] >= lo)
                         & (shortcuts["minority_share"] < hi)]
        lines.append(f"| {label} | " + " | ".join(_cells(part, "shortcuts"))
                     + f" | {part['k_median'].mean():.2f} |")
    text = "\n".join(lines) + "\n"
    (output_dir / "spread_gate.md").write_text(text)
    print()
    print(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--defaults", type=Path, default=Path("docs/results"),
                        help="directory of the published random_shortcuts and "
                        "random_tabular result files")
    parser.add_argument("--from-csv", type=Path,
                        help="no fit: write the tables from this result file")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.from_csv:
        frame = pd.read_csv(args.from_csv)
    else:
        jobs = [(family, i) for family, configs in FAMILIES.items()
                for i in configs]
        rows = Parallel(n_jobs=args.n_jobs)(
            delayed(run_one)(family, i) for family, i in jobs)
        frame = with_defaults(pd.DataFrame([r for r in rows if r]), args.defaults)
        frame.to_csv(args.output_dir / "spread_gate.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
