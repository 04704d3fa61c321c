"""The evidence behind the default drift test: how often each rule flags a column, by
sample size and size of change, for numbers and categories.

    .venv/bin/python benchmarks/drift_defaults.py [--seed 1]

Each cell is the share of independent trials (columns of one ``lm.monitoring.drift`` call,
reference and current of n rows each) that a rule flags:

- numbers, normal data with the current mean moved by 0, 0.05, 0.2 or 0.5 sd:
  KS alone (p < 0.05), Wasserstein alone (W/sd >= 0.1), and ``auto`` (both);
- categories of 10 and of 50 levels (shares falling linearly from 3 to 1), the current
  shares unchanged, moved 10 % of the way to uniform (a small change: Jensen-Shannon
  about 0.015), or reversed (a large one: about 0.25): chi-square alone (p < 0.05),
  Jensen-Shannon alone (>= 0.1), and ``auto``.

A good default flags about 5 % (or fewer) of the no-change trials at every n, and flags a
change that matters (0.5 sd; reversed shares) once n allows, without flagging a negligible one
(0.05 sd) at large n. Not a benchmark: nothing is timed. Prints Markdown tables.
"""

from __future__ import annotations

import argparse

import numpy as np
import pyarrow as pa

import loopml as lm

SIZES = [100, 1_000, 10_000, 100_000, 1_000_000]


def _trials(n: int) -> int:
    return {100: 400, 1_000: 400, 10_000: 200, 100_000: 40, 1_000_000: 10}[n]


def numeric(rng: np.random.Generator) -> None:
    print("\n| n a side | mean shift | KS alone | Wasserstein alone | auto (both) |")
    print("|---:|---:|---:|---:|---:|")
    for n in SIZES:
        for shift in (0.0, 0.05, 0.2, 0.5):
            trials = _trials(n)
            ref = pa.table({f"x{t}": rng.normal(0, 1, n) for t in range(trials)})
            cur = pa.table({f"x{t}": rng.normal(shift, 1, n) for t in range(trials)})
            report = lm.monitoring.drift(ref, cur)
            ks = np.mean([c.stats["ks_p_value"] < 0.05 for c in report.columns])
            w = np.mean([c.stats["wasserstein"] >= 0.1 for c in report.columns])
            auto = report.share
            print(f"| {n:,} | {shift} sd | {ks:.1%} | {w:.1%} | {auto:.1%} |", flush=True)


def _column(rng: np.random.Generator, names: pa.Array, n: int, p: np.ndarray) -> pa.DictionaryArray:
    codes = rng.choice(len(names), n, p=p).astype(np.int32)
    return pa.DictionaryArray.from_arrays(codes, names)


def categorical(rng: np.random.Generator) -> None:
    print("\n| levels | n a side | change | chi-square alone | JS alone | auto (both) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for levels in (10, 50):
        base = np.linspace(3.0, 1.0, levels)
        base /= base.sum()
        names = pa.array([f"v{i}" for i in range(levels)])
        for n in SIZES[:-1]:
            for change in ("none", "10 % toward uniform", "shares reversed"):
                trials = _trials(n)
                if change == "shares reversed":
                    moved = base[::-1].copy()
                else:
                    mix = 0.1 if change.startswith("10") else 0.0
                    moved = (1 - mix) * base + mix / levels

                ref = pa.table({f"c{t}": _column(rng, names, n, base) for t in range(trials)})
                cur = pa.table({f"c{t}": _column(rng, names, n, moved) for t in range(trials)})
                report = lm.monitoring.drift(ref, cur)
                chi2 = np.mean([c.stats["chi2_p_value"] < 0.05 for c in report.columns])
                js = np.mean([c.stats["jensenshannon"] >= 0.1 for c in report.columns])
                print(
                    f"| {levels} | {n:,} | {change} | {chi2:.1%} | {js:.1%} | {report.share:.1%} |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    numeric(rng)
    categorical(rng)


if __name__ == "__main__":
    main()
