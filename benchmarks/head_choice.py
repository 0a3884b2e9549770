"""Linear or MLP head for MAT, and whether the validation score can choose.

Issue 11 measured that the network matters as much as the shift strength (on
coloured digits an MLP head beat the linear one) and asked whether a default
could choose the head on the validation split with the same score that
chooses the temperature. Here every data set is fitted twice at defaults,
``fit(X_train, y_train)`` only, no group labels: ``MATClassifier(module=
"linear")`` and ``MATClassifier(module="mlp")``, both on the same XRM (the default
linear one, fitted once through ``memory``), so that both heads are scored
on the same inferred validation groups. Columns:

* ``linear`` / ``mlp``: test worst-group accuracy (spurious data; true
  groups) or accuracy (the sanity data sets, StandardScaler first, 70/30);
* ``score linear`` / ``score mlp``: the validation score of the candidate
  each kept (``temperature_scores_[temperature_]``);
* ``by score``: the head a ``module="auto"`` would keep with the rule that
  chooses the temperature (the MLP only when its score is more than 0.02
  above the linear head's), and its test figure;
* ``auto``: the default ``MATClassifier()`` (``module="auto"``): the same
  rule, with the MLP's balanced validation accuracy required to be no lower
  than the linear head's at the MLP's temperature.

Run ``python benchmarks/head_choice.py`` (about 40 minutes in one process;
``--n-jobs 2`` shares the data sets between two); the table is printed and written to
``docs/results/head_choice.{csv,md}``.
"""

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sanity  # noqa: E402
from fit_cost import standardise_adult  # noqa: E402
from spurious_defaults import load  # noqa: E402

from skmat import MATClassifier, XRMEstimator  # noqa: E402
from skmat.metrics import worst_group_accuracy  # noqa: E402

SPURIOUS = ["interpretable", "colored_digits", "colored_digits_colour",
            "colored_digits3", "adult"]
TOLERANCE = 0.02  # as skmat._base._choose_candidate


def split(name, seed):
    """Train and test rows, and the test metric of a fitted model."""
    if name in sanity.DATASETS:
        X, y = sanity.DATASETS[name](seed)
        X, X_test, y, y_test = train_test_split(X, y, test_size=0.3,
                                                random_state=seed)
        scaler = StandardScaler().fit(X)
        X, X_test = scaler.transform(X), scaler.transform(X_test)
        return X, y, lambda m: float(np.mean(m.predict(X_test) == y_test))
    (X, y, X_test, y_test, g_test), scale = load(name, seed)
    if scale:
        X, X_test = standardise_adult(X, X_test)
    return X, y, lambda m: worst_group_accuracy(y_test, m.predict(X_test),
                                                group_labels=g_test)


def run_one(name, seed):
    torch.set_num_threads(1)
    X, y, metric = split(name, seed)
    row = dict(dataset=name, seed=seed,
               metric="accuracy" if name in sanity.DATASETS else "wga")
    with tempfile.TemporaryDirectory() as cache, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for head in ("linear", "mlp"):
            model = MATClassifier(module=head, xrm=XRMEstimator(), memory=cache,
                                  random_state=seed).fit(X, y)
            row[head] = metric(model)
            row[f"score {head}"] = model.temperature_scores_[model.temperature_]
            row[f"temperature {head}"] = model.temperature_
        model = MATClassifier(xrm=XRMEstimator(), memory=cache,
                              random_state=seed).fit(X, y)
        row["auto"] = metric(model)
        row["head auto"] = model.module_
    row["head by score"] = (
        "mlp" if row["score mlp"] > row["score linear"] + TOLERANCE else "linear"
    )
    row["by score"] = row[row["head by score"]]
    print(f"{name} seed {seed}: linear {row['linear']:.3f} mlp {row['mlp']:.3f} "
          f"by score {row['by score']:.3f} auto {row['auto']:.3f}", flush=True)
    return row


def report(frame, output_dir):
    table = frame.groupby(["dataset", "metric"], sort=False).agg(
        seeds=("seed", "count"),
        linear=("linear", "mean"),
        mlp=("mlp", "mean"),
        score_linear=("score linear", "mean"),
        score_mlp=("score mlp", "mean"),
        mlp_chosen=("head by score", lambda h: int((h == "mlp").sum())),
        by_score=("by score", "mean"),
        auto_mlp=("head auto", lambda h: int((h == "mlp").sum())),
        auto=("auto", "mean"),
    ).reset_index()
    table["auto - linear"] = table["auto"] - table["linear"]
    lines = [
        "Test figure (worst-group accuracy, or accuracy on the sanity data "
        "sets) of MAT at defaults with a linear and an MLP head on the same "
        "XRM, mean over seeds; `score`: validation score of the kept "
        "candidate; `by score`: the head kept by the validation score "
        f"(MLP when more than {TOLERANCE} above), chosen in `mlp by score` "
        "seeds; `auto`: the default `MATClassifier()` (`module=\"auto\"`, the "
        "same rule with balanced accuracy at the same temperature as a guard), "
        "which kept the MLP in "
        "`mlp by auto` seeds. Made by `python benchmarks/head_choice.py`.",
        "",
        "| data | metric | seeds | linear | mlp | score linear | score mlp "
        "| mlp by score | by score | mlp by auto | auto | auto - linear |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.metric} | {r.seeds} | {r.linear:.3f} "
            f"| {r.mlp:.3f} | {r.score_linear:.3f} | {r.score_mlp:.3f} "
            f"| {r.mlp_chosen} | {r.by_score:.3f} | {r.auto_mlp} | {r.auto:.3f} "
            f"| {r[-1]:+.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "head_choice.md").write_text(text)


def run_all(run, description, seeds, csv_name):
    """Parse the command line, run ``run(name, seed)`` on every data set and seed.

    Returns the rows as a frame and the output directory. With
    ``--datasets``, only those are run and their rows replace theirs in the
    existing ``csv_name`` of the output directory (the others are kept).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=int, default=seeds)
    parser.add_argument("--sanity-seeds", type=int, default=3)
    parser.add_argument("--adult-seeds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--datasets", nargs="+", metavar="NAME",
                        help="re-run only these and update their rows")
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    names = SPURIOUS + list(sanity.DATASETS)
    unknown = set(args.datasets or ()) - set(names)
    if unknown:
        parser.error(f"unknown data sets {sorted(unknown)}; known: {names}")
    tasks = [(name, seed) for name in SPURIOUS
             for seed in range(args.adult_seeds if name == "adult" else args.seeds)]
    tasks += [(name, seed) for name in sanity.DATASETS
              for seed in range(args.sanity_seeds)]
    if args.datasets:
        tasks = [(name, seed) for name, seed in tasks if name in args.datasets]
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run)(name, seed) for name, seed in tasks
    )
    frame = pd.DataFrame(rows)
    if args.datasets:
        old = pd.read_csv(args.output_dir / csv_name)
        frame = pd.concat([old[~old["dataset"].isin(args.datasets)], frame])
        order = {name: i for i, name in enumerate(names)}
        frame = frame.sort_values(
            ["dataset", "seed"], kind="stable",
            key=lambda c: c.map(order) if c.name == "dataset" else c,
        ).reset_index(drop=True)
    return frame, args.output_dir


def main():
    frame, output_dir = run_all(run_one, __doc__.splitlines()[0], seeds=5,
                                csv_name="head_choice.csv")
    frame.to_csv(output_dir / "head_choice.csv", index=False)
    report(frame, output_dir)


if __name__ == "__main__":
    main()
