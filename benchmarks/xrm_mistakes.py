"""How sure XRM is when it is wrong, with a shortcut in the data and without.

MAT's default chooses the shift strength on XRM's inferred groups, and on
data with no shortcut that choice is biased towards strong shifts (Adult:
tau = 0.25 in every seed, worse than class balancing on income x race;
``make_classification(2000)``: below logistic regression). This script
measures, for the XRM inside a default ``MATClassifier(random_state=seed)
.fit(X_train, y_train)`` (fitted on the training part of MAT's own split),
how its held-out mistakes look once the held-out logits are calibrated as
MAT calibrates them (``heldout_temperature_``):

* ``mistakes``: the share of training rows XRM's held-out twin gets wrong
  (the inferred minority, ``cross_mistakes_``);
* ``p_true q25 / q50 / q75``: quartiles, over those rows, of the calibrated
  held-out probability of the true class;
* ``confident``: the share of them with that probability below 0.1;
* ``n`` and ``range``: the number of training rows the held-out logits
  get wrong (their argmax, as the model counts them; XRM's
  ``cross_mistakes_`` can differ by a few rows) and the interquartile range
  of that probability over them;
* ``spread``: that range as the fitted model computes it
  (``heldout_mistake_spread_``: scaled up by ``sqrt(20 / n)`` below 20
  mistakes, ``inf`` with fewer than 4), which decides whether the sharpened
  temperatures are tried.

A shortcut's minority is mispredicted *because* of the shortcut, which
points every such row the same way; noise and hard rows are mispredicted
near the boundary. Alongside: the temperature and head MAT keeps and its
test figure (worst-group accuracy with the true groups on the spurious data
sets, accuracy on the others), before any comparison with other tables.

Run ``python benchmarks/xrm_mistakes.py --n-jobs 2`` (about 10 minutes on
two cores); the tables are printed and written to
``docs/results/xrm_mistakes.{csv,md}``, and the spread of every fit, with
the rule's threshold, is drawn in ``docs/results/xrm_mistakes.png`` (with
matplotlib).
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.special import softmax

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sanity  # noqa: E402
from head_choice import SPURIOUS, run_all, split  # noqa: E402

from skmat import MATClassifier  # noqa: E402
from skmat._mat import MAX_MISTAKE_SPREAD  # noqa: E402


def run_one(name, seed):
    torch.set_num_threads(1)
    X, y, metric = split(name, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MATClassifier(random_state=seed).fit(X, y)
    xrm = model.xrm_
    y_train = xrm.group_labels_ // 2
    wrong = xrm.cross_mistakes_.astype(bool)
    proba = softmax(xrm.heldout_logits_ / model.heldout_temperature_, axis=1)
    p_all = proba[np.arange(len(y_train)), y_train]
    p_true = p_all[wrong]
    quartiles = np.quantile(p_true, [0.25, 0.5, 0.75]) if wrong.any() else [np.nan] * 3
    missed = proba.argmax(axis=1) != y_train
    p_missed = p_all[missed]
    return dict(
        dataset=name, seed=seed,
        metric="accuracy" if name in sanity.DATASETS else "wga",
        mistakes=float(wrong.mean()),
        **{f"p_true q{q}": float(v) for q, v in zip((25, 50, 75), quartiles,
                                                      strict=True)},
        confident=float(np.mean(p_true < 0.1)) if wrong.any() else np.nan,
        # As the model counts them: the rows the held-out logits get wrong.
        n_mistakes=int(missed.sum()),
        range=float(np.subtract(*np.quantile(p_missed, [0.75, 0.25])))
        if missed.sum() else np.nan,
        spread=float(model.heldout_mistake_spread_),
        calibration=float(model.heldout_temperature_),
        temperature=float(model.temperature_), module=model.module_,
        test=metric(model),
    )


def report(frame, output_dir):
    columns = ["mistakes", "p_true q25", "p_true q50", "p_true q75", "confident",
               "test"]
    mean = frame.groupby("dataset", sort=False)[columns].mean()
    kept = frame.groupby("dataset", sort=False).apply(
        lambda rows: ", ".join(f"{t:g}/{m}" for t, m in
                               zip(rows["temperature"], rows["module"], strict=True)),
        include_groups=False,
    )
    seeds = frame.groupby("dataset", sort=False)["seed"].nunique()
    lines = [
        "XRM's held-out mistakes inside a default `MATClassifier` fit "
        "(training part of MAT's split), calibrated probability of the true "
        "class on the rows it gets wrong (mean over seeds of each quartile); "
        "`kept`: MAT's temperature/head per seed; `test`: MAT's test WGA "
        "(spurious data) or accuracy (the others). Made by "
        "`python benchmarks/xrm_mistakes.py --n-jobs 2`.",
        "",
        "| data | shortcut | seeds | mistakes | p_true q25 | q50 | q75 | "
        "confident (< 0.1) | n (per seed) | range (per seed) | "
        "spread (per seed) | kept | MAT test |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def per_seed(column, form):
        return frame.groupby("dataset", sort=False)[column].apply(
            lambda values: ", ".join(form.format(v) for v in values)
        )

    counts = per_seed("n_mistakes", "{:d}")
    ranges = per_seed("range", "{:.3f}")
    spreads = per_seed("spread", "{:.3f}")
    for dataset, row in mean.iterrows():
        lines.append(
            f"| {dataset} | {_family(dataset)} | {seeds[dataset]} | "
            f"{row['mistakes']:.3f} | "
            f"{row['p_true q25']:.3f} | {row['p_true q50']:.3f} | "
            f"{row['p_true q75']:.3f} | {row['confident']:.2f} | "
            f"{counts[dataset]} | {ranges[dataset]} | "
            f"{spreads[dataset]} | {kept[dataset]} | {row['test']:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    (output_dir / "xrm_mistakes.md").write_text(text)
    print(text)


def _family(dataset):
    return ("real data" if dataset == "adult"
            else "planted" if dataset in SPURIOUS else "none")


def plot(frame, output_dir):
    """The spread of every fit, one row per data set, and the threshold."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install skmat[plot])")
        return
    datasets = list(dict.fromkeys(frame["dataset"]))
    colours = {"planted": "tab:red", "none": "tab:blue", "real data": "tab:green"}
    # Fits with fewer than 4 mistakes (spread inf) are drawn at the right edge.
    edge = 1.0
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(datasets) + 1.2))
    for i, dataset in enumerate(datasets):
        values = frame.loc[frame["dataset"] == dataset, "spread"].to_numpy()
        finite = np.isfinite(values)
        colour = colours[_family(dataset)]
        ax.scatter(values[finite], np.full(finite.sum(), i), color=colour, s=25)
        ax.scatter(np.full((~finite).sum(), edge), np.full((~finite).sum(), i),
                   color=colour, marker="x", s=30)
    for family, colour in colours.items():
        ax.scatter([], [], color=colour, label=f"shortcut: {family}")
    ax.scatter([], [], color="grey", marker="x", label="< 4 mistakes (inf)")
    ax.axvline(MAX_MISTAKE_SPREAD, color="black", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(0.005, edge * 1.3)
    ax.set_yticks(range(len(datasets)), datasets)
    ax.invert_yaxis()
    ax.set_xlabel("heldout_mistake_spread_ (log scale): interquartile range\n"
                  "of the calibrated p(true class) over XRM's mistakes\n"
                  "(times sqrt(20 / n) below n = 20 mistakes)")
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(f"Sharpened temperatures are tried left of {MAX_MISTAKE_SPREAD}")
    fig.tight_layout()
    fig.savefig(output_dir / "xrm_mistakes.png", dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    frame, output_dir = run_all(run_one, __doc__.splitlines()[0], 3,
                                "xrm_mistakes.csv")
    frame.to_csv(output_dir / "xrm_mistakes.csv", index=False)
    report(frame, output_dir)
    plot(frame, output_dir)
