"""The simulator's timestamp formatter against the C library's strftime (in the C locale)."""

from __future__ import annotations

import locale
import random
from datetime import datetime, timedelta

import pytest

from rlog_env.datasets.sim.clock import EPOCH, compile_format, start_time

FORMATS = [
    "%Y-%m-%d %H:%M:%S,%3f", "%y/%m/%d %H:%M:%S", "%b %e %H:%M:%S", "%a %b %d %H:%M:%S %Y",
    "%Y-%m-%dT%H:%M:%S.%6f%z", "%s", "%Y.%m.%d-%H.%M.%S.%6f", "%j %H%M%S", "[%d/%b/%Y:%H:%M:%S %z]",
    "100%% {literal} '\\\\\" %H", "",
]


def _expected(fmt: str, moment: datetime) -> str:
    fmt = fmt.replace("%3f", f"{moment.microsecond // 1000:03d}").replace(
        "%6f", f"{moment.microsecond:06d}").replace(
        "%s", str(int((moment - EPOCH).total_seconds()))).replace("%z", "+0000")
    return moment.strftime(fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_formats_like_strftime(fmt):
    if locale.setlocale(locale.LC_TIME) not in ("C", "POSIX", "C.UTF-8"):
        pytest.skip("strftime spells names in the process locale")
    format_time = compile_format(fmt)
    rng = random.Random(fmt)
    micros = start_time(rng.random())
    for _ in range(2000):  # consecutive lines, with gaps across seconds, days and years
        micros += int(rng.random() ** 4 * 90 * 86400 * 1_000_000)
        assert format_time(micros) == _expected(fmt, EPOCH + timedelta(microseconds=micros))


def test_unknown_directive_is_an_error():
    with pytest.raises(ValueError, match="%Q"):
        compile_format("%Y %Q")
