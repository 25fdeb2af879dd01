"""The simulator compiles each log line and each timestamp format to a Python function. The
catalogue's text must only ever be text: hostile literals come out verbatim and run nothing."""

from __future__ import annotations

import pytest

from rlog_env.datasets.sim.catalogue import Template
from rlog_env.datasets.sim.clock import compile_format
from rlog_env.datasets.sim.scenario import _writer

HOSTILE = [
    "\"); __import__('os').system('touch /tmp/pwned'); (\"",
    "'''", '"""', "\\", "\\n", "{__import__('os')}", "{{}}", "%(x)s", "\x00", "\r\n", "é ✓ \u202e",
    "f'{1+1}'", "\\N{BULLET}", "'\"'\"",
]


@pytest.mark.parametrize("literal", HOSTILE)
def test_hostile_literals_in_a_line_are_written_verbatim(literal):
    pieces = ((literal, "host"), (f" {literal} ", "timestamp"), (literal.replace("{", "").replace("}", ""), "n"),
              (literal, None))
    write = _writer(pieces, {"n": (lambda F, i: f"n={F[i]}", 0)}, "F, i, E, timestamp")
    line = write([0.5], 0, {"host": "dn-1"}, "2015-01-01")
    expected = f"{literal}dn-1 {literal} 2015-01-01{literal.replace('{', '').replace('}', '')}n=0.5{literal}"
    assert line == expected  # text, not code: a literal that ran would not come out verbatim


def test_a_line_from_a_parsed_template_reads_each_variable_once():
    template = Template.parse("send {n} of {n} to {host} ({{literal}})", "test")
    calls = []

    def reader(F, i):
        calls.append(i)
        return str(F[i])

    write = _writer(template.pieces, {"n": (reader, 1)}, "F, i, E")
    assert write([0.0, 7], 0, {"host": "h"}) == "send 7 of 7 to h ({literal})"
    assert calls == [1]


def test_a_placeholder_that_is_not_a_name_is_refused():
    with pytest.raises(ValueError, match="not an identifier"):
        _writer((("x", "E['a']; import os"),), {}, "F, i, E")


@pytest.mark.parametrize("literal", HOSTILE)
def test_hostile_literals_in_a_timestamp_format_are_written_verbatim(literal):
    safe = literal.replace("%", "%%")
    format_time = compile_format(f"{safe}%Y{safe}%H:%M{safe}")
    # 2015-01-01 10:20 UTC, in microseconds since 1970
    assert format_time(1420107600_000000) == f"{literal}2015{literal}10:20{literal}"
