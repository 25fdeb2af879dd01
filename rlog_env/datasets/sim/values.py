"""Typed values for simulated log lines: ips, ports, block ids, paths, users, durations, ...

A value type is written as a spec string in the catalogue (``"ip"``, ``"int(1,100)"``,
``"choice(a|b)"``, ``"host(dn-###)"``, ...). :func:`compile_spec` turns a spec into a function
of a :class:`UniformStream` (uniform floats from the scenario's own NumPy generator); compiling
happens once when the catalogue loads. No global random state.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

Uniform = Callable[[], float]  # returns the next uniform float in [0, 1)
Draw = Callable[[Uniform], str]

USERS = ("root", "hadoop", "hdfs", "yarn", "spark", "admin", "deploy", "www-data", "postgres",
         "alice", "bob", "carol", "dave", "ops", "jenkins", "backup", "nagios", "git")
WORDS = ("alpha", "beta", "gamma", "delta", "orders", "billing", "search", "payments", "users",
         "events", "metrics", "checkout", "catalog", "inventory", "auth", "reports", "media")
_SPEC = re.compile(r"^(?P<kind>[a-z_0-9]+)(?:\((?P<args>.*)\))?$", re.S)
_HEX = "0123456789abcdef"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


class UniformStream:
    """Uniform floats from a NumPy generator, drawn in blocks.

    A scalar draw from a ``Generator`` costs microseconds; a simulated scenario needs hundreds
    of values, so they are drawn a block at a time and handed out one by one. The sequence
    depends only on the generator: the same seed gives the same values in any process.
    """

    __slots__ = ("_rng", "_block", "_values")

    def __init__(self, rng: np.random.Generator, block: int = 256):
        self._rng, self._block = rng, block
        self._values: list[float] = []

    def __call__(self) -> float:
        if not self._values:
            self._values = self._rng.random(self._block).tolist()
            self._values.reverse()
        return self._values.pop()

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in [low, high]."""
        return low + int(self() * (high - low + 1))


def _int(low: int, high: int) -> Draw:
    span = high - low + 1
    return lambda u: str(low + int(u() * span))


def _choice(options: tuple[str, ...]) -> Draw:
    n = len(options)
    return lambda u: options[int(u() * n)]


def _digits(u: Uniform, alphabets: list[str]) -> list[str]:
    """One character from each alphabet, eight characters per uniform float (52 random bits
    cover eight draws from up to 26 symbols), so long ids cost a few floats, not dozens."""
    out, n, left = [], 0, 0
    for alphabet in alphabets:
        if left == 0:
            n, left = int(u() * 2**52), 8
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
        left -= 1
    return out


def _pattern(pattern: str) -> Draw:
    # '#' is a digit, '%' a hex digit, '?' a lower-case letter; anything else is literal.
    kinds = {"#": "0123456789", "%": _HEX, "?": _LOWER}
    pieces = [kinds.get(c) for c in pattern]
    slots = [i for i, alphabet in enumerate(pieces) if alphabet is not None]
    alphabets = [pieces[i] for i in slots]

    def draw(u: Uniform) -> str:
        chars = list(pattern)
        for i, c in zip(slots, _digits(u, alphabets)):
            chars[i] = c
        return "".join(chars)

    return draw


def _ip(u: Uniform) -> str:
    return f"10.{int(u() * 256)}.{int(u() * 256)}.{1 + int(u() * 254)}"


def _public_ip(u: Uniform) -> str:
    return f"{1 + int(u() * 222)}.{int(u() * 256)}.{int(u() * 256)}.{1 + int(u() * 254)}"


def _hex(digits: int) -> Draw:
    alphabets = [_HEX] * digits
    return lambda u: "".join(_digits(u, alphabets))


_UUID_HEX = [_HEX] * 32


def _uuid(u: Uniform) -> str:
    h = "".join(_digits(u, _UUID_HEX))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


def _block(u: Uniform) -> str:
    # Two floats give 60 random bits: a signed id like the real blk_-1608999687919862906.
    value = (int(u() * 2**30) << 30) | int(u() * 2**30)
    return f"blk_{'-' if u() < 0.5 else ''}{value * 7 + int(u() * 7)}"


def _path(prefix: str) -> Draw:
    n = len(WORDS)

    def draw(u: Uniform) -> str:
        return f"{prefix.rstrip('/')}/{WORDS[int(u() * n)]}/{WORDS[int(u() * n)]}-{int(u() * 1000)}"

    return draw


def _mac(u: Uniform) -> str:
    return ":".join(f"{int(u() * 256):02x}" for _ in range(6))


def _float(low: float, high: float, digits: int) -> Draw:
    return lambda u: f"{low + (high - low) * u():.{digits}f}"


KINDS = {
    "ip": lambda: _ip,
    "public_ip": lambda: _public_ip,
    "int": lambda low, high: _int(int(low), int(high)),
    "port": lambda: _int(1024, 65535),
    "pid": lambda: _int(1000, 65535),
    "choice": lambda *options: _choice(tuple(options)),
    "host": lambda pattern: _pattern(pattern),
    "pattern": lambda pattern: _pattern(pattern),
    "hex": lambda digits: _hex(int(digits)),
    "uuid": lambda: _uuid,
    "block": lambda: _block,
    "path": lambda prefix="/var/lib": _path(prefix),
    "user": lambda: _choice(USERS),
    "word": lambda: _choice(WORDS),
    "mac": lambda: _mac,
    "float": lambda low, high, digits=2: _float(float(low), float(high), int(digits)),
}


def compile_spec(spec: str) -> Draw:
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
