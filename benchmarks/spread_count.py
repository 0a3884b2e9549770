"""How tight the range of a few held-out mistakes reads by chance.

``MATClassifier(temperature="auto")`` tries shifts sharper than calibrated
only where the interquartile range of the calibrated probability of the true
class over XRM's held-out mistakes (``heldout_mistake_spread_``) is at most
0.1: a shortcut's minority is wrong with about the same confidence (a range
of 0.016 to 0.046 on the planted shortcuts), the noise and hard rows of
ordinary data from confidently wrong to the boundary (0.14 to 0.29).
Those figures come from fits with dozens to hundreds of mistakes. Easy data
give a handful, and the range of a few values reads tighter than that of
the rows they are drawn from: the sample quartiles of ``n`` values sit
inside the population's more often than outside.

This script draws ``n`` values from distributions of the two kinds and
reports, for each ``n``, how often the range is at most 0.1, raw and as
``MATClassifier`` scales it (by ``sqrt(20 / n)`` below 20 mistakes), and the
tenth percentile of the raw range, which the scaling follows. Ordinary
data are stood for by ``Uniform(0, 0.3)`` (a range of 0.15, the low end of
the ordinary fits) and ``Beta(2, 8)`` (0.165); a shortcut's minority by
``Uniform(0.02, 0.08)`` (0.03) and ``Uniform(0.04, 0.16)`` (0.06, twice the
planted shortcuts' range).

Run ``python benchmarks/spread_count.py`` (a few seconds); the table is
printed and written to ``docs/results/spread_count.{csv,md}``.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from skmat._mat import MAX_MISTAKE_SPREAD, MISTAKES_FOR_SPREAD, _scaled_for_count

SOURCES = {
    "ordinary, Uniform(0, 0.3)": lambda rng, n: rng.uniform(0.0, 0.3, n),
    "ordinary, Beta(2, 8)": lambda rng, n: rng.beta(2.0, 8.0, n),
    "shortcut, Uniform(0.02, 0.08)": lambda rng, n: rng.uniform(0.02, 0.08, n),
    "shortcut, Uniform(0.04, 0.16)": lambda rng, n: rng.uniform(0.04, 0.16, n),
}
COUNTS = (4, 6, 8, 10, 12, 15, 20, 30, 50)


def spreads(draw, n, repeats, rng):
    """Raw and scaled interquartile ranges of ``repeats`` samples of ``n``."""
    samples = np.stack([draw(rng, n) for _ in range(repeats)])
    q25, q75 = np.quantile(samples, [0.25, 0.75], axis=1)
    raw = q75 - q25
    return raw, _scaled_for_count(raw, n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20000)
    parser.add_argument("--output-dir", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = []
    for name, draw in SOURCES.items():
        population = np.subtract(*np.quantile(draw(rng, 10**6), [0.75, 0.25]))
        for n in COUNTS:
            raw, scaled = spreads(draw, n, args.repeats, rng)
            rows.append(dict(
                source=name, population_spread=population, mistakes=n,
                raw_at_most_threshold=np.mean(raw <= MAX_MISTAKE_SPREAD),
                scaled_at_most_threshold=np.mean(scaled <= MAX_MISTAKE_SPREAD),
                raw_p10=np.quantile(raw, 0.1),
            ))
    frame = pd.DataFrame(rows)
    frame.to_csv(args.output_dir / "spread_count.csv", index=False)
    lines = [
        f"Share of samples of `n` held-out mistakes whose spread is at most "
        f"{MAX_MISTAKE_SPREAD} (read as a shortcut's minority), raw and scaled "
        f"by sqrt({MISTAKES_FOR_SPREAD} / n) below {MISTAKES_FOR_SPREAD} "
        f"mistakes, and the tenth percentile of the raw spread, "
        f"{args.repeats} samples each; made by `python "
        f"benchmarks/spread_count.py`.",
        "",
        "| source (population spread) | n | raw <= 0.1 | scaled <= 0.1 | "
        "raw 10th percentile | 0.1 * sqrt(n / 20) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        bound = MAX_MISTAKE_SPREAD * min(1.0, np.sqrt(row["mistakes"] / 20))
        lines.append(
            f"| {row['source']} ({row['population_spread']:.3f}) "
            f"| {row['mistakes']} | {row['raw_at_most_threshold']:.2f} "
            f"| {row['scaled_at_most_threshold']:.2f} | {row['raw_p10']:.3f} "
            f"| {bound:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    (args.output_dir / "spread_count.md").write_text(text)


if __name__ == "__main__":
    main()
