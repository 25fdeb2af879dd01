"""Interrupted training: `rlog train sft` killed with SIGKILL resumes from the last complete
checkpoint and ends exactly where an uninterrupted run ends.

The runs are real processes running the real command (``rlog_env.cli.main(["train", "sft",
…])``) on the project's tiny model, forked from a multiprocessing fork server that has imported
torch, transformers and TRL once (a fresh interpreter pays ~8 s of imports per run). One run
kills itself with SIGKILL in the middle of a checkpoint save, half-way through writing
``trainer_state.json`` (the file the Trainer writes last, so the old "has trainer_state.json"
test would take the torn checkpoint); another is killed from outside at a seeded random moment.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import multiprocessing.forkserver
import os
import random
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")

from rlog_env.training.tiny import init_tiny  # noqa: E402
from rlog_env.training.trainers import (  # noqa: E402
    CHECKPOINT_RECORD,
    final_metrics,
    is_complete,
    last_complete_checkpoint,
    mark_complete,
)

MAX_STEPS = 10
PRELOAD = ["torch", "transformers", "trl", "trl.trainer.sft_trainer", "datasets", "rlog_env.cli",
           "rlog_env.training.trainers"]


def _train(argv: list[str], tear_state_at: int | None) -> None:
    """The child: `rlog train sft …`; with ``tear_state_at``, SIGKILL itself half-way through
    writing trainer_state.json of that step's checkpoint."""
    import torch

    # One thread: a tiny model gains nothing from more, and a busy machine (CI, two cores)
    # makes OpenMP threads spin: steps 10x slower.
    torch.set_num_threads(1)
    if tear_state_at is not None:
        from transformers.trainer_callback import TrainerState

        save = TrainerState.save_to_json

        def torn(self, json_path):
            if self.global_step != tear_state_at:
                return save(self, json_path)
            text = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
            with open(json_path, "w", encoding="utf-8") as handle:
                handle.write(text[: len(text) // 2])
            os.kill(os.getpid(), signal.SIGKILL)

        TrainerState.save_to_json = torn
    from rlog_env.cli import main

    sys.exit(main(argv))


@pytest.fixture(scope="module")
def forkserver():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    yield context
    multiprocessing.forkserver._forkserver._stop()  # the next user starts a fresh one


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return init_tiny(tmp_path_factory.mktemp("tiny") / "base", hidden_size=32, num_layers=1, num_heads=1,
                     vocab_size=512, corpus_episodes=20)


def _argv(base: Path, out: Path, resume: bool) -> list[str]:
    return ["train", "sft", "--model", str(base), "--output-dir", str(out), "--episodes", "2",
            "--tasks", "anomaly_detection", "--difficulty", "easy", "--device", "cpu", "--seed", "3",
            *(["--resume"] if resume else []),
            "--trl", f"max_steps={MAX_STEPS}", "save_steps=2", "per_device_train_batch_size=1",
            "logging_steps=1", "report_to=none", "disable_tqdm=true"]


def _start(context, argv, tear_state_at=None):
    process = context.Process(target=_train, args=(argv, tear_state_at))
    process.start()
    return process


def _losses(final: Path) -> dict[int, float]:
    history = final_metrics(final)["log_history"]
    steps = [entry["step"] for entry in history if "loss" in entry]
    assert steps == list(range(1, MAX_STEPS + 1)), steps  # every step once: none lost, none twice
    return {entry["step"]: entry["loss"] for entry in history if "loss" in entry}


def _checkpoints_are_sound(out: Path) -> None:
    """Whatever a kill left: a checkpoint with a completion record is whole."""
    for path in out.glob("checkpoint-*"):
        if (path / CHECKPOINT_RECORD).exists():
            assert is_complete(path), path


def test_rlog_train_sft_killed_mid_save_and_at_random_resumes_to_the_same_end(forkserver, base, tmp_path):
    out, whole = tmp_path / "out", tmp_path / "whole"
    began = time.perf_counter()
    uninterrupted = _start(forkserver, _argv(base, whole, resume=False))
    uninterrupted.join(120)
    assert uninterrupted.exitcode == 0

    # 1. Killed while saving checkpoint-4, half-way through its trainer_state.json.
    process = _start(forkserver, _argv(base, out, resume=False), tear_state_at=4)
    process.join(120)
    assert process.exitcode == -signal.SIGKILL
    torn = out / "checkpoint-4"
    assert (torn / "model.safetensors").is_file() and (torn / "trainer_state.json").is_file()
    with pytest.raises(json.JSONDecodeError):
        json.loads((torn / "trainer_state.json").read_text())
    assert not is_complete(torn) and last_complete_checkpoint(out) == out / "checkpoint-2"

    # 2. Resumed, and killed from outside at a seeded random moment once it redid step 4's save
    #    (a step or a save of 5-10; a fast machine may finish first, which must be fine too).
    rng = random.Random(8)
    process = _start(forkserver, _argv(base, out, resume=True))
    deadline = time.monotonic() + 120
    while not (out / "checkpoint-4").is_dir() and process.is_alive() and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.12))
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join(120)
    killed = process.exitcode == -signal.SIGKILL
    _checkpoints_are_sound(out)
    assert killed or process.exitcode == 0
    reached = last_complete_checkpoint(out).name  # checkpoint-2 at least: never lost

    # 3. Resumed to the end.
    process = _start(forkserver, _argv(base, out, resume=True))
    process.join(120)
    assert process.exitcode == 0
    _checkpoints_are_sound(out)
    assert not torn.exists() or is_complete(torn)  # the torn save was removed (or redone whole)
    state = json.loads((out / f"checkpoint-{MAX_STEPS}" / "trainer_state.json").read_text())
    assert state["global_step"] == MAX_STEPS
    # The same steps, each once, with the same losses as the run never interrupted.
    assert _losses(out / "final") == pytest.approx(_losses(whole / "final"), rel=1e-5)
    print(f"\n4 training runs (1 uninterrupted, 1 killed mid-save, 1 killed at random: {killed}, "
          f"with {reached} the last complete, "
          f"1 resumed to the end) in {time.perf_counter() - began:.1f}s")


def test_a_checkpoint_cut_short_by_hand_is_never_resumed_from(tmp_path):
    """Completeness is the record and the files it lists: a weight file cut short, a file
    gone, a record torn or absent — each makes the checkpoint incomplete."""
    def checkpoint(step: int) -> Path:
        path = tmp_path / f"checkpoint-{step}"
        path.mkdir()
        (path / "model.safetensors").write_bytes(b"w" * 1000)
        (path / "optimizer.pt").write_bytes(b"o" * 500)
        (path / "trainer_state.json").write_text(json.dumps({"global_step": step}))
        mark_complete(path, step)
        return path

    first, second = checkpoint(2), checkpoint(4)
    assert last_complete_checkpoint(tmp_path) == second
    damages = [
        lambda p: (p / "model.safetensors").write_bytes(b"w" * 999),            # cut short
        lambda p: (p / "optimizer.pt").unlink(),                                  # a file gone
        lambda p: (p / "trainer_state.json").write_text('{"global_step": 4'),     # JSON torn
        lambda p: (p / CHECKPOINT_RECORD).write_text('{"step": 4, "files": {'),  # record torn
        lambda p: (p / CHECKPOINT_RECORD).unlink(),                               # never recorded
    ]
    for damage in damages:
        second.rename(tmp_path / "spare")
        checkpoint(4)
        damage(second)
        assert not is_complete(second) and last_complete_checkpoint(tmp_path) == first
        shutil.rmtree(second)
        (tmp_path / "spare").rename(second)
    (second / "trainer_state.json").write_text(json.dumps({"global_step": 4, "edited": True}))
    assert is_complete(second)  # a JSON file edited by hand (whole) still counts
    (tmp_path / "checkpoint-6").mkdir()  # a save killed before its first file
    assert last_complete_checkpoint(tmp_path) == second


def test_grpo_checkpoints_are_recorded_complete_and_resumed_from(base, tmp_path):
    """GRPO saves through the same callback: its checkpoints carry the completion record, a
    torn newer one is set aside, and a resumed run continues from the last complete one."""
    import torch

    from rlog_env.training.config import TrainConfig
    from rlog_env.training.trainers import train_grpo

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        common = dict(model=str(base), output_dir=str(tmp_path), episodes=2, difficulty="easy", device="cpu",
                      tasks=("anomaly_detection",))
        trl = {"logging_steps": 1, "save_strategy": "steps", "save_steps": 1, "per_device_train_batch_size": 2,
               "num_generations": 2, "max_completion_length": 4, "disable_tqdm": True}
        train_grpo(TrainConfig(**common, trl={**trl, "max_steps": 2}))
        assert is_complete(tmp_path / "checkpoint-2") and is_complete(tmp_path / "checkpoint-1")
        state = tmp_path / "checkpoint-2" / "trainer_state.json"  # marked: a resumed run carries it
        record = json.loads(state.read_text())
        record["log_history"].append({"resumed_from": "checkpoint-2", "step": 2})
        state.write_text(json.dumps(record))
        torn = tmp_path / "checkpoint-3"
        torn.mkdir()
        (torn / "trainer_state.json").write_text('{"global_step": 3, "log_hist')
        final = train_grpo(TrainConfig(**common, resume=True, trl={**trl, "max_steps": 4}))
    finally:
        torch.set_num_threads(threads)
    history = final_metrics(final)["log_history"]
    assert {"resumed_from": "checkpoint-2", "step": 2} in history
    assert [e["step"] for e in history if "rewards/format/mean" in e] == [1, 2, 3, 4]
    assert is_complete(tmp_path / "checkpoint-4") and is_complete(torn)  # redone, whole
