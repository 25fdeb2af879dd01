"""Timestamps for simulated lines, formatted without the C library's locale or time zone.

``time.strftime`` spells month and day names in the process's locale and ``%s`` depends on the
time zone, so the same scenario would read differently on two machines. This formatter knows
the directives log formats use and spells them the same everywhere.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Callable

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EPOCH = datetime(1970, 1, 1)
_DIRECTIVE = re.compile(r"%(3f|6f|[YymdeHMSabsjz%])")
_FIELDS: dict[str, Callable[[datetime], str]] = {
    "Y": lambda t: f"{t.year:04d}",
    "y": lambda t: f"{t.year % 100:02d}",
    "m": lambda t: f"{t.month:02d}",
    "d": lambda t: f"{t.day:02d}",
    "e": lambda t: f"{t.day:2d}",
    "H": lambda t: f"{t.hour:02d}",
    "M": lambda t: f"{t.minute:02d}",
    "S": lambda t: f"{t.second:02d}",
    "3f": lambda t: f"{t.microsecond // 1000:03d}",
    "6f": lambda t: f"{t.microsecond:06d}",
    "a": lambda t: DAYS[t.weekday()],
    "b": lambda t: MONTHS[t.month - 1],
    "j": lambda t: f"{t.timetuple().tm_yday:03d}",
    "s": lambda t: str(int((t - EPOCH).total_seconds())),
    "z": lambda t: "+0000",
    "%": lambda t: "%",
}


_TIME_SPECS = {"H": "{0:02d}", "M": "{1:02d}", "S": "{2:02d}", "3f": "{3:03d}", "6f": "{4:06d}",
               "s": "{5}", "z": "+0000"}


def compile_format(fmt: str) -> Callable[[int], str]:
    """A function formatting a time, in microseconds since 1970-01-01 UTC, by ``fmt``
    (strftime-like directives ``%Y %y %m %d %e %H %M %S %a %b %j %s %z %%``, plus ``%3f``
    milliseconds and ``%6f`` microseconds). Any other ``%`` directive is a ``ValueError``."""
    if "%" in _DIRECTIVE.sub("", fmt):
        raise ValueError(f"timestamp format {fmt!r} has a directive outside "
                         "%Y %y %m %d %e %H %M %S %a %b %j %s %z %% %3f %6f")
    # Two stages, so that a line costs one str.format of six integers: once per day the date
    # fields are filled in (with datetime, locale-free), leaving a template of positional time
    # fields; each line then formats hour, minute, second, fractions and epoch into it.
    # Literal braces are escaped for both stages.
    pieces, day_codes = [], []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        pieces.append(fmt[position:match.start()].replace("{", "{{{{").replace("}", "}}}}"))
        code = match.group(1)
        if code == "%":
            pieces.append("%")
        elif code in _TIME_SPECS:
            pieces.append(_TIME_SPECS[code].replace("{", "{{").replace("}", "}}"))
        else:
            pieces.append("{_" + code + "}")
            day_codes.append(code)
        position = match.end()
    pieces.append(fmt[position:].replace("{", "{{{{").replace("}", "}}}}"))
    base = "".join(pieces)
    cache: list = [None, ""]  # the day last formatted, and its template of time fields

    def format_time(micros: int) -> str:
        second, micro = divmod(micros, 1_000_000)
        day, of_day = divmod(second, 86400)
        if cache[0] != day:
            moment = EPOCH + timedelta(days=day)
            fields = {"_" + c: _FIELDS[c](moment).replace("{", "{{").replace("}", "}}") for c in day_codes}
            cache[0], cache[1] = day, base.format_map(fields)
        hour, rest = divmod(of_day, 3600)
        minute, sec = divmod(rest, 60)
        return cache[1].format(hour, minute, sec, micro // 1000, micro, second)

    return format_time


START = int((datetime(2015, 1, 1) - EPOCH).total_seconds()) * 1_000_000
SPAN_MICROS = 9 * 365 * 86400 * 1_000_000


def start_time(fraction: float) -> int:
    """A scenario's start in microseconds since 1970, ``fraction`` of the way through 2015-2023."""
    return START + int(fraction * SPAN_MICROS)


__all__ = ["compile_format", "start_time"]
