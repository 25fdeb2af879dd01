"""The leaderboard: one row per agent; per task the mean reward with a 95 % bootstrap interval
and the field metrics of the task's kind (:mod:`rlog_env.leaderboard.aggregate`); the
format-valid rate, the count of episodes whose agent failed (``errors``) and throughput; a breakdown by domain (and by seen vs unseen where the source
marks held-out domains); written as Markdown, CSV, JSON and a radar chart. Columns and metric
names come from the board, so a newly registered task or kind shows with its own metrics.

Agent names come from results files, which may be submitted by others: they are written as
text that cannot break a Markdown table, start a spreadsheet formula or a matplotlib
mathtext expression. Each file is written beside its final place and renamed over it, so a
kill never leaves half a file and a symbolic link planted in a submitted run directory is
replaced, never followed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from rlog_env.leaderboard.aggregate import Aggregate

FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "radar.png")


def leaderboard(episodes) -> dict[str, Any]:
    """The leaderboard of an evaluation's episodes: the DataFrame :func:`evaluate
    <rlog_env.leaderboard.runner.evaluate>` returns, or any iterable of episode records, such as
    :func:`~rlog_env.leaderboard.results.read_results` streaming ``results.jsonl`` (constant
    memory per episode; see :mod:`rlog_env.leaderboard.aggregate`)."""
    if hasattr(episodes, "to_dict"):  # a DataFrame
        episodes = episodes.to_dict("records")
    return Aggregate().extend(episodes).board()


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as Markdown: the main table, a table of each task's field metrics, the
    seen/unseen breakdown."""
    tasks = board["tasks"]
    lines = ["| agent | " + " | ".join(tasks) + " | format-valid | errors | episodes/s |",
             "|---|" + "---|" * (len(tasks) + 3)]
    for row in board["rows"]:
        cells = []
        for t in tasks:
            cell = row["tasks"].get(t)
            cells.append("-" if cell is None else
                         f"{cell['reward']:.3f} [{cell['reward_ci'][0]:.3f}, {cell['reward_ci'][1]:.3f}]")
        totals = agent_totals(row)
        lines.append(f"| {_md(row['agent'])} | " + " | ".join(cells) + f" | {totals['format_valid']:.1%} | "
                     f"{totals['errors']} | {format_rate(totals['episodes_per_s'])} |")
    out = ["Mean R-Log reward per task, with 95 % bootstrap intervals.", "", *lines]
    for t in tasks:
        # In the order the task's field metrics give them (the first agent's first).
        names = list(dict.fromkeys(k for row in board["rows"] for k in row["tasks"].get(t, {}).get("metrics", {})))
        if not names:
            continue
        out += ["", f"**{t}**", "", "| agent | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for row in board["rows"]:
            cell = row["tasks"].get(t, {})
            metrics, cis = cell.get("metrics", {}), cell.get("metrics_ci", {})
            out.append(f"| {_md(row['agent'])} | " + " | ".join(
                _fmt(metrics.get(n)) + (f" [{cis[n][0]:.3f}, {cis[n][1]:.3f}]" if n in cis else "")
                for n in names) + " |")
    domains = sorted({k for row in board["rows"] for c in row["tasks"].values() for k in c["by_domain"]})
    split_keys = [k for k in ("seen", "unseen") if k in domains]
    if split_keys:
        out += ["", "**Seen vs unseen systems and faults (mean reward)**", "",
                "| agent | task | " + " | ".join(split_keys) + " |", "|---|---|" + "---|" * len(split_keys)]
        for row in board["rows"]:
            for t, c in row["tasks"].items():
                out.append(f"| {_md(row['agent'])} | {t} | " + " | ".join(_fmt(c['by_domain'].get(k)) for k in split_keys) + " |")
    for t in tasks:
        categories = sorted({k for row in board["rows"] for k in row["tasks"].get(t, {}).get("by_category", {})})
        if not categories:
            continue
        agents = [row for row in board["rows"] if t in row["tasks"]]
        out += ["", f"**{t} by fault category (mean return; episodes)**", "",
                "| category | " + " | ".join(_md(row["agent"]) for row in agents) + " |", "|---|" + "---|" * len(agents)]
        for name in categories:
            cells = [row["tasks"][t]["by_category"].get(name) for row in agents]
            out.append(f"| {_md(name)} | " + " | ".join("-" if c is None else f"{_fmt(c[0])} ({c[1]})" for c in cells) + " |")
    return "\n".join(out) + "\n"


def agent_totals(row: dict[str, Any]) -> dict[str, Any]:
    """What a board row shows over all its tasks: the mean of the tasks' ``format_valid``
    rates, the ``errors`` and ``episodes`` summed, ``episodes_per_s`` over the time of every
    episode (``inf`` when they took none)."""
    cells = list(row["tasks"].values())
    episodes = sum(c["episodes"] for c in cells)
    seconds = sum(c["episodes"] / c["episodes_per_s"] for c in cells
                  if c["episodes_per_s"] and math.isfinite(c["episodes_per_s"]))
    return {"format_valid": float(np.mean([c["format_valid"] for c in cells])) if cells else math.nan,
            "errors": sum(c.get("errors", 0) for c in cells), "episodes": episodes,
            "episodes_per_s": episodes / seconds if seconds else math.inf}


def format_rate(rate: float) -> str:
    """A rate as people read it: whole numbers from 100 up, else three significant digits
    (a slow agent's 0.045 episodes/s is not "0")."""
    if not math.isfinite(rate):
        return "inf"
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _md(text: Any) -> str:
    """``text`` as one Markdown table cell: no column separator, no line break."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _csv_text(text: Any) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text, never evaluates as a formula."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _write_file(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a fresh file renamed over it (atomic; never through a
    symbolic link that stands at ``path`` or at the temporary name)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write(board: dict[str, Any], run_dir: Path) -> list[Path]:
    """Write leaderboard.md, .csv, .json and radar.png into ``run_dir``; return the paths."""
    run_dir = Path(run_dir)
    md = _write_file(run_dir / "leaderboard.md", markdown(board).encode("utf-8"))
    js = _write_file(run_dir / "leaderboard.json", json.dumps(board, indent=2, allow_nan=True).encode("utf-8"))
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(["agent", "task", "metric", "value", "ci_low", "ci_high"])
    for row in board["rows"]:
        agent = _csv_text(row["agent"])
        for t, c in row["tasks"].items():
            out.writerow([agent, t, "reward", c["reward"], *c["reward_ci"]])
            out.writerow([agent, t, "format_valid", c["format_valid"], "", ""])
            out.writerow([agent, t, "errors", c.get("errors", 0), "", ""])
            out.writerow([agent, t, "episodes_per_s", c["episodes_per_s"], "", ""])
            for name, value in c["metrics"].items():
                low, high = c["metrics_ci"].get(name, ("", ""))
                out.writerow([agent, t, name, value, low, high])
            for name, value in c["by_domain"].items():
                out.writerow([agent, t, f"reward[{name}]", value, "", ""])
    rows = _write_file(run_dir / "leaderboard.csv", text.getvalue().encode("utf-8"))
    paths = [md, rows, js]
    radar = _radar(board, run_dir / "radar.png")
    if radar is not None:
        paths.append(radar)
    return paths


RADAR_TITLE = "Mean reward relative to the best agent per task"
RADAR_SCALE = "scale: (reward + 2) / (best + 2); 0 = -2, the bottom of the rlog scheme; 1 = the best agent"
RADAR_BOTTOM = -2.0  # the radar's 0: every reward scheme's bottom is <= 0; R-Log's is -2


def radar_values(board: dict[str, Any]) -> list[list[float]]:
    """Each board row's mean reward per task (``board["tasks"]``) relative to the best agent's
    on that task, as the radar draws it (:data:`RADAR_SCALE`); a task the agent did not play
    counts as the bottom, 0."""
    tasks = board["tasks"]
    best = {t: max(r["tasks"][t]["reward"] for r in board["rows"] if t in r["tasks"]) for t in tasks}
    out = []
    for row in board["rows"]:
        values = []
        for t in tasks:
            reward = row["tasks"].get(t, {}).get("reward", RADAR_BOTTOM)
            span = best[t] - RADAR_BOTTOM
            values.append((reward - RADAR_BOTTOM) / span if span > 0 else 1.0)
        out.append(values)
    return out


def _radar(board: dict[str, Any], path: Path) -> Path | None:
    """Each agent's mean reward per task relative to the best agent, as R-Log's Figure 4: the
    axis is ``(reward + 2) / (best + 2)``, so 0 is the ``rlog`` bottom and 1 the best agent; the
    chart's title states it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    tasks = board["tasks"]
    if len(tasks) < 3:
        return None
    relative = radar_values(board)
    angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"polar": True})
    for row, values in zip(board["rows"], relative):
        # "$" would start mathtext (a malformed expression fails the drawing); "_" hides a label.
        label = str(row["agent"]).replace("$", r"\$")
        ax.plot(angles + angles[:1], values + values[:1], label=label if not label.startswith("_") else " " + label)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.1)
    ax.set_xticks(angles)
    ax.set_xticklabels(tasks, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(RADAR_TITLE + "\n" + RADAR_SCALE, fontsize=9)
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=8)
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return _write_file(path, image.getvalue())
