"""Weight decay at scikit-learn's strength: does it help MAT's defaults?

``MATClassifier`` trains with ``weight_decay=0`` by default.
``LogisticRegression``'s default (``C=1``) penalises ``||w||^2 / 2`` against
the *sum* of the row losses, that is ``1 / n_samples`` times it against their
mean, the loss SGD's ``weight_decay`` acts on. This script fits
``MATClassifier(weight_decay=c / n_samples)`` (every network of the fit:
XRM's twins, the candidate heads, the refit) for each ``c`` of ``--c``,
``fit(X_train, y_train)`` only, and compares each fit with the default
(``weight_decay=0``) fitted the same way:

* the planted data sets and Adult cut to 1,000 and 3,000 rows, test
  worst-group accuracy, as ``spurious_defaults.py`` makes and scores them
  (the Adult rows on every group attribute of that script);
* the data sets of ``sanity.py`` after a ``StandardScaler``, test accuracy
  of the same 70/30 splits.

Run ``python benchmarks/weight_decay.py --n-jobs 2`` (about 5 minutes on
two cores); the table is printed and written to
``docs/results/weight_decay.{csv,md}``.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sanity  # noqa: E402
import spurious_defaults  # noqa: E402

from skmat.metrics import worst_group_accuracy  # noqa: E402

SPURIOUS = ["interpretable", "colored_digits", "colored_digits_colour",
            "colored_digits3", "adult1000", "adult3000"]


def _mat(model):
    return model[-1] if hasattr(model, "steps") else model


def spurious_fits(name, seed, cs):
    """Rows of one planted (or small Adult) data set and seed, each ``c``."""
    torch.set_num_threads(1)
    (X, y, X_test, y_test, g_test), scale = spurious_defaults.load(name, seed)
    groupings = spurious_defaults.test_groupings(name, y_test, g_test)
    rows = []
    for c in cs:
        model = spurious_defaults.methods(seed, scale)["MAT"]
        _mat(model).set_params(weight_decay=c / len(y))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, y)
        pred = model.predict(X_test)
        for row_name, groups in groupings.items():
            rows.append(dict(
                data=row_name, seed=seed, c=c, metric="WGA",
                value=worst_group_accuracy(y_test, pred, group_labels=groups),
                temperature=_mat(model).temperature_, head=_mat(model).module_,
            ))
    return rows


def sanity_fits(name, seed, cs):
    """Rows of one data set of ``sanity.py`` and seed, each ``c``."""
    from skmat import MATClassifier

    torch.set_num_threads(1)
    X, y = sanity.DATASETS[name](seed)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, random_state=seed
    )
    rows = []
    for c in cs:
        model = make_pipeline(StandardScaler(), MATClassifier(
            weight_decay=c / len(y_train), random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X_train, y_train)
        rows.append(dict(
            data=name, seed=seed, c=c, metric="accuracy",
            value=model.score(X_test, y_test),
            temperature=model[-1].temperature_, head=model[-1].module_,
        ))
    return rows


def report(frame, output_dir):
    """Mean of each data set per ``c`` and the change from ``c = 0``."""
    base = frame[frame.c == 0][["data", "seed", "value"]]
    frame = frame.merge(base, on=["data", "seed"], suffixes=("", "_default"))
    frame["change"] = frame["value"] - frame["value_default"]
    cs = sorted(c for c in frame.c.unique() if c != 0)
    order = list(dict.fromkeys(frame.data))
    lines = [
        "Test worst-group accuracy (planted sets, Adult with 1,000 or 3,000 "
        "rows and its attributes) or accuracy (`sanity.py`'s data sets), mean "
        "over seeds, of `MATClassifier(weight_decay=c / n_samples)`, "
        "`fit(X_train, y_train)` only; `c = 0` is the default. The change "
        "columns give the mean and the range over seeds of each fit's "
        "difference from the default's. Made by "
        "`python benchmarks/weight_decay.py`.",
        "",
        "| data | metric | seeds | c = 0 | "
        + " | ".join(f"c = {c:g} | change, c = {c:g}" for c in cs) + " |",
        "|---|---|---|---|" + "---|---|" * len(cs),
    ]
    for data in order:
        rows = frame[frame.data == data]
        cells = [data, rows.metric.iloc[0], str(rows.seed.nunique()),
                 f"{rows[rows.c == 0].value.mean():.3f}"]
        for c in cs:
            at = rows[rows.c == c]
            cells += [f"{at.value.mean():.3f}",
                      f"{at.change.mean():+.3f} ({at.change.min():+.3f} to "
                      f"{at.change.max():+.3f})"]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "weight_decay.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--c", type=float, nargs="+", default=[1.0, 10.0],
                        help="weight_decay = c / n_samples (0, the default, "
                        "is always fitted)")
    parser.add_argument("--seeds", type=int, default=5,
                        help="seeds of the planted and Adult sets (sanity: 3)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--from-csv", type=Path,
                        help="no fit: write the table from this result file")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.from_csv:
        report(pd.read_csv(args.from_csv), args.output_dir)
        return
    cs = [0.0, *args.c]
    jobs = [delayed(spurious_fits)(name, seed, cs)
            for name in SPURIOUS for seed in range(args.seeds)]
    jobs += [delayed(sanity_fits)(name, seed, cs)
             for name in sanity.DATASETS for seed in range(3)]
    results = Parallel(n_jobs=args.n_jobs, verbose=5)(jobs)
    frame = pd.DataFrame([row for rows in results for row in rows])
    frame["value"] = frame["value"].astype(np.float64)
    frame.to_csv(args.output_dir / "weight_decay.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
