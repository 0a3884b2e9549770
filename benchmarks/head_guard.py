"""Which balanced-accuracy guard should let the MLP head in, measured per candidate.

``MATClassifier(module="auto")`` trains a linear and an MLP head at each of
four temperatures and keeps the MLP only when its validation score beats the
linear head's by more than 0.02 and, on XRM's inferred groups, its balanced
validation accuracy is no lower (a tie broken by the lower validation loss).
Here every candidate head of a default fit
(``fit(X_train, y_train)`` only, no group labels) is kept with its
validation record and its own test figure (worst-group accuracy with the
true groups, or accuracy on the sanity data sets; before the refit on every
row, which only the kept candidate gets), so that three guards can be
compared on the same candidates:

* ``kept tau``: balanced accuracy no lower than the linear head's at the
  linear head's own kept temperature (the rule until this benchmark);
* ``same tau``: no lower than the linear head's at the MLP's temperature,
  a tie broken by the lower validation loss (the rule now: the package's
  ``_choose_module``);
* ``none``: the validation score alone.

Each guard chooses as the package does otherwise: among a head's shifts in
the fit's order, the first within 0.02 of its best score (the plateau's top
where the plateau rule kept its first epoch), with the balanced floor
between shifts where the fit applies it; the table says in how many fits
``same tau`` keeps what the default fit kept.

``oracle`` is the best test figure among the candidates. Seeds 0-9 of
the four synthetic spurious data sets (5-9 are not in the published
tables), 3 of Adult and of each sanity data set. Run
``python benchmarks/head_guard.py --n-jobs 2`` (about 20 minutes on two
cores); the tables are printed and written to
``docs/results/head_guard.{csv,md}``.
"""

import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sanity  # noqa: E402
from head_choice import run_all, split  # noqa: E402

from skmat import MATClassifier  # noqa: E402
from skmat._base import _choose_candidate, _choose_module  # noqa: E402
from skmat._mat import AUTO_TEMPERATURES as TEMPERATURES  # noqa: E402

TOLERANCE = 0.02  # as skmat._base._choose_module
GUARDS = ("kept tau", "same tau", "none")


class _KeepingCandidates(MATClassifier):
    """A default MAT that keeps the fits of its candidate heads (private API)."""

    def _train_candidates(self, *args, **kwargs):
        self.candidate_fits_ = super()._train_candidates(*args, **kwargs)
        return self.candidate_fits_


def first_within(heads, module, order, balanced=False):
    """The first shift, in the estimator's ``order``, within the tolerance
    of the module's best score; None where the module trained no candidate
    (the MLP, where the features outnumber the training rows). With
    ``balanced``, a later shift competes only when its balanced accuracy is
    no lower than the first's: the package's ``_choose_candidate``."""
    # The candidates the fit trained: every temperature, or (inf, 2) where
    # the spread rule left the sharpened ones out.
    taus = [tau for tau in order if (module, tau) in heads]
    if not taus:
        return None
    fits = {tau: dict(top_score=heads[module, tau]["score"],
                      best_balanced_accuracy=heads[module, tau]["balanced"])
            for tau in taus}
    return _choose_candidate(fits, TOLERANCE, balanced)


def package_head(heads, source, linear, mlp, tolerance=TOLERANCE):
    """The (module, temperature) the package's ``_choose_module`` keeps
    between the linear head at ``linear`` and the MLP at ``mlp``."""
    fits = {key: dict(top_score=head["score"],
                      best_balanced_accuracy=head["balanced"],
                      best_loss=head["loss"])
            for key, head in heads.items()}
    kept = {"linear": linear, "mlp": mlp}
    module = _choose_module(fits, kept, source, tolerance)
    return module, kept[module]


def choose(heads, source, guard, order, balanced=False):
    """The (module, temperature) kept under ``guard``; ``balanced`` as in
    :func:`first_within` (``MATClassifier._balanced_candidates()``)."""
    linear = first_within(heads, "linear", order, balanced)
    mlp = first_within(heads, "mlp", order, balanced)
    if mlp is None:  # the linear head alone
        return "linear", linear
    if guard == "same tau":
        return package_head(heads, source, linear, mlp)
    base, other = heads["linear", linear], heads["mlp", mlp]
    better = other["score"] > base["score"] + TOLERANCE
    if source != "inferred" or guard == "none":
        balanced = True
    else:
        balanced = other["balanced"] >= base["balanced"]
    return ("mlp", mlp) if better and balanced else ("linear", linear)


def candidate_heads(model, metric):
    """``{(module, tau): score, balanced accuracy and test figure}`` of every
    candidate of a fitted ``_KeepingCandidates``; ``metric(model)`` gives the
    test figure. Leaves ``model`` holding the last candidate's network."""
    heads = {}
    for (module, tau), fit in model.candidate_fits_.items():
        # A fitted copy of the model whose network is this candidate's.
        model.net_ = fit["build"]()
        # The score the package compares: the plateau's top where the
        # plateau rule kept its first epoch, else the best epoch's.
        heads[module, tau] = dict(score=fit["top_score"],
                                  balanced=fit["best_balanced_accuracy"],
                                  loss=fit["best_loss"],
                                  test=metric(model))
    return heads


def run_one(name, seed):
    torch.set_num_threads(1)
    X, y, metric = split(name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _KeepingCandidates(random_state=seed).fit(X, y)
    heads = candidate_heads(model, metric)
    row = dict(dataset=name, seed=seed,
               metric="accuracy" if name in sanity.DATASETS else "wga",
               oracle=max(h["test"] for h in heads.values()))
    # The order in which the fit broke ties between temperatures.
    order = model._candidate_order(list(TEMPERATURES))
    balanced = model._balanced_candidates()
    for guard in GUARDS:
        module, tau = choose(heads, model.validation_groups_source_, guard, order,
                             balanced)
        row[guard] = heads[module, tau]["test"]
        row[f"{guard} kept"] = f"{module} {tau:g}"
    # "same tau" is the package's rule: it must keep what the fit kept.
    row["same tau is the fit's"] = (
        row["same tau kept"] == f"{model.module_} {model.temperature_:g}")
    if not row["same tau is the fit's"]:
        print(f"{name} seed {seed}: same tau keeps {row['same tau kept']}, the "
              f"fit kept {model.module_} {model.temperature_:g}", flush=True)
    print(f"{name} seed {seed}: " + ", ".join(
        f"{g} {row[g]:.3f} ({row[g + ' kept']})" for g in GUARDS
    ), flush=True)
    return row


def report(frame, output_dir):
    table = frame.groupby(["dataset", "metric"], sort=False).agg(
        seeds=("seed", "count"),
        **{g: (g, "mean") for g in GUARDS},
        changed=("changed", "sum"),
        oracle=("oracle", "mean"),
    ).reset_index()
    lines = [
        "Test figure (worst-group accuracy, or accuracy on the sanity data "
        "sets) of the candidate head each guard keeps, before the refit, mean "
        "over seeds; `changed`: seeds where `same tau` keeps another "
        "candidate than `kept tau`; `oracle`: the best of the candidates "
        "(eight, or four where the spread rule leaves out the sharpened "
        "temperatures). Made by `python benchmarks/head_guard.py`.",
        "",
        "| data | metric | seeds | " + " | ".join(GUARDS)
        + " | changed | oracle |",
        "|---|---|---|" + "---|" * (len(GUARDS) + 2),
    ]
    for r in table.itertuples(index=False):
        values = " | ".join(f"{v:.3f}" for v in r[3:3 + len(GUARDS)])
        lines.append(f"| {r.dataset} | {r.metric} | {r.seeds} | {values} "
                     f"| {r.changed} | {r.oracle:.3f} |")
    if "same tau is the fit's" in frame:
        same = frame["same tau is the fit's"].astype(bool)
        lines += ["", f"`same tau`, the package's rule, keeps the candidate the "
                  f"default fit kept in {int(same.sum())} of {len(same)} fits."]
    text = "\n".join(lines) + "\n"
    print(text)
    (output_dir / "head_guard.md").write_text(text)


def main():
    frame, output_dir = run_all(run_one, __doc__.splitlines()[0], seeds=10,
                                csv_name="head_guard.csv")
    frame["changed"] = frame["kept tau kept"] != frame["same tau kept"]
    frame.to_csv(output_dir / "head_guard.csv", index=False)
    report(frame, output_dir)


if __name__ == "__main__":
    main()
