"""How to choose MAT's shift strength with no group labels: the study.

For each data set and seed: hold out 20% of the training rows (stratified on
the class) as the validation split a user without group labels has, fit
``XRMEstimator()`` once on the rest, calibrate its held-out logits by
temperature scaling, and train one linear network per candidate shift (plain
ERM, class-reweighted ERM, and MAT at calibrated temperatures 0.25, 0.5, 1,
2, 4 and infinity), recording every epoch's predictions on the validation and
test rows. Selection rules (which candidate and epoch to keep) are then
compared offline by the test worst-group accuracy of what they keep:

* ``wc``: worst-class validation accuracy;
* ``inf``: worst-group validation accuracy on XRM's inferred groups;
* ``infs5``: the same with each inferred group shrunk towards the overall
  accuracy by 5 pseudo-rows;
* ``pool5``: worst-group accuracy over two pooled groups, the rows of each
  class's largest inferred group and all the others (the inferred minorities
  of every class together), each shrunk by 5 pseudo-rows;
* ``mix1``: ``0.3 * wc + 0.7 * infs5`` (the rule of the previous release);
* ``mix``: ``0.3 * wc + 0.7 * min(infs5, pool5)`` (what ``MATClassifier``
  uses);
* ``true``: worst-group validation accuracy on the true groups (an oracle no
  user without group labels has);

each either by the best score ("best") or by the weakest shift within 0.02 of
the best ("parsimonious", what ``temperature="auto"`` does), over the
candidate grid of ``MATClassifier`` (inf, 2, 0.5, 0.25).

Data sets: the sanity ones with no spurious feature (blobs, iris, wine,
breast cancer, digits, ``make_classification(2000)``; standardised) and the
spurious ones (interpretable; coloured digits with and without the grey copy;
3-class coloured digits with and without it; Adult income x sex).

Run ``python benchmarks/temperature_selection.py --seeds 3`` (about 20
minutes on two cores); writes ``docs/results/temperature_selection.csv`` (one
row per data set, seed and rule) and ``docs/results/temperature_selection.png``
and prints the table of means.
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn import datasets as skd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler

from skmat import XRMEstimator
from skmat._mat import _calibration_temperature
from skmat._torch import mat_shift
from skmat.datasets import fetch_adult, make_colored_digits, make_spurious_memorization
from skmat.utils._selection import _pooled_minority

SANITY = ["blobs", "iris", "wine", "breast_cancer", "digits", "classification"]
SPURIOUS = ["interpretable", "colored_digits", "colored_digits_colour",
            "colored_digits3", "colored_digits3_colour", "adult"]
CANDIDATES = ["erm", "balanced", "t0.25", "t0.5", "t1", "t2", "t4", "tinf"]
AUTO = ["tinf", "t2", "t0.5", "t0.25"]  # weakest shift first


def load(name, seed):
    """Training rows, test rows and test groups; whether to standardise."""
    if name in SANITY:
        X, y = {
            "blobs": lambda: skd.make_blobs(300, random_state=seed),
            "iris": lambda: skd.load_iris(return_X_y=True),
            "wine": lambda: skd.load_wine(return_X_y=True),
            "breast_cancer": lambda: skd.load_breast_cancer(return_X_y=True),
            "digits": lambda: skd.load_digits(return_X_y=True),
            "classification": lambda: skd.make_classification(
                2000, random_state=seed),
        }[name]()
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y)
        return Xtr, ytr, Xte, yte, yte, True
    if name == "adult":
        tr, te = fetch_adult(subset="train"), fetch_adult(subset="test")
        return tr.data, tr.target, te.data, te.target, te.group_labels, True
    if name == "interpretable":
        d = make_spurious_memorization(random_state=seed)
    else:
        d = make_colored_digits(
            n_classes=3 if "3" in name else 2,
            grayscale=not name.endswith("colour"), random_state=seed)
    return (d.X_train, d.y_train, d.X_test, d.y_test, d.group_labels_test,
            False)


def train_linear(X, y, shift, weight, X_eval, *, epochs, batch, seed, n_classes):
    """SGD (lr 0.01, momentum 0.9) on CE(f(x) + shift); predictions per epoch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Linear(X.shape[1], n_classes)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    X, y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    X_eval = torch.as_tensor(X_eval, dtype=torch.float32)
    shift = None if shift is None else torch.as_tensor(shift, dtype=torch.float32)
    weight = None if weight is None else torch.as_tensor(weight, dtype=torch.float32)
    preds = []
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch):
            i = order[start:start + batch]
            z = net(X[i]) + (0 if shift is None else shift[i])
            ce = torch.nn.functional.cross_entropy(z, y[i], reduction="none")
            w = torch.ones_like(ce) if weight is None else weight[i]
            loss = (ce * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            preds.append(net(X_eval).argmax(1).numpy().astype(np.int8))
    return np.array(preds)  # (epochs, n_eval)


def group_acc(y, pred, groups, shrink=0.0):
    correct = (pred == y).astype(float)
    _, codes = np.unique(groups, return_inverse=True)
    n, hits = np.bincount(codes), np.bincount(codes, weights=correct)
    return (hits + shrink * correct.mean()) / (n + shrink)


def scores(y, pred, inferred, true):
    wc = group_acc(y, pred, y)
    infs5 = group_acc(y, pred, inferred, 5).min()
    pool5 = group_acc(y, pred, _pooled_minority(y, inferred), 5).min()
    return dict(wc=wc.min(), inf=group_acc(y, pred, inferred).min(), infs5=infs5,
                pool5=pool5, mix1=0.3 * wc.min() + 0.7 * infs5,
                mix=0.3 * wc.min() + 0.7 * min(infs5, pool5),
                true=group_acc(y, pred, true).min(), bacc=wc.mean())


def run_one(name, seed, epochs):
    Xtr, ytr, Xte, yte, gte, scale = load(name, seed)
    if name == "adult":
        gtr = fetch_adult(subset="train").group_labels
    elif name in SANITY:
        gtr = ytr
    elif name == "interpretable":
        gtr = make_spurious_memorization(random_state=seed).group_labels_train
    else:
        gtr = make_colored_digits(
            n_classes=3 if "3" in name else 2, grayscale=not name.endswith("colour"),
            random_state=seed).group_labels_train
    enc = LabelEncoder().fit(ytr)
    ytr, yte = enc.transform(ytr), enc.transform(yte)
    k = len(enc.classes_)
    if scale:
        scaler = StandardScaler().fit(Xtr)
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    fit, val = train_test_split(np.arange(len(ytr)), test_size=0.2, stratify=ytr,
                                random_state=seed)
    Xf, yf, Xv, yv, gv = Xtr[fit], ytr[fit], Xtr[val], ytr[val], np.asarray(gtr)[val]
    xrm = XRMEstimator(random_state=seed).fit(Xf, yf)
    inferred = xrm.infer_group_labels(Xv, yv)
    h = xrm.heldout_logits_.astype(np.float64)
    t_cal = _calibration_temperature(h, yf)
    prior = np.bincount(yf, minlength=k) / len(yf)
    batch = int(min(256, max(16, np.ceil(len(yf) / 16))))
    out = {}
    for cand in CANDIDATES:
        shift = weight = None
        if cand == "balanced":
            weight = (1 / prior)[yf]
        elif cand != "erm":
            tau = float(cand[1:])
            shift = mat_shift(h / t_cal, yf, tau, k)
        preds = train_linear(Xf, yf, shift, weight, np.vstack([Xv, Xte]),
                             epochs=epochs, batch=batch, seed=seed, n_classes=k)
        pv, pt = preds[:, :len(yv)], preds[:, len(yv):]
        out[cand] = dict(
            val=[scores(yv, p, inferred, gv) for p in pv],
            test=[group_acc(yte, p, gte).min() for p in pt])
    return out, dict(t_cal=t_cal, flip_rate=xrm.flip_rate_)


def keep(out, cands, rule, parsimonious):
    """(candidate, epoch) a rule keeps: best epoch per candidate, then pick."""
    best = {}
    for c in cands:
        ranks = [v[rule] + 1e-3 * v["bacc"] for v in out[c]["val"]]
        e = int(np.argmax(ranks))
        best[c] = (out[c]["val"][e][rule], e)
    top = max(s for s, _ in best.values())
    if parsimonious:
        c = next(c for c in cands if best[c][0] >= top - 0.02)
    else:
        c = max(cands, key=lambda c: best[c][0])
    return c, best[c][1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--datasets", nargs="+", default=SANITY + SPURIOUS)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    parser.add_argument("--replot", action="store_true",
                        help="no fit: redraw the table and figure from the CSV")
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    if args.replot:
        report(pd.read_csv(args.output_dir / "temperature_selection.csv"),
               args.output_dir)
        return
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    rows = []
    for name in args.datasets:
        for seed in range(args.seeds if name != "adult" else min(args.seeds, 3)):
            out, info = run_one(name, seed, args.epochs)
            row = dict(dataset=name, seed=seed, **info)
            for base in ("erm", "balanced"):
                c, e = keep(out, [base], "wc", False)
                row[base] = out[c]["test"][e]
            for tau in AUTO + ["t1", "t4"]:
                c, e = keep(out, [tau], "mix", False)
                row[tau] = out[c]["test"][e]
            for rule in ("wc", "inf", "infs5", "pool5", "mix1", "mix", "true"):
                for pars in (False, True):
                    c, e = keep(out, AUTO, rule, pars)
                    label = f"{rule}, {'parsimonious' if pars else 'best'}"
                    row[label] = out[c]["test"][e]
                    row[label + " (tau)"] = c
            rows.append(row)
            print(name, seed, {k: (round(v, 3) if isinstance(v, float) else v)
                               for k, v in row.items() if "(tau)" not in k},
                  flush=True)
            pd.DataFrame(rows).to_csv(
                args.output_dir / "temperature_selection.csv", index=False)
    report(pd.DataFrame(rows), args.output_dir)


def report(frame, output_dir):
    """Print and write the table of means (Markdown) and the figure."""
    numeric = [c for c in frame.columns
               if c not in ("dataset", "seed") and "(tau)" not in c]
    means = frame.groupby("dataset", sort=False)[numeric].mean()
    pd.set_option("display.width", 250)
    print(means.round(3).to_string())
    columns = ["erm", "balanced", "tinf", "t2", "t1", "t0.5", "t0.25",
               "wc, parsimonious", "inf, best", "infs5, parsimonious",
               "pool5, parsimonious", "mix1, parsimonious", "mix, parsimonious",
               "true, parsimonious"]
    seeds = frame.groupby("dataset", sort=False)["seed"].nunique()
    lines = [
        "Test worst-group accuracy (mean over seeds) of the candidate kept by "
        "each rule; `t<tau>`: MAT at that calibrated temperature, its epoch "
        "chosen by the `mix` score. Made by `python "
        "benchmarks/temperature_selection.py --seeds 3`.",
        "",
        "| data | seeds | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for dataset, row in means.iterrows():
        cells = " | ".join(f"{row[c]:.3f}" for c in columns)
        lines.append(f"| {dataset} | {seeds[dataset]} | {cells} |")
    (output_dir / "temperature_selection.md").write_text("\n".join(lines) + "\n")
    _plot(means, output_dir / "temperature_selection.png")


def _plot(means, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rules = ["wc, parsimonious", "inf, best", "mix1, parsimonious",
             "mix, parsimonious", "true, parsimonious"]
    ref = means[["erm", "balanced"]].max(axis=1)
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.8 / len(rules)
    x = np.arange(len(means))
    for i, rule in enumerate(rules):
        ax.bar(x + i * width, means[rule] - ref, width, label=rule)
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(-0.02, color="grey", ls="--", lw=0.8)
    ax.set_xticks(x + 0.4 - width / 2, means.index, rotation=30, ha="right")
    ax.set_ylabel("test WGA minus best of ERM,\nclass-balanced ERM")
    ax.set_title("Choosing the shift strength without group labels")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
