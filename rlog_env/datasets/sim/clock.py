"""Timestamps for simulated lines, formatted without the C library's locale or time zone.

``time.strftime`` spells month and day names in the process's locale and ``%s`` depends on the
time zone, so the same scenario would read differently on two machines. This formatter knows
the directives log formats use and spells them the same everywhere.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Callable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EPOCH = datetime(1970, 1, 1)
_DIRECTIVE = re.compile(r"%(3f|6f|[YymdeHMSabsjz%])")
# Date fields, as expressions over the date ``d``: computed once per day.
_DAY_FIELDS = {"Y": 'f"{d.year:04d}"', "y": "P2[d.year % 100]", "m": "P2[d.month]", "d": "P2[d.day]",
               "e": "E2[d.day]", "a": "DAYS[d.weekday()]", "b": "MONTHS[d.month - 1]",
               "j": "P3[d.timetuple().tm_yday]"}
# Fields that change within a day, as f-string expressions over the locals of format_time.
# Zero-padded numbers come from tables: a format spec such as ":02d" costs ~250 ns a field.
_TIME_FIELDS = {"H": "{P2[hour]}", "M": "{P2[minute]}", "S": "{P2[sec]}", "3f": "{P3[micro // 1000]}",
                "6f": "{P3[micro // 1000]}{P3[micro % 1000]}", "s": "{second}"}
_NAMES = {"P2": tuple(f"{k:02d}" for k in range(100)), "P3": tuple(f"{k:03d}" for k in range(1000)),
          "E2": tuple(f"{k:2d}" for k in range(100)), "DAYS": DAYS, "MONTHS": MONTHS,
          "fromordinal": date.fromordinal, "EPOCH_ORDINAL": EPOCH.toordinal()}


def compile_format(fmt: str) -> Callable[[int], str]:
    """A function formatting a time, in microseconds since 1970-01-01 UTC, by ``fmt``
    (strftime-like directives ``%Y %y %m %d %e %H %M %S %a %b %j %s %z %%``, plus ``%3f``
    milliseconds and ``%6f`` microseconds). Any other ``%`` directive is a ``ValueError``."""
    if "%" in _DIRECTIVE.sub("", fmt):
        raise ValueError(f"timestamp format {fmt!r} has a directive outside "
                         "%Y %y %m %d %e %H %M %S %a %b %j %s %z %% %3f %6f")
    # Every simulated line is stamped, so the format becomes one f-string: the date fields are
    # computed once per day (locale-free) and read from a tuple, the time fields are formatted
    # in place. Literal text enters the source only through repr().
    parts, day_fields = [], []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        literal = fmt[position:match.start()] + ("%" if match.group(1) == "%" else "")
        if literal:
            parts.append(repr(literal))
        code = match.group(1)
        if code in _TIME_FIELDS:
            parts.append(f'f"{_TIME_FIELDS[code]}"')
        elif code == "z":
            parts.append(repr("+0000"))
        elif code != "%":
            parts.append(f'f"{{D[{len(day_fields)}]}}"')
            day_fields.append(_DAY_FIELDS[code])
        position = match.end()
    if fmt[position:]:
        parts.append(repr(fmt[position:]))
    source = (
        "def format_time(micros):\n"
        "    second, micro = divmod(micros, 1000000)\n"
        "    day, of_day = divmod(second, 86400)\n"
        "    if cache[0] != day:\n"
        "        d = fromordinal(EPOCH_ORDINAL + day)\n"
        f"        cache[0], cache[1] = day, ({''.join(f + ', ' for f in day_fields)})\n"
        "    D = cache[1]\n"
        "    hour, rest = divmod(of_day, 3600)\n"
        "    minute, sec = divmod(rest, 60)\n"
        f"    return {' '.join(parts) or repr('')}\n"
    )
    scope = {"cache": [None, ()], **_NAMES}
    exec(compile(source, f"<timestamp format {fmt!r}>", "exec"), scope)
    return scope["format_time"]


START = int((datetime(2015, 1, 1) - EPOCH).total_seconds()) * 1_000_000
SPAN_MICROS = 9 * 365 * 86400 * 1_000_000


def start_time(fraction: float) -> int:
    """A scenario's start in microseconds since 1970, ``fraction`` of the way through 2015-2023."""
    return START + int(fraction * SPAN_MICROS)


__all__ = ["compile_format", "start_time"]
