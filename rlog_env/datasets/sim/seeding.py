"""Per-sample generators: ``np.random.default_rng(np.random.SeedSequence(entropy))``, faster.

The simulator only reads each sample's uniform floats, a block at a time, so it asks
:func:`sample_stream` for them: the C module ``_stream`` (built by setup.py when a C compiler is
there) seeds and runs NumPy's SeedSequence and PCG64 itself and hands out the floats of
``Generator.random`` bit for bit, far cheaper than building NumPy objects per sample (the
figures are in BENCHMARKS.md). It is checked against NumPy once per
process; without it, or should it ever disagree, the floats come from :func:`sample_generator`.

Every simulated sample has its own generator, seeded from ``SeedSequence([root, task, index,
attempt])`` (DESIGN: never ``seed + index``). Building it the plain way is dominated by
NumPy-scalar arithmetic inside ``SeedSequence.generate_state`` and the conversion of a Python
list to entropy words. :func:`sample_generator` returns the same generator (bit for bit: the
same PCG64 state) faster:

- the entropy is handed to NumPy's own ``SeedSequence`` already as ``uint32`` words (what
  ``SeedSequence`` turns a list of ints into), so NumPy still mixes the entropy pool;
- the four 64-bit words PCG64 is seeded with are computed from that pool by
  ``SeedSequence.generate_state``'s documented algorithm in plain Python integers.

A self-check against NumPy's path runs once per process; should a NumPy release ever compute
something else, the plain path is used (and ``tests/datasets/test_sim_speed.py`` fails).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence

try:
    from rlog_env.datasets.sim import _stream
except ImportError:  # built without a C compiler: NumPy draws the same floats
    _stream = None

_MASK32 = 0xFFFFFFFF
_INIT_B, _MULT_B, _XSHIFT = 0x8B51F9DD, 0x58F38DED, 16  # SeedSequence.generate_state's constants


def _hash_constants(n: int) -> tuple[tuple[int, int], ...]:
    """generate_state's (xor, multiplier) for each output word: they depend on nothing else."""
    out, h = [], _INIT_B
    for _ in range(n):
        xor = h
        h = (h * _MULT_B) & _MASK32
        out.append((xor, h))
    return tuple(out)


_CONSTANTS = _hash_constants(8)  # PCG64 takes 4 uint64 = 8 uint32 words


def _entropy_words(entropy: Sequence[int]) -> list[int]:
    """The uint32 words ``SeedSequence`` makes of a list of non-negative ints (each int
    little-endian, 0 as one word)."""
    words = []
    for value in entropy:
        value = int(value)
        if value < 0:
            raise ValueError(f"entropy expects non-negative ints, got {value}")
        words.append(value & _MASK32)
        value >>= 32
        while value:
            words.append(value & _MASK32)
            value >>= 32
    return words


class _State(ISeedSequence):
    """Hands PCG64 its four seed words, already computed."""

    __slots__ = ("words",)

    def __init__(self, words: list[int]):
        self.words = words

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:  # pragma: no cover - PCG64 asks for these
            raise ValueError("expected PCG64's request for 4 uint64 words")
        return np.array(self.words, dtype=np.uint64)


def _pcg64_words(pool: list[int]) -> list[int]:
    """``SeedSequence.generate_state(4, np.uint64)`` from the entropy pool."""
    out32 = []
    for k, (xor, mult) in enumerate(_CONSTANTS):
        value = ((pool[k & 3] ^ xor) * mult) & _MASK32
        out32.append(value ^ (value >> _XSHIFT))
    return [out32[0] | out32[1] << 32, out32[2] | out32[3] << 32,
            out32[4] | out32[5] << 32, out32[6] | out32[7] << 32]


def _fast(entropy: Sequence[int]) -> np.random.Generator:
    pool = np.random.SeedSequence(np.array(_entropy_words(entropy), dtype=np.uint32)).pool
    if len(pool) != 4:  # pragma: no cover - NumPy's pool size
        return _plain(entropy)
    return np.random.Generator(np.random.PCG64(_State(_pcg64_words(pool.tolist()))))


def _plain(entropy: Sequence[int]) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(list(entropy)))


def _agrees() -> bool:
    probes = ([0], [1, 2, 3, 4], [0x524C6F67, 4, 2**40 + 7, 63], [2**31, 0, 2**63 - 1, 1])
    try:
        return all(_fast(e).bit_generator.state == _plain(e).bit_generator.state for e in probes)
    except Exception:  # pragma: no cover - a NumPy without this interface
        return False


_chosen = None


def sample_generator(entropy: Sequence[int]) -> np.random.Generator:
    """``np.random.default_rng(np.random.SeedSequence(list(entropy)))`` for non-negative ints."""
    global _chosen
    if _chosen is None:
        _chosen = _fast if _agrees() else _plain
    return _chosen(entropy)


class NumPyBlocks:
    """A NumPy generator as a source of float blocks: ``random(n)`` is ``rng.random(n).tolist()``."""

    __slots__ = ("_random",)

    def __init__(self, rng: np.random.Generator):
        self._random = rng.random

    def random(self, n: int) -> list[float]:
        return self._random(n).tolist()


def _numpy_stream(entropy: Sequence[int]) -> NumPyBlocks:
    return NumPyBlocks(sample_generator(entropy))


def _c_stream(entropy: Sequence[int]):
    try:
        return _stream.seeded(entropy)
    except OverflowError:  # an int of 64 bits or more (or a negative one): NumPy's path decides
        return _numpy_stream(entropy)


def _c_agrees() -> bool:
    if _stream is None:
        return False
    probes = ([0], [1, 2, 3, 4], [0x524C6F67, 4, 2**40 + 7, 63], [2**31, 0, 2**63 - 1, 1, 2**64 - 1])
    try:
        for entropy in probes:
            stream, numpy_floats = _stream.seeded(entropy), _numpy_stream(entropy)
            if stream.random(100) + stream.random(60) != numpy_floats.random(100) + numpy_floats.random(60):
                return False
        return True
    except Exception:  # pragma: no cover - a module from another build
        return False


_chosen_stream = None


def sample_stream(entropy: Sequence[int]):
    """The uniform floats of ``sample_generator(entropy)``, as an object whose ``random(n)``
    returns the next ``n`` as a list (``sample_generator(entropy).random(n).tolist()``): the C
    stream when it is built and agrees with NumPy, else :class:`NumPyBlocks`."""
    global _chosen_stream
    if _chosen_stream is None:
        _chosen_stream = _c_stream if _c_agrees() else _numpy_stream
    return _chosen_stream(entropy)


def c_stream_in_use() -> bool:
    """Whether :func:`sample_stream` draws from the C module (built, and equal to NumPy)."""
    sample_stream((0,))
    return _chosen_stream is _c_stream


__all__ = ["NumPyBlocks", "c_stream_in_use", "sample_generator", "sample_stream"]
