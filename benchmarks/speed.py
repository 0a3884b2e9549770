"""Speed and memory of MAT and XRM against a plain torch loop, side by side.

* Epoch time on ``n x d`` float32 embeddings (default 200,000 x 768, the size
  of CivilComments' features) with a linear head at batch size 512: a plain
  torch loop (shuffle, ``X[idx]`` for each batch, forward, cross-entropy,
  backward, SGD step), a
  MATClassifier epoch (precomputed held-out logits, so only the shifted
  network trains) and an XRMEstimator epoch (two twins). Ratios to the plain
  loop are printed; the targets are MAT <= 1.3x and XRM <= 2.6x. The three
  loops are timed in turn for ``--repeats`` rounds (the machine's speed
  drifts between runs a minute apart) and the medians reported.
* Peak resident memory of ``MATClassifier.fit`` in a fresh process, against
  ``2 x size(X) + 500 MB``.
* Fit time of ``MATClassifier`` (XRM included) for growing n.

Run ``python benchmarks/speed.py`` on an otherwise idle machine (timings of
jobs sharing the cores mean little); ``--device cuda`` on a GPU machine.
Results are printed and written to ``benchmarks/results/speed.{json,md}``
(``--output-dir docs/results`` for the copy the docs include).
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from skmat import MATClassifier, XRMEstimator


def make_data(n, d, seed=0):
    """Float32 features with a linear signal, and labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(np.int64)
    return X, y


def plain_torch_epochs(X, y, *, batch_size, epochs, device):
    """Seconds per epoch of a minimal torch training loop."""
    torch.manual_seed(0)
    Xt = torch.as_tensor(X)
    yt = torch.as_tensor(y)
    model = torch.nn.Linear(X.shape[1], 2).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(Xt))
        for i in range(0, len(Xt), batch_size):
            idx = order[i:i + batch_size]
            xb, yb = Xt[idx].to(device), yt[idx].to(device)
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def skmat_epochs(estimator, X, y, **fit_params):
    """Median seconds per epoch from the fitted net's history."""
    estimator.fit(X, y, **fit_params)
    return float(np.median(estimator.net_.history[:, "dur"]))


def peak_memory(n, d, device):
    """Peak RSS of a fresh process that builds X and fits MAT once."""
    # /proc's VmRSS and VmHWM belong to the new process image; ru_maxrss
    # would carry the parent's peak over the fork and exec.
    code = f"""
import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from speed import make_data
from skmat import MATClassifier
import torch

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

base = status("VmRSS")
X, y = make_data({n}, {d})
MATClassifier(max_epochs=1, batch_size=512, early_stopping=True, device={device!r},
              random_state=0).fit(X, y)
print(base, status("VmHWM"), X.nbytes)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                         text=True, check=True).stdout.split()
    base, peak, nbytes = map(int, out)
    return {"baseline_bytes": base, "peak_bytes": peak, "X_bytes": nbytes,
            "fit_bytes": peak - base}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5,
                        help="rounds of the three loops timed in turn")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="*",
                        default=[10_000, 50_000, 200_000])
    parser.add_argument("--output-dir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--from-json", type=Path,
                        help="no run: write the Markdown tables of this result file")
    args = parser.parse_args(argv)
    if args.from_json:
        text = markdown(json.loads(args.from_json.read_text()))
        args.output_dir.mkdir(parents=True, exist_ok=True)
        (args.output_dir / args.from_json.with_suffix(".md").name).write_text(text)
        print(text)
        return None

    X, y = make_data(args.n, args.d)
    common = dict(batch_size=args.batch_size, max_epochs=args.epochs,
                  device=args.device, random_state=0)
    heldout = np.zeros((len(y), 2))
    print(f"{args.n} x {args.d} float32, batch {args.batch_size}, {args.device}, "
          f"{torch.get_num_threads()} torch threads")
    # The machine's speed drifts by tens of percent between runs a minute
    # apart: the three loops are timed in turn, round after round, and each
    # ratio is taken within a round.
    rounds = []
    for _ in range(args.repeats):
        plain = plain_torch_epochs(X, y, batch_size=args.batch_size,
                                   epochs=args.epochs, device=args.device)
        mat = skmat_epochs(MATClassifier(**common, early_stopping=False), X, y,
                           heldout_logits=heldout)
        xrm = skmat_epochs(XRMEstimator(**common), X, y)
        rounds.append({"plain_epoch_s": plain, "mat_epoch_s": mat,
                       "xrm_epoch_s": xrm, "mat_ratio": mat / plain,
                       "xrm_ratio": xrm / plain})
        print(f"  round {len(rounds)}: plain {plain:.3f}s, MAT {mat:.3f}s "
              f"({mat / plain:.2f}), XRM {xrm:.3f}s ({xrm / plain:.2f})", flush=True)
    median = {key: float(np.median([r[key] for r in rounds])) for key in rounds[0]}
    results = {
        "device": args.device, "n": args.n, "d": args.d,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats, **median, "rounds": rounds,
    }
    print(f"  median of {args.repeats} rounds:")
    print(f"  plain torch epoch {median['plain_epoch_s']:.3f}s")
    print(f"  MAT epoch         {median['mat_epoch_s']:.3f}s  ratio "
          f"{median['mat_ratio']:.2f} (target <= 1.3)")
    print(f"  XRM epoch         {median['xrm_epoch_s']:.3f}s  ratio "
          f"{median['xrm_ratio']:.2f} (target <= 2.6)")

    mem = peak_memory(args.n, args.d, args.device)
    limit = 2 * mem["X_bytes"] + 500 * 2**20
    results["memory"] = {**mem, "limit_bytes": limit}
    print(f"  peak memory of X + MAT fit {mem['fit_bytes'] / 2**20:.0f} MB, "
          f"X is {mem['X_bytes'] / 2**20:.0f} MB, limit 2X + 500 MB = "
          f"{limit / 2**20:.0f} MB")

    scaling = []
    for n in args.sizes:
        Xn, yn = make_data(n, args.d, seed=1)
        start = time.perf_counter()
        MATClassifier(batch_size=args.batch_size, max_epochs=5, early_stopping=False,
                      device=args.device, random_state=0).fit(Xn, yn)
        seconds = time.perf_counter() - start
        scaling.append({"n": n, "fit_s": seconds, "s_per_1k_rows": seconds / n * 1e3})
        print(f"  MAT fit (XRM + MAT, 5 epochs each) n={n:>7}: {seconds:.2f}s "
              f"({seconds / n * 1e3:.3f}s per 1k rows)")
    results["scaling"] = scaling

    args.output_dir.mkdir(parents=True, exist_ok=True)
    name = "speed.json" if args.device == "cpu" else f"speed_{args.device}.json"
    (args.output_dir / name).write_text(json.dumps(results, indent=2))
    (args.output_dir / name.replace(".json", ".md")).write_text(markdown(results))
    return results


def markdown(results):
    """The results as the Markdown tables that the docs include."""
    mem = results["memory"]
    mb = 1024 ** 2
    lines = [
        f"{results['n']:,} x {results['d']} float32 features, linear head, batch "
        f"size {results['batch_size']}, device {results['device']}, "
        f"{results['torch_threads']} torch threads; made by "
        "`python benchmarks/speed.py --output-dir docs/results`. The three "
        f"loops are timed in turn, {results.get('repeats', 1)} round(s); "
        "medians over the rounds "
        "(the ratio is the median of each round's ratio).",
        "",
        "| what | seconds per epoch | ratio to the plain torch loop | target |",
        "|---|---|---|---|",
        f"| plain torch loop | {results['plain_epoch_s']:.3f} | 1 | |",
        f"| MATClassifier epoch | {results['mat_epoch_s']:.3f} | "
        f"{results['mat_ratio']:.2f} | <= 1.3 |",
        f"| XRMEstimator epoch (two twins) | {results['xrm_epoch_s']:.3f} | "
        f"{results['xrm_ratio']:.2f} | <= 2.6 |",
        "",
        f"Peak resident memory of building X ({mem['X_bytes'] / mb:,.0f} MB) and "
        f"fitting MAT in a fresh process: {mem['fit_bytes'] / mb:,.0f} MB above "
        f"the process's start, against 2 x X + 500 MB = "
        f"{mem['limit_bytes'] / mb:,.0f} MB.",
        "",
        "| n | MAT fit (XRM + MAT, 5 epochs each), s | s per 1,000 rows |",
        "|---|---|---|",
    ]
    lines += [f"| {row['n']:,} | {row['fit_s']:.2f} | {row['s_per_1k_rows']:.3f} |"
              for row in results["scaling"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
