"""Typed values for simulated log lines: ips, ports, block ids, paths, users, durations, ...

A value type is written as a spec string in the catalogue (``"ip"``, ``"int(1,100)"``,
``"choice(a|b)"``, ``"host(dn-###)"``, ...). :func:`compile_spec` turns a spec into a function
of a uniform stream (:func:`uniform_stream`: floats from the scenario's own NumPy generator); compiling
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


def uniform_stream(rng: np.random.Generator, block: int = 256) -> Uniform:
    """A function returning the next uniform float in [0, 1) from ``rng``, drawn in blocks.

    A scalar draw from a ``Generator`` costs microseconds; a simulated scenario needs a
    hundred values or more, so they are drawn a block at a time and handed out by a generator's
    ``__next__`` (tens of nanoseconds). The sequence depends only on ``rng``: the same seed
    gives the same values in any process.
    """

    def floats():
        while True:
            yield from rng.random(block).tolist()

    return floats().__next__


def integer(u: Uniform, low: int, high: int) -> int:
    """A uniform integer in [low, high]."""
    return low + int(u() * (high - low + 1))


def _int(low: int, high: int) -> Draw:
    span = high - low + 1
    return lambda u: str(low + int(u() * span))


def _choice(options: tuple[str, ...]) -> Draw:
    n = len(options)
    return lambda u: options[int(u() * n)]


_ALPHABETS = {"#": "0123456789", "%": _HEX, "?": _LOWER}


def _run(kind: str, length: int) -> Draw:
    """``length`` random characters of one kind, from as few floats as possible: a float's 52
    random bits give 15 decimal or 13 hex digits, formatted in C."""
    if kind == "#":
        return lambda u: "".join(f"{int(u() * 1e15):015d}" for _ in range(-(-length // 15)))[:length]
    if kind == "%":
        return lambda u: "".join(f"{int(u() * 2**52):013x}" for _ in range(-(-length // 13)))[:length]
    return lambda u: "".join(_LOWER[int(u() * 26)] for _ in range(length))


def _pattern(pattern: str) -> Draw:
    # '#' is a digit, '%' a hex digit, '?' a lower-case letter; anything else is literal.
    parts: list[str | Draw] = []
    for match in re.finditer(r"#+|%+|\?+|[^#%?]+", pattern):
        text = match.group(0)
        parts.append(_run(text[0], len(text)) if text[0] in _ALPHABETS else text)
    if len(parts) == 1 and callable(parts[0]):
        return parts[0]

    def draw(u: Uniform) -> str:
        return "".join(p if isinstance(p, str) else p(u) for p in parts)

    return draw


def _ip(u: Uniform) -> str:
    return f"10.{int(u() * 256)}.{int(u() * 256)}.{1 + int(u() * 254)}"


def _public_ip(u: Uniform) -> str:
    return f"{1 + int(u() * 222)}.{int(u() * 256)}.{int(u() * 256)}.{1 + int(u() * 254)}"


def _hex(digits: int) -> Draw:
    return _run("%", digits)


_HEX32 = _run("%", 32)


def _uuid(u: Uniform) -> str:
    h = _HEX32(u)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(u() * 4)]}{h[17:20]}-{h[20:]}"


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
