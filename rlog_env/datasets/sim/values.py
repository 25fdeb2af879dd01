"""Typed values for simulated log lines: ips, ports, block ids, paths, users, durations, ...

A value type is written as a spec string in the catalogue (``"ip"``, ``"int(1,100)"``,
``"choice(a|b)"``, ``"host(dn-###)"``, ...). :func:`compile_spec` turns a spec into a
:class:`Value`: a function of a fixed number of uniform floats (from the scenario's own
stream, :class:`Uniforms`); compiling happens once when the catalogue loads. No global random
state.
"""

from __future__ import annotations

import re
from collections import deque
from itertools import islice
from typing import Callable

import numpy as np

from rlog_env.datasets.sim.seeding import NumPyBlocks

Uniform = Callable[[], float]  # returns the next uniform float in [0, 1)

USERS = ("root", "hadoop", "hdfs", "yarn", "spark", "admin", "deploy", "www-data", "postgres",
         "alice", "bob", "carol", "dave", "ops", "jenkins", "backup", "nagios", "git")
WORDS = ("alpha", "beta", "gamma", "delta", "orders", "billing", "search", "payments", "users",
         "events", "metrics", "checkout", "catalog", "inventory", "auth", "reports", "media")
_SPEC = re.compile(r"^(?P<kind>[a-z_0-9]+)(?:\((?P<args>.*)\))?$", re.S)
_HEX = "0123456789abcdef"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


class Value:
    """A compiled value spec: it reads ``width`` uniform floats and writes one string.

    ``value.at(floats, i)`` reads ``floats[i:i + width]`` (what the simulator does: a scenario's
    floats are drawn once, and each value knows where its own lie); ``value(u)`` takes the next
    ``width`` floats from a uniform stream. Every kind reads a fixed number of floats, so a
    scenario can place its values without rendering them, and render them only when asked.
    """

    __slots__ = ("at", "width")

    def __init__(self, at: Callable[[list, int], str], width: int):
        self.at, self.width = at, width

    def __call__(self, u: Uniform) -> str:
        return self.at([u() for _ in range(self.width)], 0)


Draw = Value  # the name older code used for a compiled spec


class Uniforms:
    """The uniform floats of one scenario, drawn from its generator a block at a time.

    The generator is a NumPy ``Generator`` or anything whose ``random(n)`` returns the next
    ``n`` floats as a list (the simulator's per-sample stream, ``seeding.sample_stream``).

    ``next()`` hands out the next float (tens of nanoseconds); ``take(n)`` hands out the next
    ``n`` at once and returns the index of the first in :attr:`floats`, which keeps every float
    drawn so far. A block is drawn exactly when the stream first reaches it, whichever method
    asks, so the generator's state afterwards depends only on how many floats were used. The
    block size changes no value (a block continues the generator's sequence); 128 covers most
    episodes (a medium one uses ~100 floats) without converting floats nobody reads.
    """

    __slots__ = ("floats", "next", "_draw", "_block", "_chunk", "_stream")

    def __init__(self, rng, block: int = 128):
        self.floats: list[float] = []
        self._draw = (NumPyBlocks(rng) if isinstance(rng, np.random.Generator) else rng).random
        self._block = block
        self._chunk = iter(())
        self._stream = self._blocks()
        self.next: Uniform = self._stream.__next__

    def _blocks(self):
        while True:
            chunk = self._draw(self._block)
            self.floats += chunk
            self._chunk = it = iter(chunk)
            yield from it

    @property
    def position(self) -> int:
        """How many floats have been handed out."""
        return len(self.floats) - self._chunk.__length_hint__()

    def take(self, n: int) -> int:
        """Hand out the next ``n`` floats; the index of the first in :attr:`floats`."""
        start = self.position
        while n:
            chunk = self._chunk  # the block the stream is handing out: skip within it directly
            k = min(n, chunk.__length_hint__())
            if k:
                deque(islice(chunk, k), maxlen=0)
                n -= k
            if n:  # the block is used up: the stream draws the next one, as next() would
                self.next()
                n -= 1
        return start


def uniform_stream(rng: np.random.Generator, block: int = 128) -> Uniform:
    """A function returning the next uniform float in [0, 1) from ``rng``, drawn in blocks
    (:class:`Uniforms`). The sequence depends only on ``rng``: the same seed gives the same
    values in any process."""
    return Uniforms(rng, block).next


def pick(u: Uniform, items):
    """A uniform choice among ``items`` (a sequence)."""
    return items[int(u() * len(items))]


def integer(u: Uniform, low: int, high: int) -> int:
    """A uniform integer in [low, high]."""
    return low + int(u() * (high - low + 1))


def _int(low: int, high: int) -> Value:
    span = high - low + 1
    return Value(lambda F, i: str(low + int(F[i] * span)), 1)


def _choice(options: tuple[str, ...]) -> Value:
    n = len(options)
    return Value(lambda F, i: options[int(F[i] * n)], 1)


_ALPHABETS = {"#": "0123456789", "%": _HEX, "?": _LOWER}


def _run(kind: str, length: int) -> Value:
    """``length`` random characters of one kind, from as few floats as possible: a float's 52
    random bits give 15 decimal or 13 hex digits. Zero-padding comes from adding the next
    power of the base and dropping its leading 1 (``str``/``hex`` cost a fraction of a
    ``format`` spec)."""
    if kind == "?":
        return Value(lambda F, i: "".join([_LOWER[int(x * 26)] for x in F[i:i + length]]), length)
    if kind == "#":
        scale, digits, lead, skip, text = 1e15, 15, 10**15, 1, str
    else:
        scale, digits, lead, skip, text = 2**52, 13, 2**52, 3, hex  # hex(2**52 + v) = '0x1' + 13 digits
    n = -(-length // digits)
    end = skip + length
    if n == 1:
        return Value(lambda F, i: text(int(F[i] * scale) + lead)[skip:end], 1)
    return Value(lambda F, i: "".join([text(int(x * scale) + lead)[skip:] for x in F[i:i + n]])[:length], n)


def _pattern(pattern: str) -> Value:
    # '#' is a digit, '%' a hex digit, '?' a lower-case letter; anything else is literal.
    parts: list[str | tuple[Callable, int]] = []
    width = 0
    for match in re.finditer(r"#+|%+|\?+|[^#%?]+", pattern):
        text = match.group(0)
        if text[0] in _ALPHABETS:
            run = _run(text[0], len(text))
            parts.append((run.at, width))
            width += run.width
        else:
            parts.append(text)
    if len(parts) == 1 and not isinstance(parts[0], str):
        return Value(parts[0][0], width)
    if len(parts) == 2 and isinstance(parts[0], str):  # the usual host name: "dn-###"
        prefix, (run, offset) = parts
        return Value(lambda F, i: prefix + run(F, i + offset), width)
    frozen = tuple(parts)

    def at(F: list, i: int) -> str:
        return "".join([p if isinstance(p, str) else p[0](F, i + p[1]) for p in frozen])

    return Value(at, width)


def _at_ip(F: list, i: int) -> str:
    return f"10.{int(F[i] * 256)}.{int(F[i + 1] * 256)}.{1 + int(F[i + 2] * 254)}"


def _at_public_ip(F: list, i: int) -> str:
    return f"{1 + int(F[i] * 222)}.{int(F[i + 1] * 256)}.{int(F[i + 2] * 256)}.{1 + int(F[i + 3] * 254)}"


def _hex(digits: int) -> Value:
    return _run("%", digits)


_H = 2**52


def _at_uuid(F: list, i: int) -> str:
    # 32 hex digits from three floats of 13 each (as _run("%", 32) writes them), version 4.
    a, b, c = hex(int(F[i] * _H) + _H), hex(int(F[i + 1] * _H) + _H), hex(int(F[i + 2] * _H) + _H)
    a, b, c = a[3:], b[3:], c[3:]  # hex(2**52 + v) is '0x1' and v's 13 digits
    return f"{a[:8]}-{a[8:12]}-4{b[:3]}-{'89ab'[int(F[i + 3] * 4)]}{b[4:7]}-{b[7:]}{c[:6]}"


def _at_block(F: list, i: int) -> str:
    # Two floats give 60 random bits: a signed id like the real blk_-1608999687919862906.
    value = (int(F[i] * 2**30) << 30) | int(F[i + 1] * 2**30)
    return f"blk_{'-' if F[i + 2] < 0.5 else ''}{value * 7 + int(F[i + 3] * 7)}"


def _path(prefix: str) -> Value:
    n, head = len(WORDS), prefix.rstrip("/")

    def at(F: list, i: int) -> str:
        return f"{head}/{WORDS[int(F[i] * n)]}/{WORDS[int(F[i + 1] * n)]}-{int(F[i + 2] * 1000)}"

    return Value(at, 3)


_BYTES = tuple(f"{k:02x}" for k in range(256))


def _at_mac(F: list, i: int) -> str:
    return ":".join([_BYTES[int(x * 256)] for x in F[i:i + 6]])


def _float(low: float, high: float, digits: int) -> Value:
    spec = f".{digits}f"
    return Value(lambda F, i: format(low + (high - low) * F[i], spec), 1)


_IP, _PUBLIC_IP = Value(_at_ip, 3), Value(_at_public_ip, 4)
_UUID, _BLOCK, _MAC = Value(_at_uuid, 4), Value(_at_block, 4), Value(_at_mac, 6)

KINDS = {
    "ip": lambda: _IP,
    "public_ip": lambda: _PUBLIC_IP,
    "int": lambda low, high: _int(int(low), int(high)),
    "port": lambda: _int(1024, 65535),
    "pid": lambda: _int(1000, 65535),
    "choice": lambda *options: _choice(tuple(options)),
    "host": lambda pattern: _pattern(pattern),
    "pattern": lambda pattern: _pattern(pattern),
    "hex": lambda digits: _hex(int(digits)),
    "uuid": lambda: _UUID,
    "block": lambda: _BLOCK,
    "path": lambda prefix="/var/lib": _path(prefix),
    "user": lambda: _choice(USERS),
    "word": lambda: _choice(WORDS),
    "mac": lambda: _MAC,
    "float": lambda low, high, digits=2: _float(float(low), float(high), int(digits)),
}


def compile_spec(spec: str) -> Value:
    """The drawing function of a value spec, or ``ValueError`` naming what is wrong."""
    match = _SPEC.match(spec.strip())
    if not match or match.group("kind") not in KINDS:
        raise ValueError(f"expected a value spec like {', '.join(sorted(KINDS))} "
                         f"(e.g. 'int(1,100)', 'choice(a|b)', 'host(dn-###)'), got {spec!r}")
    args = match.group("args")
    kind = match.group("kind")
    if args is None:
        params: list[str] = []
    elif kind == "choice":
        params = args.split("|")
    else:
        params = [a.strip() for a in args.split(",")]
    try:
        return KINDS[kind](*params)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad arguments in value spec {spec!r}: {exc}") from None
