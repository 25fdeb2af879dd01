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


def compile_format(fmt: str) -> Callable[[datetime], str]:
    """A function formatting a naive UTC ``datetime`` by ``fmt`` (strftime-like directives
    ``%Y %y %m %d %e %H %M %S %a %b %j %s %z %%``, plus ``%3f`` milliseconds and ``%6f``
    microseconds). Any other ``%`` directive is a ``ValueError``."""
    if "%" in _DIRECTIVE.sub("", fmt):
        raise ValueError(f"timestamp format {fmt!r} has a directive outside "
                         "%Y %y %m %d %e %H %M %S %a %b %j %s %z %% %3f %6f")
    # Numeric directives go to datetime.strftime (C speed, locale-free); names, %e, %s and
    # fractions become str.format fields filled here, so no locale or time zone is consulted.
    numeric = set("YymdHMSj%")
    template, custom = [], []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        template.append(fmt[position:match.start()].replace("{", "{{").replace("}", "}}"))
        code = match.group(1)
        if code in numeric:
            template.append(match.group(0))
        else:
            template.append("{" + f"f{len(custom)}" + "}")
            custom.append(_FIELDS[code])
        position = match.end()
    template.append(fmt[position:].replace("{", "{{").replace("}", "}}"))
    pattern = "".join(template)
    if not custom:
        return lambda moment: moment.strftime(pattern).replace("{{", "{").replace("}}", "}")

    def format_time(moment: datetime) -> str:
        return moment.strftime(pattern).format(*(), **{f"f{i}": f(moment) for i, f in enumerate(custom)})

    return format_time


START = datetime(2015, 1, 1)
SPAN_SECONDS = 9 * 365 * 86400


def start_time(fraction: float) -> datetime:
    """A scenario's start, ``fraction`` of the way through 2015-2023."""
    return START + timedelta(seconds=int(fraction * SPAN_SECONDS), microseconds=int(fraction * 1e12) % 1_000_000)


__all__ = ["compile_format", "start_time"]
