"""The ``rlog`` command: evaluate agents, look at the environments, get data and models, train.

- ``rlog eval``: the main job: agents x environments x source x split -> a run directory of
  episodes (one JSON line each) and the leaderboard (printed, and written as Markdown, CSV,
  JSON and a radar chart). With no arguments: every baseline on every default environment on
  the simulator's test set. ``--reasoning FORMAT`` makes the built-in agents answer in that
  format; ``--agent-option KEY=VALUE`` sets a parameter on every agent that has it.
- ``rlog leaderboard RUN...``: the leaderboard of earlier runs. ``--html DIR`` (here and on
  ``rlog eval``) also writes it as a static web page to open from disk or publish: the overview,
  charts and an episode browser (:mod:`rlog_env.leaderboard.site`).
- ``rlog rescore RUN``: replay every recorded answer through the environment; exit 1 on any
  difference.
- ``rlog parse-bench --agents A...``: log parsers scored the way logpai's benchmarks score them
  (GA, FGA, PA, FTA over every line of each LogHub 2k system, ``--ground-truth original`` or
  ``corrected``), beside logpai's Drain (:mod:`rlog_env.leaderboard.parse_bench`).
- ``rlog model get NAME``: put a known model (``smollm2-135m``) in the model cache.
  ``rlog model init-tiny --out DIR``: build the tiny, randomly initialised model (tokenizer
  trained on simulator text) offline, for laptops and CI.
- ``rlog check``: walk every environment over every source and split, score each sample's
  reference and an empty answer, and fail (status 1) unless the reference earns its top reward
  and the empty answer the bottom everywhere: a check that a data directory is sound.
- ``rlog envs``: every environment, source, split size and domain, the investigation
  environments, and the known overlaps between sources.
- ``rlog show ENV``: one episode as a person reads it: the prompt, the reference, and what the
  reference scores; ``rlog show ENV --run RUN --index I`` a recorded episode, an investigation
  turn by turn (completions, tool calls, tool outputs, step rewards).
- ``rlog score ENV --answer TEXT``: score one answer to one sample, as the environment would.
- ``rlog data download NAME --to DIR``: fetch a public data set from upstream at its pinned
  commit, verify every file's sha256, and print its licence and citation;
  ``rlog data verify NAME --dir DIR`` checks a data directory against the manifest;
  ``rlog data reasoning --out DIR``: write reasoning trajectories (the R-Log cold start);
  ``rlog data export DIR --kind KIND --out FILE``: export them in one of TRL's formats, or
  (``--kind verl``) as VeRL's parquet prompt set.
- ``rlog train sft`` / ``rlog train grpo``: fine-tune a model with TRL.
- ``rlog repro``: the R-Log ablation in miniature (SFT, cold start, GRPO, R-Log-fast).

``--json`` prints the same content as JSON. Errors in the input (an unknown environment, a
missing data directory, a malformed file) print one line naming the problem and exit with 2.
``rlog eval`` exits with 3 when an episode's agent failed (a request that finally failed: the
episode is recorded, scored as empty, and counted in the leaderboard's ``errors``), naming the
first failure, unless ``--allow-errors``; running the same command again retries the failed
episodes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym
from rich.console import Console
from rich.table import Table

import rlog_env
from rlog_env.agents.registry import parse_agent_options
from rlog_env.datasets import DATA_DIR_ENV, KNOWN_OVERLAPS, SOURCES, DataError, load_source, sources_for
from rlog_env.datasets.incidents import INCIDENT_SOURCES, open_incidents
from rlog_env.envs import ENVIRONMENTS, INVESTIGATION_ENVIRONMENTS, reset_info
from rlog_env.envs.investigation_env import DEFAULT_MAX_STEPS
from rlog_env.tasks import FORMATS, RLOG, SCHEMES

ENDLESS_CHECK = 500  # episodes `rlog check` scores from an endless source
EXIT_EPISODES_FAILED = 3  # `rlog eval`: some episode's agent failed (and --allow-errors was not given)


def _console(out) -> Console:
    return Console(file=out, width=120, highlight=False, soft_wrap=False)


def _print_json(data: Any, out) -> None:
    json.dump(data, out, indent=2, ensure_ascii=False)
    print(file=out)


def check(data_dir: str | None, reasoning: str, reward: str, as_json: bool = False, out=None) -> int:
    """Score references and empty answers everywhere; print the table; return the exit status."""
    out = out or sys.stdout
    rows = []
    # Without any data directory the simulator is checked alone; a named one must be sound.
    no_data = data_dir is None and not os.environ.get(DATA_DIR_ENV)
    for env_id, cls in ENVIRONMENTS.items():
        for source in sources_for(cls.task_name):
            if no_data and SOURCES[source].needs_data:
                continue
            for split in ("train", "test"):
                env = gym.make(env_id, source=source, split=split, data_dir=data_dir,
                               reasoning=reasoning, reward=reward).unwrapped
                low = env.reward_range[0]
                worst, failed = env.reward_range[1], 0
                # An endless source (the simulator's train stream) is checked on its first episodes.
                indices = range(len(env)) if env.source.finite else range(ENDLESS_CHECK)
                for index in indices:
                    sample = env.source[index]
                    got = env.task.reward_for(env.task.reference_completion(sample), sample).total
                    worst = min(worst, got)
                    failed += got != env.task.top_reward(sample)
                    failed += env.task.reward_for("", sample).total != low
                rows.append({"environment": env_id, "source": source, "split": split,
                             "samples": len(indices), "endless": not env.source.finite,
                             "min_reference_reward": worst, "failed": failed})
    failures = sum(r["failed"] for r in rows)
    if as_json:
        _print_json({"reasoning": reasoning, "reward": reward, "rows": rows, "failed": failures}, out)
        return 1 if failures else 0
    table = Table("environment", "source", "split", "samples", "min reference reward", "check",
                  title=f"rlog check (reasoning={reasoning}, reward={reward})")
    for r in rows:
        table.add_row(r["environment"], r["source"], r["split"],
                      f"first {r['samples']} (endless)" if r["endless"] else str(r["samples"]),
                      f"{r['min_reference_reward']:.4f}", "ok" if not r["failed"] else f"{r['failed']} FAILED")
    console = _console(out)
    console.print(table)
    console.print("every reference earns the top reward and every empty answer the bottom"
                  if not failures else f"{failures} check(s) failed")
    if no_data:
        console.print(f"real data sources skipped: set {DATA_DIR_ENV} or pass --data-dir to check them")
    return 1 if failures else 0


def envs(data_dir: str | None, as_json: bool = False, out=None) -> int:
    """List every environment and source with split sizes and domains, and the overlaps."""
    out = out or sys.stdout
    rows = []
    for env_id, cls in ENVIRONMENTS.items():
        for source in sources_for(cls.task_name):
            row: dict[str, Any] = {"environment": env_id, "source": source}
            try:
                splits = {split: load_source(source, cls.task_name, split=split, data_dir=data_dir)
                          for split in ("train", "test")}
            except (DataError, FileNotFoundError) as exc:
                row.update(train=None, test=None, domains=[], unavailable=str(exc))
            else:
                row.update(train=len(splits["train"]) if splits["train"].finite else None,
                           test=len(splits["test"]),
                           domains=sorted(set(splits["train"].domains) | set(splits["test"].domains)))
            rows.append(row)
    overlaps = [{"sources": [a, b], "overlap": text} for a, b, text in KNOWN_OVERLAPS]
    investigations = []
    for source, spec in INCIDENT_SOURCES.items():
        row = {"source": source, "turns": f"up to {DEFAULT_MAX_STEPS} (max_steps)", "description": spec.description}
        try:
            sizes = {split: len(open_incidents(source, split, data_dir=data_dir)) for split in ("train", "test")}
        except (DataError, FileNotFoundError) as exc:
            row.update(train=None, test=None, unavailable=str(exc))
        else:  # an endless split is as long as sys.maxsize
            row.update(train=None if sizes["train"] >= sys.maxsize else sizes["train"], test=sizes["test"])
        investigations += [{"environment": env_id, **row} for env_id in INVESTIGATION_ENVIRONMENTS]
    if as_json:
        _print_json({"environments": rows, "investigations": investigations, "overlaps": overlaps}, out)
        return 0
    table = Table("environment", "source", "train", "test", "domains", title="rlog environments")
    for r in rows:
        if "unavailable" in r:
            table.add_row(r["environment"], r["source"], "-", "-", f"unavailable: {r['unavailable']}")
        else:
            train = "endless" if r["train"] is None else str(r["train"])
            table.add_row(r["environment"], r["source"], train, str(r["test"]), ", ".join(r["domains"]))
    investigation_table = Table("environment", "source", "train", "test", "turns",
                                title="investigation environments (multi-step; rlog eval runs them when named in --envs)")
    for r in investigations:
        if "unavailable" in r:
            investigation_table.add_row(r["environment"], r["source"], "-", "-", f"unavailable: {r['unavailable']}")
        else:
            investigation_table.add_row(r["environment"], r["source"], "endless" if r["train"] is None else str(r["train"]),
                                        str(r["test"]), r["turns"])
    overlap_table = Table("sources", "known overlap", title="known overlaps between sources")
    for o in overlaps:
        overlap_table.add_row(" / ".join(o["sources"]), o["overlap"])
    console = _console(out)
    console.print(table)
    console.print(investigation_table)
    console.print(overlap_table)
    return 0


def show_recorded(run: str, env_id: str, index: int | None, agent: str | None, as_json: bool = False,
                  out=None) -> int:
    """Print one recorded episode of a run as a transcript a person reads: the first prompt, each
    turn (the completion, the tool calls, what the tools answered, the step's reward), the final
    answer, the reference and what the episode scored."""
    from rlog_env.leaderboard.results import read_results

    out = out or sys.stdout
    wanted = 0 if index is None else index
    record = next((r for r in read_results(Path(run)) if r["env"] == env_id and r["index"] == wanted
                   and (agent is None or r["agent"] == agent)), None)
    if record is None:
        raise ValueError(f"{run} records no episode {wanted} of {env_id}" + (f" by {agent!r}" if agent else "")
                         + "; rlog leaderboard RUN lists its agents and environments")
    if as_json:
        _print_json(record, out)
        return 0
    console = _console(out)
    console.rule(f"{record['agent']} on {env_id}, {record['source']}/{record.get('split', '?')} episode {wanted}")
    console.print(record.get("observation", ""), markup=False, soft_wrap=True)
    turns = record.get("turns") or [{"completion": record.get("answer", ""), "reward": record["reward"]["total"]}]
    for n, turn in enumerate(turns, 1):
        console.rule(f"turn {n}: assistant (reward {turn['reward']:+.4f})")
        console.print(turn["completion"], markup=False, soft_wrap=True)
        for call, output in zip(turn.get("tool_calls") or [], turn.get("tool_outputs") or []):
            console.rule(f"tool {call['name']} {json.dumps(call['arguments'], ensure_ascii=False)}", style="dim")
            console.print(output, markup=False, soft_wrap=True)
        for output in (turn.get("tool_outputs") or [])[len(turn.get("tool_calls") or []):]:
            console.rule("tool error", style="dim")
            console.print(output, markup=False, soft_wrap=True)
    console.rule("reference")
    console.print(record["reference"], markup=False, soft_wrap=True)
    total = record.get("return", record["reward"]["total"])
    console.print(f"return {total:.4f}; last step {json.dumps(record['reward'])}; "
                  f"metrics {json.dumps(record['metrics'], ensure_ascii=False)}", markup=False, soft_wrap=True)
    return 0


def show(env_id: str, source: str | None, split: str, data_dir: str | None, seed: int | None,
         index: int | None, reasoning: str, reward: str, as_json: bool = False, out=None) -> int:
    """Print one episode: prompt, reference, and the reward the reference earns (for an
    investigation: the brief, and the reference given as the first turn)."""
    out = out or sys.stdout
    investigation = env_id in INVESTIGATION_ENVIRONMENTS
    where = {} if investigation else {"data_dir": data_dir}
    env = gym.make(env_id, source=source or "sim", split=split, reasoning=reasoning, reward=reward, **where)
    prompt, info = env.reset(seed=seed, options=None if index is None else {"index": index})
    truth = env.unwrapped._case.facts if investigation else env.unwrapped.source[info["index"]]
    reference_completion = env.unwrapped.task.reference_completion(truth)
    _, _, _, _, step_info = env.step(reference_completion)
    episode = {"environment": env_id, "source": info["source"], "split": info["split"],
               "index": info["index"], "domain": info["domain"], "seed": seed,
               "reasoning": reasoning, "reward_scheme": reward, "meta": info["meta"],
               "messages": info["messages"], "prompt": prompt,
               "reference": step_info["reference"], "reference_completion": reference_completion,
               "reference_reward": step_info["reward"], "reference_metrics": step_info["metrics"]}
    if as_json:
        _print_json(episode, out)
        return 0
    console = _console(out)
    head = Table(show_header=False, title=f"{env_id} - {info['source']}/{info['split']} sample {info['index']}")
    head.add_column(style="bold")
    head.add_column()
    for key in ("domain", "seed", "reasoning", "reward_scheme"):
        head.add_row(key, str(episode[key]))
    head.add_row("meta", json.dumps(info["meta"], ensure_ascii=False))
    console.print(head)
    for message in info["messages"]:
        console.rule(f"{message['role']} message")
        console.print(message["content"], markup=False, soft_wrap=True)
    console.rule("reference")
    console.print(step_info["reference"], markup=False, soft_wrap=True)
    scores = Table(*step_info["reward"], *step_info["metrics"], title="what the reference scores")
    scores.add_row(*(f"{v:.4f}" for v in step_info["reward"].values()),
                   *(f"{v:.4f}" if isinstance(v, float) else str(v) for v in step_info["metrics"].values()))
    console.print(scores)
    return 0


def score(env_id: str, source: str | None, split: str, data_dir: str | None, index: int,
          answer: str, reasoning: str, reward: str, out=None) -> int:
    """Score ``answer`` on sample ``index`` and print the step's reward and info as JSON."""
    out = out or sys.stdout
    env = gym.make(env_id, source=source, split=split, data_dir=data_dir, reasoning=reasoning, reward=reward)
    env.reset(options={"index": index})
    _, _, _, _, info = env.step(answer)
    _print_json({"environment": env_id, "index": index, "reward": info["reward"],
                 "metrics": info["metrics"], "reference": info["reference"]}, out)
    return 0


def data_download(name: str, to: str, base_url: str | None, timeout: float, retries: int,
                  files: list[str] | None, as_json: bool = False, out=None, err=None) -> int:
    """Fetch and verify data set ``name`` into ``to``; print what was done, the licence, the citation."""
    out = out or sys.stdout
    err = err or sys.stderr
    from rlog_env.datasets.download import LICENCES, DownloadError, download

    def progress(path: str, status: str, done: int, total: int) -> None:
        if status in ("verified", "fetched", "failed", "retry"):
            print(f"{status:>8}  {path}", file=err)

    licence = LICENCES[name] if name in LICENCES else None
    try:
        report = download(name, to, base_url=base_url, timeout=timeout, retries=retries,
                          files=files, progress=None if as_json else progress)
    except DownloadError as exc:
        print(f"rlog: error: {exc}", file=err)
        return 1
    summary = {"dataset": name, "root": str(report.root), "fetched": report.fetched,
               "verified": report.verified, "bytes": report.total_bytes,
               "licence": licence.summary, "citation": licence.citation}
    if as_json:
        _print_json(summary, out)
        return 0
    console = _console(out)
    console.print(f"{name}: {len(report.fetched)} file(s) fetched, {len(report.verified)} already "
                  f"present, all {len(report.files)} verified by sha256 in {report.root}", markup=False)
    console.print(f"Set RLOG_DATA_DIR={report.root} (or pass data_dir=) to use it.", markup=False)
    console.print(f"Licence: {licence.summary}", markup=False)
    console.print(f"Cite: {licence.citation}", markup=False)
    return 0


def data_verify(name: str, root: str, as_json: bool = False, out=None) -> int:
    """Check a data directory against the manifest; status 1 when a file is missing or wrong."""
    out = out or sys.stdout
    from rlog_env.datasets.download import dataset_files, verify

    problems = verify(name, root)
    if as_json:
        _print_json({"dataset": name, "root": root, "files": len(dataset_files(name)),
                     "problems": problems}, out)
    else:
        for problem in problems:
            print(problem, file=out)
        print(f"{name}: " + (f"{len(problems)} problem(s)" if problems else
                             f"all {len(dataset_files(name))} files present and verified"), file=out)
    return 1 if problems else 0


def _teacher_of(spec: str):
    """A teacher for rejection sampling: agent ``spec`` as a callable samples -> completions,
    shown each sample as the environments show it (``Observation.from_reset``), and its format."""
    from rlog_env.agents.base import Observation
    from rlog_env.agents.registry import make_agent
    from rlog_env.tasks import get_task

    agent = make_agent(spec)

    def teach(samples):
        observations = []
        for sample in samples:
            task = get_task(sample.task, agent.reasoning)
            info = reset_info(task, sample, sample.meta.get("source", ""), sample.meta.get("split", ""),
                              sample.meta.get("index", 0))
            observations.append(Observation.from_reset(task.prompt(sample), info))
        return agent.act(observations)

    return teach, agent.reasoning


def data_reasoning(source: str, tasks: Sequence[str] | None, split: str, episodes: int, seed: int,
                   out_dir: str, data_dir: str | None, teacher: str | None, threshold: float,
                   as_json: bool = False, out=None) -> int:
    """Write a reasoning-trajectory data set (R-Log cold start) and print its card."""
    out = out or sys.stdout
    from rlog_env.datasets.reasoning import write_reasoning_dataset

    options: dict[str, Any] = {}
    if teacher:
        options["teacher"], options["reasoning_format"] = _teacher_of(teacher)
        options["threshold"] = threshold
    card = write_reasoning_dataset(out_dir, source=source, tasks=tuple(tasks) if tasks else None,
                                   split=split, episodes=episodes, seed=seed, data_dir=data_dir,
                                   **options)
    if as_json:
        _print_json(card, out)
        return 0
    console = _console(out)
    console.print(f"{card['total']} trajectories from {source}/{split} (seed {seed}) in {out_dir}; "
                  f"mean reasoning {card['reasoning_words_mean']} words", markup=False)
    for key in ("per_task", "per_strategy", "per_origin"):
        console.print(f"{key.replace('_', ' ')}: "
                      + ", ".join(f"{k} {v}" for k, v in card[key].items()), markup=False)
    return 0


def eval_command(agents: Sequence[str], envs: Sequence[str] | None, source: str, split: str,
                 episodes: int | None, data_dir: str | None, reward: str, run_dir: str | None,
                 batch_size: int, domains: Sequence[str] | None, difficulty: str | None,
                 as_json: bool = False, out=None, reasoning: str | None = None,
                 agent_options: Sequence[str] = (), allow_errors: bool = False,
                 protocol: str | None = None, html: str | None = None) -> int:
    """Run an evaluation, print the leaderboard and the run directory (``html``: write the
    leaderboard's web page into that directory too)."""
    from rlog_env.leaderboard import site, tables
    from rlog_env.leaderboard.results import read_header, read_results
    from rlog_env.leaderboard.runner import default_agents, run, with_trivial_baselines

    out = out or sys.stdout
    if html is not None:
        site.check_target(html)  # before the evaluation, not after it
    run_path = run(with_trivial_baselines(agents or default_agents(envs), envs), envs, source=source, split=split, episodes=episodes,
                   data_dir=data_dir, reward=reward, run_dir=run_dir, batch_size=batch_size,
                   domains=domains, difficulty=difficulty, reasoning=reasoning,
                   agent_options=parse_agent_options(agent_options or ()), protocol=protocol,
                   progress=not as_json and out is sys.stdout)
    board = tables.leaderboard(read_results(run_path))  # streamed: memory does not grow with episodes
    tables.write(board, run_path)
    page = _write_site(board, [run_path], html)
    absent = read_header(run_path).get("absent_domains", [])
    if as_json:
        _print_json({"run_dir": str(run_path), "leaderboard": board, **({"absent_domains": absent} if absent else {}),
                     **({"site": str(page)} if page else {})}, out)
    else:
        print(tables.markdown(board), file=out)
        if absent:
            print(f"absent from the data directory (held out, not evaluated): {', '.join(absent)}", file=out)
        print(f"run directory: {run_path}", file=out)
        if page:
            print(f"web page: {page}", file=out)
    failed = [r for r in read_results(run_path) if r.get("error") is not None]
    if failed and not allow_errors:
        first = failed[0]
        print(f"rlog: error: {len(failed)} episode(s) failed (their agent got no answer; scored as empty); the "
              f"first: {first['agent']} on {first['env']} #{first['index']}: {first['error']}. Fix the cause and "
              f"run the same command again: the failed episodes are retried. --allow-errors accepts the run as "
              f"it is.", file=sys.stderr)
        return EXIT_EPISODES_FAILED
    return 0


def leaderboard_command(runs: Sequence[str], as_json: bool = False, out=None, html: str | None = None) -> int:
    """Print (and write into the first run) the leaderboard of one or more runs; ``html``: write
    its web page into that directory too."""
    from rlog_env.leaderboard import site, tables
    from rlog_env.leaderboard.results import read_results

    out = out or sys.stdout
    for run in runs:
        if not (Path(run) / "results.jsonl").exists():
            raise FileNotFoundError(f"{run} is not a run directory (no results.jsonl); pass the path rlog eval printed")
    if html is not None:
        site.check_target(html)
    board = tables.leaderboard(record for run in runs for record in read_results(Path(run)))
    tables.write(board, Path(runs[0]))
    page = _write_site(board, [Path(run) for run in runs], html)
    if as_json:
        _print_json(board, out)
    else:
        print(tables.markdown(board), file=out)
        if page:
            print(f"web page: {page}", file=out)
    return 0


def _write_site(board: dict[str, Any], runs: Sequence[Path], html: str | None) -> Path | None:
    """The leaderboard's web page in ``html`` (nothing when it is None), from the runs' episodes
    read again, one at a time; the path of its index.html."""
    if html is None:
        return None
    from rlog_env.leaderboard import site
    from rlog_env.leaderboard.results import read_results

    names = [Path(run).resolve().name for run in runs]
    return site.write(board, (record for run in runs for record in read_results(Path(run))), html,
                      title="rlog leaderboard: " + ", ".join(names), runs=names)


def rescore_command(run: str, data_dir: str | None, out=None) -> int:
    """Recompute every score of a run; exit 1 if any differs from the recorded one."""
    from rlog_env.leaderboard.runner import rescore

    out = out or sys.stdout
    differences = rescore(run, data_dir)
    for d in differences[:20]:
        where = f" (turn {d['turn'] + 1}: its tool outputs or reward differ)" if "turn" in d else ""
        print(f"{d['agent']} {d['env']} #{d['index']}: recorded {d['recorded']}, recomputed {d['recomputed']}{where}",
              file=out)
    print(f"{run}: " + (f"{len(differences)} episode(s) score differently" if differences
                        else "every recorded score reproduces"), file=out)
    return 1 if differences else 0


def parse_bench_command(agents: Sequence[str], ground_truth: str, data_dir: str | None,
                        systems: Sequence[str] | None = None, batch_size: int = 64,
                        agent_options: Sequence[str] = (), as_json: bool = False, out=None) -> int:
    """Score parsers on every line of each LogHub 2k system; print the table (or JSON)."""
    from rlog_env.agents.registry import apply_agent_options, make_agent
    from rlog_env.leaderboard import parse_bench

    out = out or sys.stdout
    if len(set(agents)) != len(agents):
        raise ValueError(f"--agents expects distinct agents, got {' '.join(agents)}")
    objects = [make_agent(spec) for spec in agents]  # an unknown name fails before any data is read
    options = parse_agent_options(agent_options or ())
    if options:
        apply_agent_options(objects, options)
    progress = None if as_json or out is not sys.stdout else (lambda line: print(f"parse-bench: {line}", file=sys.stderr))
    result = parse_bench.parse_bench(objects, data_dir, ground_truth, systems=systems, batch_size=batch_size,
                                     names=list(agents), progress=progress)
    if as_json:
        _print_json(result, out)
    else:
        print(parse_bench.markdown(result), file=out)
    return 0


def model_get(name: str, cache_dir: str | None, out=None) -> int:
    """Put a known model in the model cache and print its path."""
    from rlog_env.agents.models import ModelError, get_model

    out = out or sys.stdout
    try:
        path = get_model(name, cache_dir=cache_dir)
    except ModelError as exc:  # every source failed: the message lists each failure
        print(f"rlog: error: {exc}", file=sys.stderr)
        return 1
    print(path, file=out)
    return 0


def model_init_tiny(out_dir: str, seed: int, vocab_size: int, hidden_size: int, layers: int,
                    overwrite: bool, as_json: bool, out=None) -> int:
    """Build the tiny model into ``out_dir``; print its path and sizes."""
    import time

    from rlog_env.training.tiny import init_tiny, tiny_info

    out = out or sys.stdout
    started = time.perf_counter()
    try:
        path = init_tiny(out_dir, seed=seed, vocab_size=vocab_size, hidden_size=hidden_size,
                         num_layers=layers, overwrite=overwrite)
    except (ImportError, FileExistsError) as exc:
        print(f"rlog: error: {exc}", file=sys.stderr)
        return 2
    info = {**tiny_info(path), "seed": seed, "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        _print_json(info, out)
    else:
        print(f"{path}: tiny Llama, {info['parameters'] / 1e6:.2f} M parameters (random init, seed {seed}), "
              f"vocab {info['vocab_size']}, hidden {info['hidden_size']}, {info['num_layers']} layers; "
              f"built in {info['seconds']:.1f}s", file=out)
    return 0


def _trl_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as TRL options; values are read as JSON when they parse (numbers,
    booleans, lists), else kept as strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--trl expects KEY=VALUE (e.g. max_steps=100), got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def train_command(kind: str, args: argparse.Namespace, out=None) -> int:
    """``rlog train sft|grpo``: a TrainConfig from --config and the flags; print the checkpoint."""
    from rlog_env.training.config import TrainConfig
    from rlog_env.training.trainers import final_metrics, train

    flags = {name: getattr(args, name) for name in ("model", "output_dir", "data", "source", "episodes",
                                                     "difficulty", "data_dir", "reasoning", "seed", "device")}
    flags.update(tasks=args.tasks, envs=args.envs, lora={"r": args.lora_r} if args.lora_r else None)
    if kind == "sft":
        flags["target"] = args.target
    else:
        flags.update(reward=args.reward, vllm=args.vllm)
    flags = {k: v for k, v in flags.items() if v is not None}
    if args.resume:
        flags["resume"] = True
    trl = _trl_overrides(args.trl or [])
    config = (TrainConfig.from_file(args.config, trl=trl, **flags) if args.config
              else TrainConfig(trl=trl, **flags))
    path = train(kind, config)
    record = final_metrics(path)
    print(f"{kind}: {path} ({record['seconds']:.0f} s); evaluate it with "
          f"rlog eval --agents transformers:{path}", file=out or sys.stdout)
    return 0


def repro_command(args: argparse.Namespace, out=None) -> int:
    """``rlog repro``: the R-Log ablation; print its leaderboard."""
    from rlog_env.training.repro import markdown, preset, repro

    config = preset(args.preset, model=args.model, out=args.out, data_dir=args.data_dir, seed=args.seed)
    summary = repro(config, verbose=not args.json)
    if args.json:
        _print_json(summary, out or sys.stdout)
    else:
        print(markdown(summary), file=out or sys.stdout)
        print(f"written to {Path(config.out) / 'leaderboard.md'}", file=out or sys.stdout)
        print(f"learning curves: {summary['curves']['png']} and {summary['curves']['csv']}", file=out or sys.stdout)
    return 0


def data_transcripts(args: argparse.Namespace, out=None) -> int:
    """``rlog data transcripts``: the investigations' cold-start transcripts, and what they hold."""
    from rlog_env.agents.registry import make_agent
    from rlog_env.training.transcripts import cold_start_transcripts, write_transcripts

    kwargs: dict[str, Any] = {"source": args.source, "reasoning": args.reasoning, "reward": args.reward}
    if args.difficulty:
        kwargs["difficulty"] = args.difficulty
    if args.data_dir:
        kwargs["data_dir"] = args.data_dir
    teacher = make_agent(args.teacher, reasoning=args.reasoning) if args.teacher else None
    transcripts = cold_start_transcripts(args.envs, args.episodes, teacher=teacher, threshold=args.threshold,
                                         **kwargs)
    path = write_transcripts(transcripts, args.out)
    out = out or sys.stdout
    for env_id in args.envs:
        mine = [t for t in transcripts if t["env_id"] == env_id]
        by_agent = ", ".join(f"{a} {sum(t['agent'] == a for t in mine)}" for a in sorted({t["agent"] for t in mine}))
        mean = sum(t["return"] for t in mine) / len(mine) if mine else float("nan")
        print(f"{env_id}: {len(mine)} of {args.episodes} transcripts kept (ended with an answer), mean return "
              f"{mean:.3f}; {by_agent}", file=out)
    print(f"written to {path}; train the cold start with `rlog train sft --envs {' '.join(args.envs)} "
          f"--data {args.out}`", file=out)
    return 0


def data_export(directory: str | None, kind: str, reasoning: str, out_path: str, out=None, reward: str | None = None,
                envs: Sequence[str] | None = None, episodes: int = 64, difficulty: str | None = None) -> int:
    """``rlog data export``: a reasoning data set as JSON lines in one of TRL's formats, or
    (``kind="verl"``) as VeRL's parquet prompt set scored under the scheme ``reward``; transcripts
    as conversational SFT data (``sft-investigation``); GRPO rows of investigation environments
    (``grpo`` with ``envs``)."""
    from rlog_env.training.export import read_trajectories, records, write_jsonl

    if envs:
        if kind not in ("grpo", "verl"):
            raise ValueError(f"--envs applies to --kind grpo (rows for TRL's environment_factory) or --kind verl "
                             f"(rows for VeRL's agent loop), got --kind {kind}")
        options = {"reasoning": reasoning, "reward": reward or RLOG, **({"difficulty": difficulty} if difficulty else {})}
        if kind == "verl":
            from rlog_env.integrations.verl import investigation_rows as verl_rows
            from rlog_env.integrations.verl import write_parquet
            rows = [row for env_id in envs for row in verl_rows(env_id, episodes, **options)]
            path = write_parquet(rows, out_path)
            print(f"{len(rows)} verl rows of {', '.join(envs)} in {path}; train on them with "
                  "examples/verl/run_rlog_multiturn_grpo.sh (VeRL's agent loop rlog_investigation)",
                  file=out or sys.stdout)
            return 0
        from rlog_env.integrations.trl import investigation_rows
        rows = [row for env_id in envs for row in investigation_rows(env_id, episodes, **options)]
        path = write_jsonl(rows, out_path)
        print(f"{len(rows)} grpo rows of {', '.join(envs)} in {path}; train on them with "
              "GRPOTrainer(environment_factory=rlog_env.integrations.trl.environment_factory(...)) or "
              f"`rlog train grpo --envs {' '.join(envs)}`", file=out or sys.stdout)
        return 0
    if directory is None:
        raise ValueError(f"--kind {kind} expects DIR, the data set directory to export")
    if kind == "sft-investigation":
        from rlog_env.training.transcripts import read_transcripts, sft_rows
        rows = sft_rows(read_transcripts(directory))
        path = write_jsonl(rows, out_path)
        print(f"{len(rows)} sft-investigation records in {path} (messages + tools); train with "
              "assistant_only_loss, as `rlog train sft --envs …` does", file=out or sys.stdout)
        return 0

    if kind == "verl":
        from rlog_env.integrations.verl import rows as verl_rows
        from rlog_env.integrations.verl import write_parquet

        rows = verl_rows(read_trajectories(directory), reasoning, reward or RLOG)
        path = write_parquet(rows, out_path)
        print(f"{len(rows)} verl rows in {path}; train on them with "
              f"`python -m verl.trainer.main_ppo data.train_files={path} ...` (examples/verl/)",
              file=out or sys.stdout)
        return 0
    if reward is not None:
        raise ValueError(f"--reward applies to --kind verl only, got --kind {kind}; TRL's reward functions "
                         "take the scheme when made (rlog train grpo --reward)")
    rows = records(read_trajectories(directory), kind, reasoning)
    path = write_jsonl(rows, out_path)
    print(f"{len(rows)} {kind} records in {path}; load them with "
          f"datasets.load_dataset('json', data_files='{path}')", file=out or sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``rlog`` argument parser."""
    parser = argparse.ArgumentParser(prog="rlog", description="rlog_env: log-analysis environments after R-Log.")
    parser.add_argument("--version", action="version", version=f"rlog_env {rlog_env.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_dir(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", help="data directory laid out like shared/data (default: $RLOG_DATA_DIR)")

    def scheme(p: argparse.ArgumentParser) -> None:
        p.add_argument("--reasoning", choices=FORMATS, default="think-first", help="output format")
        p.add_argument("--reward", choices=SCHEMES, default="rlog", help="reward scheme")

    def episode(p: argparse.ArgumentParser) -> None:
        p.add_argument("env", metavar="ENV", help=f"one of {', '.join(rlog_env.ENVIRONMENTS)}")
        p.add_argument("--source", default=None, help="sample source (default: the environment's)")
        p.add_argument("--split", choices=("train", "test"), default="train")

    p = commands.add_parser("eval", help="evaluate agents and print the leaderboard (the main job)")
    p.add_argument("--agents", nargs="+", default=None,
                   help="built-in names (heuristic, subsumption, constant-normal, echo, empty, smollm2-135m; for the "
                        "investigation environments scripted-investigator, answer-now, random-tools), "
                        "transformers:PATH_OR_ID, openai:MODEL@BASE_URL, python:module:callable (default: "
                        "the baselines of the environments run; on investigation environments the trivial "
                        "answer-now and random-tools always run beside the agents named)")
    p.add_argument("--agent-option", action="append", default=[], metavar="KEY=VALUE",
                   help="set an agent parameter on every agent that has it (repeatable): max_concurrency, "
                        "timeout, max_tokens, temperature, tool_calling for openai:, batch_size, "
                        "max_new_tokens, ... for transformers:; VALUE is read as JSON when it can be")
    p.add_argument("--allow-errors", action="store_true",
                   help=f"exit 0 even when episodes failed (default: exit {EXIT_EPISODES_FAILED}, naming the first error)")
    p.add_argument("--envs", nargs="+", default=None,
                   help="environment ids (default: every one-step environment; the investigation "
                        "environments run when named)")
    p.add_argument("--source", default="sim")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--episodes", type=int, default=None,
                   help="episodes per environment (default: a finite split completely; 100 from the simulator)")
    p.add_argument("--domains", nargs="+", default=None)
    p.add_argument("--difficulty", default=None, help="simulator difficulty: easy, medium, hard")
    having = ", ".join(name for name, spec in SOURCES.items() if "protocol" in spec.option_names)
    p.add_argument("--protocol", default=None,
                   help=f"the source's evaluation protocol, for {having or 'no source'}: 'unseen' fits agents "
                        "on the seen systems only and reports seen and unseen rows (default: every system seen)")
    p.add_argument("--reward", choices=SCHEMES, default="rlog")
    p.add_argument("--reasoning", choices=FORMATS, default=None,
                   help="the output format of the built-in agents (default: each agent's own, think-first)")
    p.add_argument("--run-dir", default=None, help="run directory (default: runs/<UTC time>); an existing one is resumed")
    p.add_argument("--batch-size", type=int, default=16)
    data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    html_help = ("also write the leaderboard as a static web page into DIR (new, empty, or a page written "
                 "before): overview, charts, episode browser; opens from disk, publishes as it is")
    p.add_argument("--html", default=None, metavar="DIR", help=html_help)
    p = commands.add_parser("leaderboard", help="print the leaderboard of earlier runs")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--json", action="store_true")
    p.add_argument("--html", default=None, metavar="DIR", help=html_help)
    p = commands.add_parser("rescore", help="recompute every score of a run from its recorded answers")
    p.add_argument("run", metavar="RUN")
    data_dir(p)
    p = commands.add_parser(
        "parse-bench", help="score log parsers as logpai's benchmarks do: every line of each LogHub 2k system",
        description="Score log parsers the way logpai's benchmarks (Zhu et al., ICSE'19; Loghub-2.0, "
                    "ISSTA'24) do: GA, FGA, PA and FTA over all 2,000 lines of every LogHub system in the "
                    "data directory, per system and their mean, beside logpai's Drain predictions "
                    "(reference/drain_predictions.tsv) scored the same way. An agent with fit() is fitted "
                    "afresh for each system on that system's 2,000 raw lines (no labels); each distinct "
                    "message is asked once and its answer given to every line that holds it.")
    p.add_argument("--agents", nargs="+", required=True,
                   help="agents as rlog eval names them: heuristic, subsumption, transformers:PATH_OR_ID, "
                        "openai:MODEL@BASE_URL, python:module:callable, ...")
    p.add_argument("--ground-truth", choices=parse_bench_ground_truths(), default="original",
                   help="original: LogHub's templates (loghub/; truth grouped by EventId, as logparser's "
                        "evaluator and the published GA); corrected: Loghub-2.0's corrected templates "
                        "(loghub2_2k_corrected/; no Android or Windows, which are then left out)")
    p.add_argument("--systems", nargs="+", default=None, help="only these systems (default: every one present)")
    p.add_argument("--batch-size", type=int, default=64, help="distinct messages per act() call")
    p.add_argument("--agent-option", action="append", default=[], metavar="KEY=VALUE",
                   help="set an agent parameter on every agent that has it (repeatable), as in rlog eval")
    data_dir(p)
    p.add_argument("--json", action="store_true",
                   help='print {"agents": {AGENT: {"systems": {SYSTEM: {"GA", "FGA", "PA", "FTA"}}, "mean": '
                        '{...}}}, "drain": {...}, ...} instead of the table')
    model = commands.add_parser("model", help="get a model into the model cache, or build the tiny one")
    model_commands = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    p = model_commands.add_parser("get", help="download or convert a known model")
    p.add_argument("name", help="e.g. smollm2-135m")
    p.add_argument("--cache-dir", default=None, help="model cache (default: $RLOG_MODEL_CACHE or ~/.cache/rlog_env/models)")
    p = model_commands.add_parser("init-tiny", help="build the tiny random-init model offline (laptops, CI)")
    p.add_argument("--out", required=True, help="directory to write the checkpoint to (must be empty or new)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights")
    p.add_argument("--vocab-size", type=int, default=4096)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out directory")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")

    p = commands.add_parser("check", help="score references and empty answers on every environment")
    data_dir(p), scheme(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p = commands.add_parser("envs", help="list environments, sources, split sizes, domains, overlaps")
    data_dir(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p = commands.add_parser("show", help="show one episode: prompt, reference, its reward; or a recorded one "
                                         "(--run) as a transcript")
    episode(p), data_dir(p), scheme(p)
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--seed", type=int, default=None, help="draw the sample with this seed")
    pick.add_argument("--index", type=int, default=None, help="take sample I of the split")
    p.add_argument("--run", default=None, help="a run directory: show the episode it recorded, turn by turn")
    p.add_argument("--agent", default=None, help="with --run: whose episode (default: the first recorded)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p = commands.add_parser("score", help="score one answer to one sample")
    episode(p), data_dir(p), scheme(p)
    p.add_argument("--index", type=int, default=0, help="sample index in the split")
    p.add_argument("--answer", required=True, help="the completion to score")

    data = commands.add_parser("data", help="download or verify the public data sets")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    from rlog_env.datasets.download import DATASETS

    p = data_commands.add_parser("download", help="fetch a data set from upstream and verify it")
    p.add_argument("name", choices=sorted(DATASETS), help="the data set")
    p.add_argument("--to", required=True, help="the data directory to fill (laid out like shared/data)")
    p.add_argument("--base-url", default=None,
                   help="mirror laid out as /{repo}/{commit}/{path} (default: $RLOG_DOWNLOAD_BASE_URL, "
                        "else https://raw.githubusercontent.com)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds a stalled connection may wait")
    p.add_argument("--retries", type=int, default=2, help="retries after a transient failure")
    p.add_argument("--files", nargs="+", default=None, help="only these manifest paths or patterns")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p = data_commands.add_parser("verify", help="check a data directory against the manifest")
    p.add_argument("name", choices=sorted(DATASETS), help="the data set")
    p.add_argument("--dir", required=True, help="the data directory to check")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p = data_commands.add_parser("reasoning", help="write reasoning trajectories (R-Log cold-start data)")
    p.add_argument("--source", default="sim", help="sample source (default: sim)")
    p.add_argument("--tasks", nargs="+", default=None, help="task names (default: every task the source serves)")
    p.add_argument("--split", choices=("train", "test"), default="train")
    p.add_argument("--episodes", type=int, default=200, help="samples per task (a finite split: at most all)")
    p.add_argument("--seed", type=int, default=0, help="seed of the strategy choice")
    p.add_argument("--out", required=True, help="output directory (new, empty, or an earlier reasoning data set)")
    data_dir(p)
    p.add_argument("--teacher", default=None, help="agent spec whose completions replace the rule-based "
                                                   "trajectories where they earn --threshold")
    p.add_argument("--threshold", type=float, default=0.0, help="minimum total reward of a teacher completion")
    p.add_argument("--json", action="store_true", help="print the card as JSON")
    p = data_commands.add_parser("export", help="export a reasoning data set in TRL's formats (JSON lines) "
                                                "or VeRL's (parquet)")
    p.add_argument("dir", metavar="DIR", nargs="?", default=None,
                   help="a directory written by `rlog data reasoning` (or `rlog data transcripts` for "
                        "sft-investigation); not used by grpo or verl with --envs")
    p.add_argument("--kind", choices=("sft-answer", "sft-reasoning", "grpo", "verl", "sft-investigation"),
                   required=True,
                   help="sft-answer: X→Y baseline; sft-reasoning: X→(R,Y) cold start; grpo: prompt set; "
                        "verl: VeRL's parquet prompt set (rlog_env.integrations.verl); sft-investigation: "
                        "transcripts as conversational SFT data with tools")
    p.add_argument("--envs", nargs="+", default=None, metavar="ENV",
                   help="grpo / verl: rows of these investigation environments (TRL's environment_factory, "
                        "VeRL's agent loop) instead of DIR")
    p.add_argument("--episodes", type=int, default=64, help="grpo / verl --envs: incidents per environment")
    p.add_argument("--difficulty", default=None, help="grpo / verl --envs: simulator difficulty")
    p.add_argument("--reasoning", choices=FORMATS, default="think-first", help="output format")
    p.add_argument("--reward", choices=SCHEMES, default=None,
                   help="reward scheme of the verl rows (default: rlog); other kinds take none")
    p.add_argument("--out", required=True, help="the file to write: .jsonl, or .parquet for verl")
    p = data_commands.add_parser("transcripts", help="play the scripted investigator (or a teacher) on training "
                                                     "incidents: the investigations' cold-start data")
    p.add_argument("--envs", nargs="+", required=True, metavar="ENV", help="investigation environments")
    p.add_argument("--episodes", type=int, default=50, help="training incidents per environment")
    p.add_argument("--source", default="sim", help="incident source (default: sim)")
    p.add_argument("--difficulty", default=None, help="simulator difficulty (default: the environment's)")
    scheme(p)
    p.add_argument("--teacher", default=None, help="agent spec whose transcript replaces the scripted one "
                                                   "where its return reaches --threshold")
    p.add_argument("--threshold", type=float, default=0.0, help="minimum return of a teacher transcript")
    p.add_argument("--out", required=True, help="output directory (transcripts.jsonl is written into it)")
    data_dir(p)

    train = commands.add_parser("train", help="fine-tune a model with TRL (SFT or GRPO)")
    train_commands = train.add_subparsers(dest="train_command", required=True, metavar="KIND")
    for kind, text in (("sft", "supervised fine-tuning: X→(R,Y) cold start or X→Y baseline"),
                       ("grpo", "GRPO on the joint R-Log reward (format + answer)")):
        p = train_commands.add_parser(kind, help=text)
        p.add_argument("--config", default=None, help="a TOML or YAML file of TrainConfig fields ([trl] table)")
        p.add_argument("--model", default=None, help="tiny, smollm2-135m, a checkpoint directory or a hub id")
        p.add_argument("--output-dir", default=None, help="checkpoints; the final model goes to OUTPUT_DIR/final")
        p.add_argument("--data", default=None, help="a reasoning data set (`rlog data reasoning`) for SFT")
        p.add_argument("--source", default=None, help="sample source (default: sim)")
        p.add_argument("--tasks", nargs="+", default=None, help="task names (default: every task the source serves)")
        p.add_argument("--envs", nargs="+", default=None, metavar="ENV",
                       help="investigation environments to train on instead of tasks (SFT: the cold start on "
                            "transcripts, --data from `rlog data transcripts`; GRPO: TRL's multi-turn rollouts)")
        p.add_argument("--episodes", type=int, default=None, help="training samples per task (incidents per env)")
        p.add_argument("--difficulty", default=None, help="simulator difficulty")
        p.add_argument("--reasoning", choices=FORMATS, default=None, help="output format taught or rewarded")
        p.add_argument("--seed", type=int, default=None)
        p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
        p.add_argument("--lora-r", type=int, default=None, help="train LoRA adapters of this rank (merged on save)")
        p.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
        p.add_argument("--trl", nargs="+", default=None, metavar="KEY=VALUE",
                       help="any TRL SFTConfig/GRPOConfig option, e.g. max_steps=100 learning_rate=1e-5")
        data_dir(p)
        if kind == "sft":
            p.add_argument("--target", choices=("reasoning", "answer"), default=None,
                           help="reasoning: X→(R,Y) cold start (default); answer: X→Y baseline")
        else:
            p.add_argument("--reward", choices=SCHEMES, default=None, help="reward scheme (default: rlog)")
            p.add_argument("--vllm", choices=("off", "colocate", "server"), default=None,
                           help="generate with vLLM on CUDA (pip install 'rlog_env[gpu]')")

    p = commands.add_parser("repro", help="the R-Log ablation in miniature: SFT, cold start, GRPO, R-Log-fast")
    p.add_argument("--model", default=None,
                   help="tiny, smollm2-135m or a checkpoint directory (default: the preset's)")
    p.add_argument("--out", default="runs/repro", help="output directory (an interrupted run resumes)")
    p.add_argument("--preset", choices=repro_presets(), default="full",
                   help="full: the tiny model (<30 min on 2 CPU cores); quick: a smoke run; pretrained: "
                        "SmolLM2-135M-Instruct (hours on 2 CPU cores; resumable); pretrained-quick: its smoke run")
    p.add_argument("--seed", type=int, default=0)
    data_dir(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def repro_presets() -> tuple[str, ...]:
    from rlog_env.training.repro import PRESETS

    return tuple(PRESETS)


def parse_bench_ground_truths() -> tuple[str, ...]:
    from rlog_env.leaderboard.parse_bench import GROUND_TRUTHS

    return GROUND_TRUTHS


def _check_env_id(env_id: str, investigations: bool = False) -> None:
    known = [*ENVIRONMENTS, *(INVESTIGATION_ENVIRONMENTS if investigations else ())]
    if env_id not in known:
        raise ValueError(f"ENV expects one of {', '.join(known)}, got {env_id!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlog`` console script."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "eval":
            return eval_command(args.agents, args.envs, args.source, args.split, args.episodes,
                                args.data_dir, args.reward, args.run_dir, args.batch_size,
                                args.domains, args.difficulty, args.json, reasoning=args.reasoning,
                                agent_options=args.agent_option, allow_errors=args.allow_errors,
                                protocol=args.protocol, html=args.html)
        if args.command == "leaderboard":
            return leaderboard_command(args.runs, args.json, html=args.html)
        if args.command == "rescore":
            return rescore_command(args.run, args.data_dir)
        if args.command == "parse-bench":
            return parse_bench_command(args.agents, args.ground_truth, args.data_dir, args.systems,
                                       args.batch_size, args.agent_option, args.json)
        if args.command == "model":
            if args.model_command == "init-tiny":
                return model_init_tiny(args.out, args.seed, args.vocab_size, args.hidden_size, args.layers,
                                       args.overwrite, args.json)
            return model_get(args.name, args.cache_dir)
        if args.command == "check":
            return check(args.data_dir, args.reasoning, args.reward, args.json)
        if args.command == "envs":
            return envs(args.data_dir, args.json)
        if args.command == "data":
            if args.data_command == "download":
                return data_download(args.name, args.to, args.base_url, args.timeout, args.retries,
                                     args.files, args.json)
            if args.data_command == "export":
                return data_export(args.dir, args.kind, args.reasoning, args.out, reward=args.reward,
                                   envs=args.envs, episodes=args.episodes, difficulty=args.difficulty)
            if args.data_command == "transcripts":
                return data_transcripts(args)
            if args.data_command == "reasoning":
                return data_reasoning(args.source, args.tasks, args.split, args.episodes, args.seed,
                                      args.out, args.data_dir, args.teacher, args.threshold, args.json)
            return data_verify(args.name, args.dir, args.json)
        if args.command == "train":
            return train_command(args.train_command, args)
        if args.command == "repro":
            return repro_command(args)
        _check_env_id(args.env, investigations=args.command == "show")
        if args.command == "show" and args.run is not None:
            return show_recorded(args.run, args.env, args.index, args.agent, args.json)
        if args.command == "show":
            return show(args.env, args.source, args.split, args.data_dir, args.seed, args.index,
                        args.reasoning, args.reward, args.json)
        return score(args.env, args.source, args.split, args.data_dir, args.index, args.answer,
                     args.reasoning, args.reward)
    except (DataError, FileNotFoundError, ValueError, IndexError, TypeError, ImportError) as exc:
        # An ImportError is a missing extra; its message names the one to install.
        hint = " (on the command line: --data-dir DIR)" if isinstance(exc, FileNotFoundError) else ""
        print(f"rlog: error: {exc}{hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
