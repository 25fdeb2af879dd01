"""The leaderboard: one row per agent; per task the mean R-Log reward with a 95 % bootstrap
interval and the field's own metrics; the format-valid rate and throughput; a breakdown by
domain (seen vs unseen on the simulator); written as Markdown, CSV, JSON and a radar chart.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from rlog_env.leaderboard.metrics import (
    anomaly_metrics,
    bootstrap_ci,
    bootstrap_metric,
    parsing_metrics,
    text_metrics,
)

# The field metric of each task that gets a bootstrap interval beside the reward's (the text
# metrics, corpus BLEU above all, are too costly to recompute a thousand times per cell).
HEADLINE = {"log_parsing": (parsing_metrics, "GA"), "anomaly_detection": (anomaly_metrics, "F1")}

TASK_TITLES = {
    "log_parsing": "LogParsing",
    "anomaly_detection": "AnomalyDetection",
    "log_interpretation": "LogInterpretation",
    "root_cause_analysis": "RootCauseAnalysis",
    "solution_recommendation": "SolutionRecommendation",
}
FILES = ("leaderboard.md", "leaderboard.csv", "leaderboard.json", "radar.png")


def _field_metrics(task: str, predicted: list[str], references: list[str], token_f1: list[float]) -> dict[str, float]:
    if task == "log_parsing":
        found = parsing_metrics(predicted, references)
        out = {k: float(found[k]) for k in ("GA", "FGA", "PA", "FTA")}
        out["token_F1"] = float(np.mean(token_f1)) if token_f1 else 0.0
        return out
    if task == "anomaly_detection":
        found = anomaly_metrics(predicted, references)
        return {k: float(found[k]) for k in ("precision", "recall", "F1", "accuracy")}
    try:
        found = text_metrics(predicted, references)
    except ImportError:  # the eval extra is not installed: report what needs no extra
        return {}
    return {k: float(v) for k, v in found.items()}


def leaderboard(frame) -> dict[str, Any]:
    """The leaderboard of an evaluation's episodes (the DataFrame ``evaluate`` returns)."""
    rows: list[dict[str, Any]] = []
    for agent, by_agent in frame.groupby("agent", sort=False):
        row: dict[str, Any] = {"agent": agent, "tasks": {}}
        for task, group in by_agent.groupby("task", sort=False):
            totals = np.array([r["total"] for r in group["reward"]], dtype=float)
            low, high = bootstrap_ci(totals) if len(totals) > 1 else (float(totals.mean()), float(totals.mean()))
            predicted = [a if isinstance(a, str) else "" for a in group["parsed_answer"]]
            token_f1 = [m.get("token_f1", 0.0) for m in group["metrics"]]
            latency = float(np.sum(group["latency_s"]))
            references = list(group["reference"])
            metric_ci = {}
            if task in HEADLINE and len(group) > 1:
                fn, key = HEADLINE[task]
                metric_ci[key] = [float(v) for v in bootstrap_metric(fn, predicted, references, key=key)]
            row["tasks"][TASK_TITLES[task]] = {
                "episodes": int(len(group)),
                "reward": float(totals.mean()), "reward_ci": [float(low), float(high)],
                "metrics_ci": metric_ci,
                "format_valid": float(np.mean([bool(m.get("well_formed")) for m in group["metrics"]])),
                "episodes_per_s": float(len(group) / latency) if latency > 0 else math.inf,
                "metrics": _field_metrics(task, predicted, references, token_f1),
                "by_domain": _by_domain(group),
            }
        rows.append(row)
    return {"rows": rows, "tasks": [t for t in TASK_TITLES.values() if any(t in r["tasks"] for r in rows)]}


def _by_domain(group) -> dict[str, float]:
    out = {}
    if "unseen" in group and group["source"].iloc[0] == "sim":
        for unseen, part in group.groupby("unseen"):
            out["unseen" if unseen else "seen"] = float(np.mean([r["total"] for r in part["reward"]]))
    for domain, part in group.groupby("domain"):
        out[f"domain:{domain}"] = float(np.mean([r["total"] for r in part["reward"]]))
    return out


def markdown(board: dict[str, Any]) -> str:
    """The leaderboard as Markdown: the main table, the field's metrics, the domain breakdown."""
    tasks = board["tasks"]
    lines = ["| agent | " + " | ".join(tasks) + " | format-valid | episodes/s |",
             "|---|" + "---|" * (len(tasks) + 2)]
    for row in board["rows"]:
        cells = []
        for t in tasks:
            cell = row["tasks"].get(t)
            cells.append("-" if cell is None else
                         f"{cell['reward']:.3f} [{cell['reward_ci'][0]:.3f}, {cell['reward_ci'][1]:.3f}]")
        valid = np.mean([c["format_valid"] for c in row["tasks"].values()])
        speed = [c["episodes_per_s"] for c in row["tasks"].values()]
        episodes = sum(c["episodes"] for c in row["tasks"].values())
        seconds = sum(c["episodes"] / s for c, s in zip(row["tasks"].values(), speed) if s and math.isfinite(s))
        lines.append(f"| {row['agent']} | " + " | ".join(cells) + f" | {valid:.1%} | "
                     + (f"{episodes / seconds:,.0f}" if seconds else "inf") + " |")
    out = ["Mean R-Log reward per task, with 95 % bootstrap intervals.", "", *lines]
    for t in tasks:
        names = sorted({k for row in board["rows"] for k in row["tasks"].get(t, {}).get("metrics", {})},
                       key=lambda k: list(_ORDER).index(k) if k in _ORDER else 99)
        if not names:
            continue
        out += ["", f"**{t}**", "", "| agent | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for row in board["rows"]:
            cell = row["tasks"].get(t, {})
            metrics, cis = cell.get("metrics", {}), cell.get("metrics_ci", {})
            out.append(f"| {row['agent']} | " + " | ".join(
                _fmt(metrics.get(n)) + (f" [{cis[n][0]:.3f}, {cis[n][1]:.3f}]" if n in cis else "")
                for n in names) + " |")
    domains = sorted({k for row in board["rows"] for c in row["tasks"].values() for k in c["by_domain"]})
    split_keys = [k for k in ("seen", "unseen") if k in domains]
    if split_keys:
        out += ["", "**Seen vs unseen systems and faults (mean reward)**", "",
                "| agent | task | " + " | ".join(split_keys) + " |", "|---|---|" + "---|" * len(split_keys)]
        for row in board["rows"]:
            for t, c in row["tasks"].items():
                out.append(f"| {row['agent']} | {t} | " + " | ".join(_fmt(c['by_domain'].get(k)) for k in split_keys) + " |")
    return "\n".join(out) + "\n"


_ORDER = ("GA", "FGA", "PA", "FTA", "token_F1", "precision", "recall", "F1", "accuracy",
          "bleu4", "rouge1", "rouge2", "rougeL")


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def write(board: dict[str, Any], run_dir: Path) -> list[Path]:
    """Write leaderboard.md, .csv, .json and radar.png into ``run_dir``; return the paths."""
    run_dir = Path(run_dir)
    paths = []
    md = run_dir / "leaderboard.md"
    md.write_text(markdown(board), encoding="utf-8")
    js = run_dir / "leaderboard.json"
    js.write_text(json.dumps(board, indent=2, allow_nan=True), encoding="utf-8")
    rows = run_dir / "leaderboard.csv"
    with rows.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["agent", "task", "metric", "value", "ci_low", "ci_high"])
        for row in board["rows"]:
            for t, c in row["tasks"].items():
                out.writerow([row["agent"], t, "reward", c["reward"], *c["reward_ci"]])
                out.writerow([row["agent"], t, "format_valid", c["format_valid"], "", ""])
                out.writerow([row["agent"], t, "episodes_per_s", c["episodes_per_s"], "", ""])
                for name, value in c["metrics"].items():
                    low, high = c["metrics_ci"].get(name, ("", ""))
                    out.writerow([row["agent"], t, name, value, low, high])
                for name, value in c["by_domain"].items():
                    out.writerow([row["agent"], t, f"reward[{name}]", value, "", ""])
    paths += [md, rows, js]
    radar = _radar(board, run_dir / "radar.png")
    if radar is not None:
        paths.append(radar)
    return paths


def _radar(board: dict[str, Any], path: Path) -> Path | None:
    """Each agent's mean reward per task relative to the best agent, as R-Log's Figure 4."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    tasks = board["tasks"]
    if len(tasks) < 3:
        return None
    lows = {t: -2.0 for t in tasks}  # every reward scheme's bottom is <= 0; R-Log's is -2
    best = {t: max(r["tasks"][t]["reward"] for r in board["rows"] if t in r["tasks"]) for t in tasks}
    angles = np.linspace(0, 2 * np.pi, len(tasks), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(6, 6), subplot_kw={"polar": True})
    for row in board["rows"]:
        values = []
        for t in tasks:
            reward = row["tasks"].get(t, {}).get("reward", lows[t])
            span = best[t] - lows[t]
            values.append((reward - lows[t]) / span if span > 0 else 1.0)
        ax.plot(angles + angles[:1], values + values[:1], label=row["agent"])
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.1)
    ax.set_xticks(angles)
    ax.set_xticklabels(tasks, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Mean R-Log reward relative to the best agent per task", fontsize=10)
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.1), fontsize=8)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
