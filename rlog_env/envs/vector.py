"""Vector environments for one-step episodes, built by ``gymnasium.make_vec``.

``gymnasium.make_vec("RLog/…-v0", num_envs=N)`` lands here (the ids register this as their
``vector_entry_point``): N sub-environments in the same-step autoreset mode, so each ``step``
scores N answers and returns N fresh prompts. ``vector_mode="async"`` runs them in worker
processes, without shared memory (text observations have no fixed-size buffer).
Passing ``vectorization_mode="sync"`` or ``"async"`` to ``make_vec`` uses Gymnasium's own
classes instead: give them ``vector_kwargs={"autoreset_mode": "SameStep"}``; in their default
next-step mode every second step would be a reset scoring nothing, so the first ``reset`` raises
a ``ValueError`` saying so (:func:`rlog_env.envs.log_env.refuse_next_step_autoreset`).

Gymnasium's ``AsyncVectorEnv`` uses shared memory by default, and its shared memory for a
``Text`` space stores character indices of the space's sampling charset, which garbles log
text. This module registers a shared memory for :class:`~rlog_env.envs.spaces.LogText` with
Gymnasium's ``create_shared_memory`` / ``read_from_shared_memory`` /
``write_to_shared_memory``: each sub-environment gets a slot of UTF-8 bytes with a length
prefix (:data:`SHARED_SLOT_BYTES`), so ``vectorization_mode="async"`` carries the prompts
unchanged. A prompt longer than a slot raises a ``ValueError`` that names the way out
(``vector_kwargs={"shared_memory": False}``).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory

from rlog_env.envs.spaces import LogText

SHARED_SLOT_BYTES = 1 << 22  # per sub-environment: 4 MiB of UTF-8, far above any prompt
_LENGTH_BYTES = 8


def make_vector_env(env_id: str, num_envs: int = 1, vector_mode: str = "sync",
                    **kwargs: Any) -> gym.vector.VectorEnv:
    """``num_envs`` copies of ``env_id`` (made with ``kwargs``) in a same-step vector env."""
    if vector_mode not in ("sync", "async"):
        raise ValueError(f"vector_mode expects 'sync' or 'async', got {vector_mode!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs expects a positive int, got {num_envs!r}")
    kwargs.pop("max_episode_steps", None)  # one-step episodes: nothing to truncate
    env_fns = [_EnvFactory(env_id, kwargs) for _ in range(num_envs)]
    if vector_mode == "async":
        return AsyncVectorEnv(env_fns, shared_memory=False, autoreset_mode=AutoresetMode.SAME_STEP)
    return SyncVectorEnv(env_fns, autoreset_mode=AutoresetMode.SAME_STEP)


class _EnvFactory:
    """A picklable ``gymnasium.make`` call, for worker processes."""

    def __init__(self, env_id: str, kwargs: dict[str, Any]):
        self.env_id, self.kwargs = env_id, dict(kwargs)

    def __call__(self) -> gym.Env:
        # In a fresh worker, unpickling this factory imported rlog_env.envs.vector, and with it
        # the package (parents are imported first), which registers the built-in ids.
        return gym.make(self.env_id, **self.kwargs)


def _slot(space: LogText) -> int:
    return _LENGTH_BYTES + min(SHARED_SLOT_BYTES, 4 * space.max_length)


@create_shared_memory.register(LogText)
def _create_log_text_memory(space: LogText, n: int = 1, ctx=multiprocessing):
    return ctx.Array("B", n * _slot(space))


@write_to_shared_memory.register(LogText)
def _write_log_text(space: LogText, index: int, value: str, shared_memory) -> None:
    data = value.encode("utf-8")
    slot = _slot(space)
    if len(data) > slot - _LENGTH_BYTES:
        raise ValueError(f"an observation of {len(data)} UTF-8 bytes exceeds the shared-memory slot of "
                         f"{slot - _LENGTH_BYTES} bytes; pass vector_kwargs={{'shared_memory': False}}")
    view = memoryview(shared_memory.get_obj()).cast("B")
    start = index * slot
    view[start:start + _LENGTH_BYTES] = len(data).to_bytes(_LENGTH_BYTES, "little")
    view[start + _LENGTH_BYTES:start + _LENGTH_BYTES + len(data)] = data


class SharedTexts(Sequence):
    """The sub-environments' current observations, read from shared memory when indexed.

    ``AsyncVectorEnv`` reads its shared memory once and expects a live view (as NumPy arrays
    are); this is that view for text. A copy (``copy.deepcopy``, which ``AsyncVectorEnv``
    makes before returning observations unless ``copy=False``) is a plain ``tuple`` of ``str``.
    """

    def __init__(self, space: LogText, shared_memory, n: int):
        self._view = memoryview(shared_memory.get_obj()).cast("B")
        self._slot, self._n = _slot(space), n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self)[index]
        index = range(self._n)[index]
        start = index * self._slot + _LENGTH_BYTES
        length = int.from_bytes(self._view[start - _LENGTH_BYTES:start], "little")
        return bytes(self._view[start:start + length]).decode("utf-8")

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None

    def __deepcopy__(self, memo) -> tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"SharedTexts({tuple(self)!r})"


@read_from_shared_memory.register(LogText)
def _read_log_text(space: LogText, shared_memory, n: int = 1) -> SharedTexts:
    return SharedTexts(space, shared_memory, n)
