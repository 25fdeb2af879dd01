"""Print simulated scenarios of one family, to read them beside the real logs.

``python -m rlog_env.datasets.sim.preview FAMILY [--fault ID] [--seed N] [--count K]
[--difficulty easy|medium|hard]`` prints each scenario's window (abnormal lines marked ``!``),
the template of every line, and the reference interpretation, root cause, solution and facts.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rlog_env.datasets.sim.catalogue import load_catalogue
from rlog_env.datasets.sim.scenario import Difficulty, generate


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse the arguments, print the scenarios."""
    parser = argparse.ArgumentParser(prog="python -m rlog_env.datasets.sim.preview", description=__doc__)
    parser.add_argument("family")
    parser.add_argument("--fault", default=None, help="a fault id of the family (default: each in turn)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--count", type=int, default=1, help="scenarios per fault")
    parser.add_argument("--difficulty", default="medium")
    parser.add_argument("--normal", action="store_true", help="also print a fault-free window")
    args = parser.parse_args(argv)
    catalogue = load_catalogue()
    if args.family not in catalogue.families:
        print(f"unknown family {args.family!r}; known: {', '.join(sorted(catalogue.families))}", file=sys.stderr)
        return 2
    difficulty = Difficulty.of(args.difficulty)
    faults = [args.fault] if args.fault else [f.id for f in catalogue.faults_of(args.family)]
    runs = ([()] if args.normal else []) + [(f,) for f in faults]
    for fault_ids in runs:
        for k in range(args.count):
            rng = np.random.default_rng(np.random.SeedSequence([args.seed, k]))
            scenario = generate(catalogue, args.family, fault_ids, difficulty, rng)
            print(f"=== {args.family} / {', '.join(fault_ids) or 'no fault'} (seed {args.seed}, #{k})")
            for line in scenario.lines:
                print(f"{'!' if line.abnormal else ' '} {line.text}")
            print("--- templates")
            for line in scenario.lines:
                print(f"  {line.template}")
            if fault_ids:
                print(f"--- interpretation: {scenario.interpretation}")
                print(f"--- root cause: {scenario.root_cause}")
                print(f"--- solution: {scenario.solution}")
                print(f"--- facts: {scenario.facts}")
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
