"""The ``rlog`` command.

``rlog check`` walks every environment over every source and split of a data directory, scores
each sample's reference and an empty answer, and prints one row per environment, source and
split: the number of samples and the lowest and highest reward seen. It exits with status 1 if
a reference misses the top reward or an empty answer misses the bottom, so it doubles as a
check that a data directory is complete and sound.

``rlog score ENV --index I --answer TEXT`` scores one answer to one sample, as the environment
would.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

import gymnasium as gym

import rlog_env
from rlog_env.datasets import SOURCES, DataError
from rlog_env.tasks import FORMATS, SCHEMES, TEXT_TASKS


def _sources_for(task: str) -> list[str]:
    return [name for name, (tasks, _, _) in SOURCES.items() if task in tasks]


def _top_reward(env: rlog_env.RLogEnv, sample: rlog_env.Sample) -> float:
    """The reward the reference should earn: a text reference under four words earns less."""
    task = env.task
    if task.reward == "rlog" and task.name in TEXT_TASKS:
        return task.score(task.reference_completion(sample), sample.reference, sample.logs).total
    return task.reward_range[1]


def check(data_dir: str | None, reasoning: str, reward: str, out=sys.stdout) -> int:
    """Score references and empty answers everywhere; print the table; return the exit status."""
    rows, failures = [], 0
    for env_id, cls in rlog_env.ENVIRONMENTS.items():
        for source in _sources_for(cls.task_name):
            for split in ("train", "test"):
                env = gym.make(env_id, source=source, split=split, data_dir=data_dir,
                               reasoning=reasoning, reward=reward).unwrapped
                low, high = env.reward_range
                worst_reference, bad = high, 0
                for index in range(len(env)):
                    sample = env.source[index]
                    got = env.task.reward_for(env.task.reference_completion(sample), sample).total
                    worst_reference = min(worst_reference, got)
                    bad += got != _top_reward(env, sample)
                    bad += env.task.reward_for("", sample).total != low
                failures += bad
                rows.append((env_id, source, split, len(env), f"{worst_reference:.4f}",
                             "ok" if not bad else f"{bad} FAILED"))
    header = ("environment", "source", "split", "samples", "min reference reward", "check")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
    print(f"\nreasoning={reasoning} reward={reward}: "
          + ("every reference earns the top reward and every empty answer the bottom"
             if not failures else f"{failures} check(s) failed"), file=out)
    return 1 if failures else 0


def score(env_id: str, source: str | None, split: str, data_dir: str | None, index: int,
          answer: str, reasoning: str, reward: str, out=sys.stdout) -> int:
    """Score ``answer`` on sample ``index`` and print the step's reward and info as JSON."""
    env = gym.make(env_id, source=source, split=split, data_dir=data_dir, reasoning=reasoning,
                   reward=reward)
    env.reset(options={"index": index})
    _, total, _, _, info = env.step(answer)
    json.dump({"env": env_id, "index": index, "reward": info["reward"], "metrics": info["metrics"],
               "reference": info["reference"]}, out, indent=2, ensure_ascii=False)
    print(file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``rlog`` argument parser."""
    parser = argparse.ArgumentParser(prog="rlog", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"rlog_env {rlog_env.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory laid out like shared/data (default: $RLOG_DATA_DIR)")
        p.add_argument("--reasoning", choices=FORMATS, default="think-first")
        p.add_argument("--reward", choices=SCHEMES, default="rlog")

    p_check = commands.add_parser("check", help="score references and empty answers on every environment")
    common(p_check)
    p_score = commands.add_parser("score", help="score one answer to one sample")
    p_score.add_argument("env", choices=list(rlog_env.ENVIRONMENTS), metavar="ENV",
                         help=f"one of {', '.join(rlog_env.ENVIRONMENTS)}")
    p_score.add_argument("--source", default=None)
    p_score.add_argument("--split", choices=("train", "test"), default="train")
    p_score.add_argument("--index", type=int, default=0)
    p_score.add_argument("--answer", required=True, help="the completion to score")
    common(p_score)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlog`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "check":
            return check(args.data_dir, args.reasoning, args.reward)
        return score(args.env, args.source, args.split, args.data_dir, args.index, args.answer,
                     args.reasoning, args.reward)
    except (DataError, FileNotFoundError, ValueError, IndexError) as exc:
        hint = " (on the command line: --data-dir DIR)" if isinstance(exc, FileNotFoundError) else ""
        print(f"rlog: error: {exc}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
