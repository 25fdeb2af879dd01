"""Times as agents write them: UTC ISO-8601 or a clock time on an incident's day.

One parser for every place an agent names a time: the investigation tools' ``start``, ``end``
and ``around`` (:mod:`rlog_env.datasets.sim.tools`) and the ``onset`` of an investigation's
final answer (:mod:`rlog_env.tasks.investigation`). Plain Python, imported by those layers,
importing nothing of the package.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

US = 1_000_000  # microseconds per second: times are integer microseconds since the epoch, UTC
DAY_US = 86_400 * US
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}:?\d{2})?"
)
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*(Z|z|UTC)?")
MAX_TIME_CHARS = 40


def iso(us: int, exact: bool = False) -> str:
    """``us`` as ``YYYY-MM-DDTHH:MM:SSZ`` (whole seconds), or with ``exact`` to the microsecond
    (``YYYY-MM-DDTHH:MM:SS.ffffffZ``), which :func:`parse_utc` reads back exactly."""
    text = (EPOCH + timedelta(seconds=us // US)).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{us % US:06d}Z" if exact else f"{text}Z"


def parse_utc(value: str, start: int, end: int) -> int:
    """``value`` as microseconds since the epoch, UTC.

    ISO-8601 (``"2024-05-01T14:05:00Z"``; seconds and fractions optional; ``Z``, ``UTC``,
    ``+HH:MM`` or no zone (UTC); a space for ``T``) or a clock time ``"HH:MM"``,
    ``"HH:MM:SS"`` or ``"HH:MM:SS.ffffff"`` on the day of ``start`` (the next day if that is
    before ``start`` and the span ``start``–``end`` runs past midnight). Raises ``ValueError``
    ("not a time" or "not a valid time") for anything else; the caller adds the hint.
    """
    if not isinstance(value, str):
        raise ValueError(f"not a string ({type(value).__name__})")
    v = value.strip()
    if len(v) > MAX_TIME_CHARS:
        raise ValueError("not a time")
    m = _ISO.fullmatch(v)
    try:
        if m:
            y, mo, d, h, mi, s, frac, tz = m.groups()
            dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), tzinfo=timezone.utc)
            us = (dt - EPOCH) // timedelta(microseconds=1) + int((frac or "0").ljust(6, "0"))
            if tz and tz not in ("Z", "z", "UTC"):
                sign = -1 if tz[0] == "-" else 1
                digits = tz[1:].replace(":", "")
                if int(digits[2:]) >= 60 or int(digits[:2]) > 23:
                    raise ValueError("bad offset")
                us -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * US
            return us
        m = _CLOCK.fullmatch(v)
        if m:
            h, mi, s, frac, _tz = m.groups()
            h, mi, s = int(h), int(mi), int(s or 0)
            if h > 23 or mi > 59 or s > 59:
                raise ValueError("out of range")
            day0 = start // DAY_US * DAY_US
            us = day0 + ((h * 60 + mi) * 60 + s) * US + int((frac or "0").ljust(6, "0"))
            if us < start and end >= day0 + DAY_US:
                us += DAY_US
            return us
    except (ValueError, OverflowError):
        raise ValueError("not a valid time") from None
    raise ValueError("not a time")
