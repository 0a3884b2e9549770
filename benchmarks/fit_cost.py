"""Cost of a default fit: ``MATClassifier(random_state=0).fit(X, y)``, seconds.

Issue 11 asks that the new defaults (the automatic shift strength over four
candidates, the head chosen between a linear and an MLP one, the training
budget in steps, the refit) cost at most three times the defaults before
them. This script times one default fit per data set (XRM included, one
torch thread, the median of ``--repeats`` fits) with whatever ``skmat`` is
importable, so the same command measures several versions and settings.
The machine's speed drifts by tens of percent over minutes, so the versions
are best timed in turn, data set by data set and repeat by repeat, each fit
in a fresh process after a short warm-up fit (``--interleave``):

.. code-block:: bash

    git worktree add /tmp/skmat-old afc5e3b  # the last commit before the new defaults
    git worktree add /tmp/skmat-1ea 1ea16a9  # eight candidates trained one by one
    python benchmarks/fit_cost.py --interleave main linear:module=linear \\
        1ea16a9:path=/tmp/skmat-1ea afc5e3b:path=/tmp/skmat-old
    python benchmarks/fit_cost.py --report main linear 1ea16a9 afc5e3b

(``python benchmarks/fit_cost.py --label main`` times one version alone, in
one process; ``PYTHONPATH=/tmp/skmat-old`` in front of it, an old one.)
Each version's medians go to ``docs/results/fit_cost_<label>.csv``;
``--report`` prints and writes ``docs/results/fit_cost.md`` with each
version's ratio to the last. Run it on an otherwise idle machine: the
timings of jobs sharing the cores mean little.
"""

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sanity  # noqa: E402
from spurious_defaults import load  # noqa: E402

from skmat import MATClassifier  # noqa: E402

DATASETS = [
    "breast_cancer",
    "colored_digits",
    "interpretable",
    "make_classification(20000, 50 features)",
    "adult",
]


def standardise_adult(X, *others):
    """Adult's numeric columns standardised on ``X`` (as spurious_defaults)."""
    from skmat.datasets import fetch_adult

    train = fetch_adult(subset="train")
    columns = list(train.feature_names)
    index = [columns.index(c) for c in train.numeric_features]
    scaler = StandardScaler().fit(np.asarray(X, dtype=np.float64)[:, index])
    out = []
    for rows in (X, *others):
        rows = np.array(rows, dtype=np.float64)  # a copy
        rows[:, index] = scaler.transform(rows[:, index])
        out.append(rows)
    return out


def data(name):
    """Training rows of a data set, numeric columns standardised."""
    if name in sanity.DATASETS:
        X, y = sanity.DATASETS[name](0)
        return StandardScaler().fit_transform(X), y
    (X, y, *_), scale = load(name, 0)
    return (standardise_adult(X)[0] if scale else np.asarray(X, np.float64)), y


def measure(label, repeats, output_dir, params):
    torch.set_num_threads(1)
    rows = []
    for name in DATASETS:
        X, y = data(name)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                MATClassifier(random_state=0, **params).fit(X, y)
            times.append(time.perf_counter() - start)
        rows.append(dict(label=label, dataset=name, n_samples=X.shape[0],
                         n_features=X.shape[1], seconds=float(np.median(times)),
                         repeats=repeats))
        print(f"{label}: {name} {X.shape} {rows[-1]['seconds']:.1f} s", flush=True)
    pd.DataFrame(rows).to_csv(output_dir / f"fit_cost_{label}.csv", index=False)


def fit_once(name, params):
    """Seconds of one default fit on a data set (``--one``)."""
    torch.set_num_threads(1)
    X, y = data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # A short fit first: the first in a process pays seconds of torch's
        # set-up, which the repeats of a run in one process do not.
        rows = slice(None, None, max(1, len(X) // 300))
        MATClassifier(random_state=0, max_epochs=2, **params).fit(X[rows], y[rows])
        start = time.perf_counter()
        MATClassifier(random_state=0, **params).fit(X, y)
    return time.perf_counter() - start


def _version(spec):
    """``LABEL[:path=DIR][:module=NAME]`` -> (label, skmat path, params)."""
    label, *options = spec.split(":")
    options = dict(option.split("=", 1) for option in options)
    params = {"module": options["module"]} if "module" in options else {}
    return label, options.get("path"), params


def interleave(specs, repeats, output_dir):
    """Time every version in turn, data set by data set, in fresh processes.

    The machine's speed drifts by tens of percent over minutes; versions
    timed one after the other within each repeat see the same drift, where
    whole runs made minutes apart do not.
    """
    versions = [_version(spec) for spec in specs]
    times = {}
    for name in DATASETS:
        for _ in range(repeats):
            for label, path, params in versions:
                env = dict(os.environ)
                if path:
                    env["PYTHONPATH"] = path
                command = [sys.executable, __file__, "--one", name]
                if params:
                    command += ["--module", params["module"]]
                out = subprocess.run(command, env=env, capture_output=True,
                                     text=True, check=True)
                seconds = float(out.stdout.split()[-1])
                times.setdefault(label, {}).setdefault(name, []).append(seconds)
        print(name, " ".join(f"{label} {np.median(times[label][name]):.1f} s"
                             for label, _, _ in versions), flush=True)
    shapes = {name: data(name)[0].shape for name in DATASETS}
    for label, by_name in times.items():
        rows = []
        for name, seconds in by_name.items():
            rows.append(dict(label=label, dataset=name, n_samples=shapes[name][0],
                             n_features=shapes[name][1],
                             seconds=float(np.median(seconds)), repeats=repeats))
        pd.DataFrame(rows).to_csv(output_dir / f"fit_cost_{label}.csv", index=False)


def report(labels, output_dir):
    """Table of the runs, with each run's ratio to the last one (the base)."""
    runs = [pd.read_csv(output_dir / f"fit_cost_{label}.csv").set_index("dataset")
            for label in labels]
    base = runs[-1]
    header = " | ".join(f"{label} (s)" for label in labels)
    ratios = " | ".join(f"{label} / {labels[-1]}" for label in labels[:-1])
    lines = [
        "Seconds of one default fit, `MATClassifier(random_state=0).fit(X, y)` "
        "(XRM included, one torch thread, median of "
        f"{int(base['repeats'].iloc[0])}); made by `python benchmarks/fit_cost.py`"
        " (the labels are those of the runs, see `docs/results/README.md`).",
        "",
        f"| data | rows x features | {header} | {ratios} |",
        "|---|---|" + "---|" * (2 * len(labels) - 1),
    ]
    for name in base.index:
        seconds = " | ".join(f"{run.loc[name, 'seconds']:.1f}" for run in runs)
        ratio = " | ".join(
            f"{run.loc[name, 'seconds'] / base.loc[name, 'seconds']:.1f}"
            for run in runs[:-1]
        )
        lines.append(
            f"| {name} | {base.loc[name, 'n_samples']} x "
            f"{base.loc[name, 'n_features']} | {seconds} | {ratio} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "fit_cost.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="main")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--module", help="MATClassifier's module (default: its own)")
    parser.add_argument("--report", nargs="+", metavar="LABEL",
                        help="no fit: tabulate these runs, the last as the base")
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--interleave", nargs="+", metavar="VERSION",
                        help="time these versions in turn, each as "
                        "LABEL[:path=DIR][:module=NAME], DIR a checkout of "
                        "skmat (default: the importable one)")
    parser.add_argument("--one", metavar="DATASET", help=argparse.SUPPRESS)
    args = parser.parse_args()
    params = {} if args.module is None else {"module": args.module}
    if args.one:
        print(fit_once(args.one, params))
        return
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.report:
        report(args.report, args.output_dir)
    elif args.interleave:
        interleave(args.interleave, args.repeats, args.output_dir)
    else:
        measure(args.label, args.repeats, args.output_dir, params)


if __name__ == "__main__":
    main()
