"""Rules for the head where no shortcut shows, compared on the same candidates.

``MATClassifier(module="auto")`` trains a linear and an MLP head at each
candidate temperature and keeps the MLP only when its validation score beats
the linear head's by more than 0.02 and its balanced validation accuracy is
no lower than the linear head's at the MLP's temperature, a tie broken by
the lower validation loss (``current``: the package's ``_choose_module``). On
Adult with 1,000 or 3,000 rows it keeps the linear head in most seeds, where
separately trained fits with the MLP head forced did better on every
attribute. Does another rule for choosing the head do better on the same
fits? Every candidate of a default fit (``fit(X_train, y_train)`` only) is
kept with its validation record and its own test figures, before the refit
on every row (which only the kept candidate gets), and each rule below picks
among them. The rules differ from ``current`` only in fits whose held-out
mistakes show no shortcut (the planted sets are unchanged by construction):

* ``no margin``: the MLP's score need only be higher (the package's rule with
  no tolerance: the same balanced guard and tie-break);
* ``balanced``: the head with the higher balanced validation accuracy, each
  at its own kept temperature (the linear head on ties);
* ``balanced, same tau``: the MLP wherever its balanced accuracy is no lower
  than the linear head's at the MLP's temperature (no score condition);
* ``mlp``: always the MLP.

Data: Adult (3 seeds) and Adult with 1,000 and 3,000 training rows (6
seeds), each scored on the seven attributes of ``spurious_defaults.py`` (the
numeric columns standardised up front, as ``head_choice.py`` does); the
sanity data sets (3 seeds, accuracy); the interpretable data and the two
binary coloured-digit sets (5 seeds, WGA). Run ``python
benchmarks/head_rules.py --n-jobs 2`` (about 6 minutes on two cores); the
table is printed and written to ``docs/results/head_rules.{csv,md}``.
"""

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd
import torch
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parent))

import head_choice  # noqa: E402
import sanity  # noqa: E402
from fit_cost import standardise_adult  # noqa: E402
from head_guard import (  # noqa: E402
    _KeepingCandidates,
    candidate_heads,
    choose,
    first_within,
    package_head,
)
from spurious_defaults import load, test_groupings  # noqa: E402

from skmat._mat import AUTO_TEMPERATURES as TEMPERATURES  # noqa: E402
from skmat.metrics import worst_group_accuracy  # noqa: E402

RULES = ("current", "no margin", "balanced", "balanced, same tau", "mlp")
ADULT = {"adult": 3, "adult1000": 6, "adult3000": 6}
PLANTED = ("interpretable", "colored_digits", "colored_digits_colour")


def split(name, seed):
    """Training rows and a function giving ``{row name: test figure}``."""
    if name in sanity.DATASETS:
        X, y, accuracy = head_choice.split(name, seed)
        return X, y, lambda model: {name: accuracy(model)}
    (X, y, X_test, y_test, g_test), scale = load(name, seed)
    if scale:
        X, X_test = standardise_adult(X, X_test)
    groupings = test_groupings(name, y_test, g_test)

    def figures(model):
        pred = model.predict(X_test)
        return {row: worst_group_accuracy(y_test, pred, group_labels=groups)
                for row, groups in groupings.items()}

    return X, y, figures


def pick(rule, heads, source, shortcut, order, balanced=False):
    """The (module, temperature) that ``rule`` keeps among ``heads``;
    ``balanced`` as in ``head_guard.first_within``."""
    current = choose(heads, source, "same tau", order, balanced)
    if rule == "current" or shortcut or ("mlp", TEMPERATURES[0]) not in heads:
        return current
    linear = first_within(heads, "linear", order, balanced)
    mlp = first_within(heads, "mlp", order, balanced)
    if rule == "no margin":
        return package_head(heads, source, linear, mlp, tolerance=0.0)
    lin, other = heads["linear", linear], heads["mlp", mlp]
    same_tau = other["balanced"] >= heads["linear", mlp]["balanced"]
    keep_mlp = {
        "balanced": other["balanced"] > lin["balanced"],
        "balanced, same tau": same_tau,
        "mlp": True,
    }[rule]
    return ("mlp", mlp) if keep_mlp else ("linear", linear)


def run_one(name, seed):
    torch.set_num_threads(1)
    X, y, figures = split(name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _KeepingCandidates(random_state=seed).fit(X, y)
    heads = candidate_heads(model, figures)
    shortcut = bool(model._shortcut_without_group_labels())
    order = model._candidate_order(list(TEMPERATURES))
    rows = []
    for rule in RULES:
        module, tau = pick(rule, heads, model.validation_groups_source_,
                           shortcut, order, model._balanced_candidates())
        for row, value in heads[module, tau]["test"].items():
            rows.append(dict(dataset=name, row=row, seed=seed, rule=rule,
                             head=module, temperature=tau, test=value,
                             shortcut=shortcut))
    print(f"{name} seed {seed}: " + ", ".join(
        f"{r['rule']} {r['head']} {r['test']:.3f}" for r in rows
        if r["row"] == name), flush=True)
    return rows


def report(frame, output_dir):
    table = frame.pivot_table(index="row", columns="rule", values="test",
                              sort=False)[list(RULES)]
    mlp = frame[frame["row"] == frame["dataset"]].pivot_table(
        index="row", columns="rule", values="head", sort=False,
        aggfunc=lambda heads: int((heads == "mlp").sum()))[list(RULES)]
    seeds = frame.groupby("row", sort=False)["seed"].nunique()
    lines = [
        "Test figure (worst-group accuracy; accuracy on the sanity data sets) "
        "of the candidate head each rule keeps, before the refit, mean over "
        "seeds, with `(n)` the seeds where it keeps the MLP; for Adult, "
        "`mean` is the mean of its seven attributes. Made by "
        "`python benchmarks/head_rules.py`.",
        "",
        "| data | seeds | " + " | ".join(RULES) + " |",
        "|---|---|" + "---|" * len(RULES),
    ]
    for row, values in table.iterrows():
        cells = [f"{v:.3f}" + (f" ({mlp.loc[row, r]})" if row in mlp.index else "")
                 for r, v in values.items()]
        lines.append(f"| {row} | {seeds[row]} | " + " | ".join(cells) + " |")
    for name in ADULT:
        means = table.loc[[r for r in table.index
                           if r == name or r.startswith(name + "_")]].mean()
        lines.append(f"| {name} mean | {ADULT[name]} | "
                     + " | ".join(f"{v:.3f}" for v in means) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "head_rules.md").write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(name, seed) for name, n in ADULT.items() for seed in range(n)]
    tasks += [(name, seed) for name in sanity.DATASETS for seed in range(3)]
    tasks += [(name, seed) for name in PLANTED for seed in range(5)]
    rows = Parallel(n_jobs=args.n_jobs)(
        delayed(run_one)(name, seed) for name, seed in tasks)
    frame = pd.DataFrame([row for task in rows for row in task])
    frame.to_csv(args.output_dir / "head_rules.csv", index=False)
    report(frame, args.output_dir)


if __name__ == "__main__":
    main()
