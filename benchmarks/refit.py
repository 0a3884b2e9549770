"""MAT's refit on every row: when it helps, and what ``refit="auto"`` keeps.

Once the temperature and the epoch are chosen on the internal validation
split, ``MATClassifier(refit=True)`` trains the network again on every row
for as many optimizer steps. That gives the minority a quarter more rows,
and loses the epoch validated on the split (the new run is stopped after a
step count, wherever its curve then is). ``refit="auto"``, the default,
refits only when the smallest group scored on the validation rows (XRM's
inferred groups here) has fewer than 100 rows. Each data set and seed is
fitted at defaults, ``fit(X_train, y_train)`` only, with ``refit=False`` and
``refit=True``. Columns:

* ``smallest group``: rows of the smallest inferred validation group (mean
  over seeds); ``auto refits``: seeds where ``"auto"`` refits;
* ``no refit`` / ``refit`` / ``auto``: test worst-group accuracy (accuracy on
  ``make_classification``), ``auto`` being whichever of the two the rule
  picks on each seed.

The data: the interpretable and coloured-digit sets of ``spurious_defaults``;
the interpretable recipe with 12,500 rows and a 1% minority
(``interpretable_12500``: large data, few minority rows); Adult, whose
worst group is scored for three attributes of its test rows (``sex``, the
official groups; ``race``, White or not; ``age`` 40 or more), the network
being the same; and ``make_classification(20000, 50 features)`` from the
sanity set (StandardScaler first, 70/30).

Run ``python benchmarks/refit.py --n-jobs 2`` (about 16 minutes on two cores);
the table is printed and written to ``docs/results/refit.{csv,md}``.
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_cost import standardise_adult  # noqa: E402
from head_choice import split  # noqa: E402
from spurious_defaults import _split, load  # noqa: E402

from skmat import MATClassifier  # noqa: E402
from skmat._base import _REFIT_MAX_GROUP  # noqa: E402
from skmat.datasets import fetch_adult, make_spurious_memorization  # noqa: E402
from skmat.metrics import worst_group_accuracy  # noqa: E402

DATASETS = {
    "interpretable": 5,
    "colored_digits": 5,
    "colored_digits_colour": 5,
    "interpretable_12500": 3,
    "adult": 3,
    "make_classification(20000, 50 features)": 3,
}


class _Recorded(MATClassifier):
    """MATClassifier that records the smallest validation group it sees."""

    def _refits(self, scoring):
        _, y_valid, groups, _ = scoring
        labels = y_valid if groups is None else groups
        self.smallest_group_ = int(np.unique(labels, return_counts=True)[1].min())
        return super()._refits(scoring)


def _metrics(name, seed):
    """Training rows and ``{column: metric(model)}`` of a data set."""
    if name == "interpretable_12500":
        data = make_spurious_memorization(
            n_samples=12500, majority_fraction=0.99, random_state=seed
        )
        X, y, X_test, y_test, g_test = _split(data)
    elif name == "adult":
        (X, y, X_test, y_test, g_test), _ = load(name, seed)
        X, X_test = standardise_adult(X, X_test)
    else:
        X, y, metric = split(name, seed)
        return X, y, {"accuracy" if name.startswith("make_") else "wga": metric}

    def wga(groups):
        return lambda m: worst_group_accuracy(y_test, m.predict(X_test),
                                              group_labels=groups)

    metrics = {"wga": wga(g_test)}
    if name == "adult":  # the same network, other group attributes
        test = fetch_adult(subset="test", as_frame=True).frame
        metrics["wga race"] = wga(2 * y_test + (test["race"] == "White").to_numpy())
        metrics["wga age"] = wga(2 * y_test + (test["age"] >= 40).to_numpy())
    return X, y, metrics


def run_one(name, seed):
    torch.set_num_threads(1)
    X, y, metrics = _metrics(name, seed)
    rows = []
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for refit in (False, True):
            fits[refit] = _Recorded(refit=refit, random_state=seed).fit(X, y)
    smallest = fits[False].smallest_group_
    auto = bool(smallest < _REFIT_MAX_GROUP)
    for metric, score in metrics.items():
        row = dict(dataset=name, seed=seed, metric=metric, smallest_group=smallest,
                   auto_refits=auto, no_refit=score(fits[False]),
                   refit=score(fits[True]))
        row["auto"] = row["refit" if auto else "no_refit"]
        print(f"{name} seed {seed} {metric}: smallest group {smallest}, no refit "
              f"{row['no_refit']:.3f}, refit {row['refit']:.3f}", flush=True)
        rows.append(row)
    return rows


def report(frame, output_dir):
    table = frame.groupby(["dataset", "metric"], sort=False).agg(
        seeds=("seed", "count"),
        smallest=("smallest_group", "mean"),
        auto_refits=("auto_refits", "sum"),
        no_refit=("no_refit", "mean"),
        refit=("refit", "mean"),
        auto=("auto", "mean"),
    ).reset_index()
    lines = [
        "Test worst-group accuracy (accuracy on `make_classification`) of "
        "MAT at defaults without and with the refit on every row, mean over "
        "seeds; `smallest group`: rows of the smallest inferred validation "
        "group (mean); `auto`: `refit=\"auto\"`, which refits when that group "
        f"has fewer than {_REFIT_MAX_GROUP} rows (in `auto refits` seeds). "
        "Made by `python benchmarks/refit.py`.",
        "",
        "| data | metric | seeds | smallest group | auto refits | no refit "
        "| refit | refit - no refit | auto |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.metric} | {r.seeds} | {r.smallest:.0f} "
            f"| {r.auto_refits} | {r.no_refit:.3f} | {r.refit:.3f} "
            f"| {r.refit - r.no_refit:+.3f} | {r.auto:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "refit.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS),
                        choices=list(DATASETS), metavar="NAME")
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(name, seed) for name in args.datasets for seed in range(DATASETS[name])]
    # The slowest first, so that two jobs finish together.
    tasks.sort(key=lambda t: t[0] not in ("interpretable_12500", "adult"))
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run_one)(name, seed) for name, seed in tasks
    )
    frame = pd.DataFrame([row for task in rows for row in task])
    order = {name: i for i, name in enumerate(DATASETS)}
    frame = frame.sort_values(["dataset", "seed"], key=lambda c: c.map(order)
                              if c.name == "dataset" else c, kind="stable")
    frame.to_csv(args.output_dir / "refit.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
