"""The investigation tools (rlog_env.datasets.sim.tools) on hand-built incidents: outputs,
bounds, filters, pattern syntax, time parsing, the dispatcher, the turn parser, hostile inputs
and speed."""

from __future__ import annotations

import json
import statistics
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlog_env.datasets.sim import tools as T
from rlog_env.datasets.sim.incident_model import (
    LEVELS,
    Component,
    Incident,
    IncidentLine,
    IncidentTruth,
)

T0 = 1714572000 * 10**6  # 2024-05-01T14:00:00Z
S = 10**6


def tiny() -> Incident:
    """Three components, eight lines: for exact outputs."""
    comps = (
        Component("db-1", "postgresql", "host-a"),
        Component("api-1", "nginx", "host-b", ("db-1",)),
        Component("idle-1", "redis", "host-c"),
    )
    rows = [
        ("db-1", 0, "INFO", "checkpoint starting", "checkpoint starting"),
        ("api-1", 1, "INFO", "GET /users 200 12ms", "GET <*> <*> <*>"),
        ("db-1", 30, "WARN", "slow query 2300 ms", "slow query <*> ms"),
        ("api-1", 61, "ERROR", "upstream Timeout after 5000 ms", "upstream timeout after <*> ms"),
        ("db-1", 62, "ERROR", "could not accept connection: Too many clients", "could not accept connection: <*>"),
        ("api-1", 63, "ERROR", "upstream timeout after 5001 ms", "upstream timeout after <*> ms"),
        ("api-1", 125, "INFO", "GET /users 200 15ms", "GET <*> <*> <*>"),
        ("db-1", 126, "FATAL", "connection refused", "connection refused"),
    ]
    lines = [IncidentLine(c, T0 + s * S, lv, txt, tpl) for c, s, lv, txt, tpl in rows]
    return Incident("inc-tiny", comps, lines, T0, T0 + 600 * S, "api errors", IncidentTruth((), False, (False,) * 8))


_WORDS = ("connection", "timeout", "refused", "checkpoint", "query", "GET", "POST", "cache", "miss", "retry")


def make_incident(n: int, *, line_len: int = 0, start: int = T0, span_s: int = 3600) -> Incident:
    """``n`` synthetic lines over four components, times evenly spread over ``span_s``."""
    comps = (
        Component("db-1", "postgresql", "host-a"),
        Component("api-1", "nginx", "host-b", ("db-1", "cache-1")),
        Component("app-1", "java", "host-c", ("db-1",)),
        Component("cache-1", "redis", "host-d"),
    )
    names = [c.name for c in comps]
    lines = []
    step = span_s * S // max(n, 1)
    for i in range(n):
        c = names[(i * 7) % 4]
        w = _WORDS[i % len(_WORDS)]
        lv = LEVELS[4] if i % 997 == 0 else LEVELS[3] if i % 101 == 0 else LEVELS[2] if i % 37 == 0 else LEVELS[1]
        text = f"{c}[{i % 13}] {w} id={i} took {i % 500} ms" + ("x" * line_len)
        lines.append(IncidentLine(c, start + i * step, lv, text, f"{c}[<*>] {w} id=<*> took <*> ms"))
    return Incident(f"inc-{n}", comps, lines, start, start + span_s * S, "alert", IncidentTruth((), False, ()))


@pytest.fixture(scope="module")
def inc10k() -> Incident:
    return make_incident(10_000)


@pytest.fixture(scope="module")
def inc100k() -> Incident:
    return make_incident(100_000)


def _bounded(text: str) -> None:
    assert isinstance(text, str)
    assert len(text) <= T.MAX_CHARS
    text.encode("utf-8")  # no lone surrogates
    assert "\x00" not in text


# ----------------------------------------------------------------------------- exact outputs


def test_list_components_exact():
    assert T.list_components(tiny()) == (
        "Incident inc-tiny: 2024-05-01T14:00:00Z to 2024-05-01T14:10:00Z (UTC), 3 components, 8 lines\n"
        "component | host | family | lines | first | last | depends_on\n"
        "db-1 | host-a | postgresql | 4 | 14:00:00.000 | 14:02:06.000 | -\n"
        "api-1 | host-b | nginx | 4 | 14:00:01.000 | 14:02:05.000 | db-1\n"
        "idle-1 | host-c | redis | 0 | - | - | -"
    )


def test_search_exact():
    assert T.search(tiny(), "timeout") == (
        'search pattern="timeout": 2 lines matched\n'
        "api-1 #2 14:01:01.000 ERROR upstream Timeout after 5000 ms\n"
        "api-1 #3 14:01:03.000 ERROR upstream timeout after 5001 ms"
    )
    assert T.search(tiny(), "conn*clients|refused", component="db-1", limit=1) == (
        'search pattern="conn*clients|refused" component=db-1: 2 lines matched, showing the first 1\n'
        "#3 14:01:02.000 ERROR could not accept connection: Too many clients\n"
        "… 1 more lines matched; narrow with start=/end=, level= or a longer pattern, "
        "or raise limit= (at most 50); count shows where they fall"
    )
    out = T.search(tiny(), "nothing-like-this")
    assert out.startswith('search pattern="nothing-like-this": no lines matched.')


def test_view_exact():
    inc = tiny()
    assert T.view(inc, "db-1", around="14:01", before=1, after=1) == (
        "view db-1 around 14:01:00.000: lines 2–4 of 4\n"
        "  #2 14:00:30.000 WARN slow query 2300 ms\n"
        "> #3 14:01:02.000 ERROR could not accept connection: Too many clients\n"
        "  #4 14:02:06.000 FATAL connection refused"
    )
    assert T.view(inc, "api-1", line=1, before=3, after=0) == (
        "view api-1 line 1: lines 1–1 of 4\n> #1 14:00:01.000 INFO GET /users 200 12ms"
    )
    # after the last line: centred on the last
    assert T.view(inc, "db-1", around="14:09", before=0, after=0).endswith("> #4 14:02:06.000 FATAL connection refused")
    assert T.view(inc, "idle-1", line=1) == "view idle-1: the component has no log lines"


def test_count_exact():
    inc = tiny()
    assert T.count(inc) == "count by=component: 8 lines\ndb-1: 4\napi-1: 4\n0 lines: idle-1"
    assert T.count(inc, "timeout|refused", by="minute") == (
        'count pattern="timeout|refused" by=minute: 3 lines\n14:01: 2\n14:02: 1'
    )
    assert T.count(inc, by="level", component="api-1") == (
        "count component=api-1 by=level: 4 lines\nINFO: 2\nERROR: 2\n0 lines: DEBUG, WARN, FATAL"
    )
    assert T.count(inc, "zzz") == 'count pattern="zzz" by=component: 0 lines matched'


def test_templates_exact():
    assert T.templates(tiny(), "api-1") == (
        "templates of api-1: 2 distinct templates over 4 lines (count: template)\n"
        "2: GET <*> <*> <*>\n"
        "2: upstream timeout after <*> ms"
    )
    out = T.templates(tiny(), "db-1", limit=2)
    assert out.splitlines()[1:3] == ["1: checkpoint starting", "1: slow query <*> ms"]
    assert out.splitlines()[-1].startswith("… 2 more templates (2 lines); raise limit= (at most 50)")


# ----------------------------------------------------------------------------- bounds


def test_search_bounded_in_lines_and_chars(inc10k):
    out = T.search(inc10k, "id=", limit=50)
    lines = out.splitlines()
    assert len(lines) == 52  # header, 50 lines, footer
    assert "9,950 more lines matched" in lines[-1] and "narrow with component=" in lines[-1]
    _bounded(out)
    long = make_incident(200, line_len=5000)
    out = T.search(long, "id=", limit=50)
    _bounded(out)
    assert "… [+" in out and "chars]" in out  # long lines cut with a marker
    assert "output limit of 4,000 characters" in out.splitlines()[-1]
    assert "more lines matched" in out.splitlines()[-1]


def test_other_tools_bounded(inc10k):
    for out in (
        T.count(inc10k, "id", by="minute"),
        T.templates(make_incident(3000, line_len=3000), "db-1", limit=50),
        T.view(make_incident(300, line_len=3000), "db-1", line=30, before=24, after=24),
        T.list_components(inc10k),
    ):
        _bounded(out)
        assert len(out.splitlines()) <= T.MAX_LINES + 2
    out = T.count(inc10k, "id", by="minute")
    assert out.splitlines()[-1] == "… 10 more minutes (1,666 lines); narrow with start=/end="
    out = T.view(make_incident(300, line_len=3000), "db-1", line=30, before=24, after=24)
    assert "more lines not shown" in out.splitlines()[-1]


def test_many_components_bounded():
    comps = tuple(Component(f"c-{i}", "f", f"h-{i}") for i in range(200))
    lines = [IncidentLine(f"c-{i}", T0 + i, "INFO", "x", "x") for i in range(200)]
    inc = Incident("many", comps, lines, T0, T0 + 10**9, "", IncidentTruth((), False, ()))
    out = T.list_components(inc)
    _bounded(out)
    assert out.splitlines()[-1].endswith("more components not shown")
    out = T.count(inc)
    assert out.splitlines()[-1].startswith("… 150 more components (150 lines)")
    assert "(and 180 more; see list_components)" in T.view(inc, "nope", line=1)


# ----------------------------------------------------------------------------- filters, times


def test_filters(inc10k):
    ix = T.index_of(inc10k)
    res = T.run_tool(inc10k, "search", {"pattern": "timeout", "component": "api-1", "start": "14:10", "end": "14:20:30", "level": "warn", "limit": 50})
    assert not res.error and res.lines
    for g in res.lines:
        ln = inc10k.lines[g]
        assert ln.component == "api-1" and ln.level == "WARN" and "timeout" in ln.text.lower()
        assert T0 + 600 * S <= ln.time < T0 + 1230 * S
    exp = [g for g, ln in enumerate(inc10k.lines) if ln.component == "api-1" and ln.level == "WARN"
           and "timeout" in ln.text and T0 + 600 * S <= ln.time < T0 + 1230 * S]
    assert list(res.lines) == exp[:50]
    # counts agree with a brute force
    out = T.count(inc10k, "took 1*ms", by="level", start="2024-05-01T14:30:00Z")
    brute = sum(1 for ln in inc10k.lines if ln.time >= T0 + 1800 * S and "took 1" in ln.text)
    assert out.splitlines()[0].endswith(f"{brute:,} lines")
    assert ix is T.index_of(inc10k)  # cached


@pytest.mark.parametrize(
    "value, offset_s",
    [
        ("14:05", 300), ("14:05:30", 330), ("14:05:30.5", 330.5), (" 14:05 ", 300), ("14:05Z", 300),
        ("2024-05-01T14:05:00Z", 300), ("2024-05-01 14:05", 300), ("2024-05-01T16:05:00+02:00", 300),
        ("2024-05-01T14:05:00.250000Z", 300.25), ("2024-05-01T14:05:00", 300),
    ],
)
def test_time_formats(value, offset_s):
    ix = T.index_of(tiny())
    assert T.parse_time(ix, value) == T0 + int(offset_s * S)


@pytest.mark.parametrize("value", ["25:00", "14:61", "noon", "", "2024-13-01T00:00Z", "14", "1" * 1000, "14:05\x00", "\ud800"])
def test_bad_times(value):
    out = T.search(tiny(), "x", start=value)
    assert out.startswith("Error: search: start ") and 'write start as "HH:MM"' in out
    _bounded(out)


def test_time_range_errors_and_midnight():
    assert "end (14:01:00.000) is not after start (14:05:00.000)" in T.search(tiny(), "x", start="14:05", end="14:01")
    # an incident from 23:30 to 00:30: "00:10" is the next day
    start = T0 + 9 * 3600 * S + 1800 * S
    inc = make_incident(100, start=start, span_s=3600)
    ix = T.index_of(inc)
    assert ix.multi_day
    assert T.parse_time(ix, "00:10") == start + 2400 * S
    assert T.parse_time(ix, "23:40") == start + 600 * S
    assert "2024-05-02T00:" in T.search(inc, "id=99 ")


def test_argument_errors():
    inc = tiny()
    cases = [
        (("nope", "{}"), "Error: unknown tool \"nope\"; the tools are: list_components, search, view, count, templates"),
        (("search", {}), "Error: search: missing required argument pattern"),
        (("search", {"pattern": "x", "patern": 1}), 'Error: search: unknown argument "patern"; valid arguments: pattern, component'),
        (("search", {"pattern": 5}), "Error: search: argument pattern must be a string, got number"),
        (("search", {"pattern": "x", "limit": "many"}), "Error: search: argument limit must be an integer"),
        (("search", {"pattern": "x", "limit": 0}), "Error: search: limit must be from 1 to 50, got 0"),
        (("search", {"pattern": "x", "level": "loud"}), 'Error: search: level "loud" is not a level; one of: DEBUG, INFO, WARN, ERROR, FATAL'),
        (("search", {"pattern": "x", "component": "db-9"}), 'Error: search: unknown component "db-9"; one of: db-1, api-1, idle-1'),
        (("search", [1, 2]), "Error: search: arguments must be a JSON object"),
        (("search", "{not json"), "Error: search: arguments are not valid JSON"),
        (("count", {"by": "hour"}), 'Error: count: by "hour" is not one of: component, minute, level'),
        (("view", {"component": "db-1"}), "Error: view: give around= (a time"),
        (("view", {"component": "db-1", "line": 2, "around": "14:00"}), "Error: view: give either around="),
        (("view", {"component": "db-1", "line": 9}), "Error: view: line must be from 1 to 4, got 9"),
        (("templates", {}), "Error: templates: missing required argument component"),
        (("list_components", {"x": 1}), 'Error: list_components: unknown argument "x"; valid arguments: none'),
        ((None, {}), "Error: unknown tool (the name must be a string, got NoneType)"),
    ]
    for (name, args), want in cases:
        out = T.call_tool(inc, name, args)
        assert out.startswith(want), (name, args, out)
    # lenient coercions: integral numbers, digit strings, level case and aliases, JSON strings
    assert not T.run_tool(inc, "search", {"pattern": "x", "limit": 3.0, "level": "warning"}).error
    assert not T.run_tool(inc, "search", '{"pattern": "x", "limit": "3"}').error
    assert not T.run_tool(inc, "view", {"component": "DB-1", "line": 1}).error
    assert not T.run_tool(inc, "search", {"pattern": "x", "component": None}).error  # null = absent


# ----------------------------------------------------------------------------- patterns


def test_pattern_syntax():
    inc = tiny()

    def hits(p, **kw):
        return [inc.lines[g].text for g in T.run_tool(inc, "search", {"pattern": p, **kw}).lines]

    assert hits("TIMEOUT") == ["upstream Timeout after 5000 ms", "upstream timeout after 5001 ms"]  # case
    assert hits("upstream*5001") == ["upstream timeout after 5001 ms"]  # wildcard
    assert hits("5001*upstream") == []  # pieces in order
    assert hits("slow|refused") == ["slow query 2300 ms", "connection refused"]  # alternation
    assert hits("slow | refused") == ["slow query 2300 ms", "connection refused"]  # spaces around |
    assert hits("g*t */users") == ["GET /users 200 12ms", "GET /users 200 15ms"]
    assert hits("(a+)+$") == [] and hits("q.*y") == []  # regex syntax is literal text
    assert len(hits("*")) == 8  # a bare * matches every line
    assert hits("n*t*conn*many") == ["could not accept connection: Too many clients"]
    for bad, msg in [
        ("a" * 201, "at most 200 allowed"),
        ("|".join("abcdefghi"), "9 alternatives, at most 8"),
        ("a||b", "empty alternative"),
        ("   ", "pattern is empty"),
        ("a\nb", "line break"),
    ]:
        out = T.search(inc, bad)
        assert out.startswith("Error: search: ") and msg in out, out


# ----------------------------------------------------------------------------- schemas


def test_schemas_match_dispatcher():
    names = [s["function"]["name"] for s in T.TOOL_SCHEMAS]
    assert names == list(T.TOOL_NAMES) == ["list_components", "search", "view", "count", "templates"]
    json.dumps(T.TOOL_SCHEMAS)
    types = {"string", "integer"}
    for s in T.TOOL_SCHEMAS:
        assert set(s) == {"type", "function"} and s["type"] == "function"
        f = s["function"]
        assert set(f) == {"name", "description", "parameters"} and f["description"]
        p = f["parameters"]
        assert p["type"] == "object" and isinstance(p["properties"], dict)
        assert set(p["required"]) <= set(p["properties"])
        for name, prop in p["properties"].items():
            assert prop["type"] in types and prop["description"]
            if "enum" in prop:
                assert all(isinstance(e, str) for e in prop["enum"])
        # every declared argument is accepted by the dispatcher (not "unknown argument")
        for name in p["properties"]:
            assert "unknown argument" not in T.call_tool(tiny(), f["name"], {name: None})
    search = T.TOOL_SCHEMAS[1]["function"]
    assert "Not a regular expression" in search["parameters"]["properties"]["pattern"]["description"]
    assert search["parameters"]["properties"]["level"]["enum"] == list(LEVELS)
    try:
        import jsonschema
    except ImportError:
        return
    for s in T.TOOL_SCHEMAS:
        jsonschema.Draft202012Validator.check_schema(s["function"]["parameters"])


# ----------------------------------------------------------------------------- parsing a turn

QWEN_TWO_CALLS = """I'll look at the database first.
<tool_call>
{"name": "search", "arguments": {"pattern": "timeout", "component": "api-1"}}
</tool_call>
<tool_call>
{"name": "count", "arguments": {"pattern": "error", "by": "minute"}}
</tool_call>"""


def test_parse_qwen_turns():
    calls, errors = T.parse_tool_calls(QWEN_TWO_CALLS)
    assert errors == []
    assert calls == [("search", {"pattern": "timeout", "component": "api-1"}), ("count", {"pattern": "error", "by": "minute"})]
    assert T.has_tool_call(QWEN_TWO_CALLS)
    # arguments as a JSON string (as some servers send), no arguments, "parameters"
    turn = ('<tool_call>\n{"name": "view", "arguments": "{\\"component\\": \\"db-1\\", \\"line\\": 3}"}\n</tool_call>'
            '<tool_call>{"name": "list_components"}</tool_call>'
            '<tool_call>{"name": "templates", "parameters": {"component": "db-1"}}</tool_call>')
    calls, errors = T.parse_tool_calls(turn)
    assert errors == [] and calls == [("view", {"component": "db-1", "line": 3}), ("list_components", {}), ("templates", {"component": "db-1"})]
    # a final answer has no tool call
    answer = '<think>api-1 times out on db-1</think><answer>{"component": "db-1"}</answer>'
    assert not T.has_tool_call(answer) and T.parse_tool_calls(answer) == ([], [])
    # an unclosed last tag is read to the end
    assert T.parse_tool_calls('<tool_call>{"name": "list_components", "arguments": {}}') == ([("list_components", {})], [])


def test_parse_malformed():
    calls, errors = T.parse_tool_calls(
        "<tool_call>{name: search}</tool_call>"
        '<tool_call>{"arguments": {}}</tool_call>'
        "<tool_call>[1, 2]</tool_call>"
        '<tool_call>{"name": "search", "arguments": 7}</tool_call>'
        '<tool_call>{"name": "search", "arguments": "{bad"}</tool_call>'
        "<tool_call></tool_call>"
        '<tool_call>{"name": "count", "arguments": {}}</tool_call>'
        "<tool_call>"
    )
    assert calls == [("count", {})]
    assert [e.split(":")[0] for e in errors] == [f"tool call {k}" for k in (1, 2, 3, 4, 5, 6, 8)]
    assert "malformed JSON" in errors[0] and 'missing "name"' in errors[1] and "not a JSON object" in errors[2]
    assert "must be a JSON object" in errors[3] and "not valid JSON" in errors[4] and "never closed" in errors[6]
    assert T.parse_tool_calls(None) == ([], ["the turn is not text"])


def test_parse_caps_and_nesting():
    one = '<tool_call>{"name": "list_components", "arguments": {}}</tool_call>'
    t = time.perf_counter()
    calls, errors = T.parse_tool_calls(one * 1000)
    assert time.perf_counter() - t < 0.1
    assert len(calls) == T.MAX_CALLS_PER_TURN
    assert errors == ["at most 8 tool calls per turn: 992 more were ignored"]
    nested = '<tool_call><tool_call>{"name": "count", "arguments": {}}</tool_call></tool_call>'
    assert T.parse_tool_calls(nested) == ([("count", {})], [])
    deep = "<tool_call>" + "[" * 100_000 + "</tool_call>"
    calls, errors = T.parse_tool_calls(deep)
    assert calls == [] and len(errors) == 1 and "malformed JSON" in errors[0]


# ----------------------------------------------------------------------------- hostile inputs


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    dt = time.perf_counter() - t
    assert dt < 0.1, (dt, args[1:2])
    return out


def test_hostile_inputs_never_raise_and_are_fast(inc10k):
    lines = [IncidentLine("w", T0 + i, "INFO", "a" * 100_000 + "!", "a<*>") for i in range(20)]
    wide = Incident("wide", (Component("w", "f", "h"),), lines, T0, T0 + 100, "", IncidentTruth((), False, ()))
    T.index_of(wide).lower  # the index is built once, outside the timed calls
    T.index_of(wide).slice("w")
    hostile_patterns = [
        "x" * 1_000_000, "(a+)+$", "(a|aa)*b", "a*" * 99 + "b", "|".join(["a" * 24 + "*b"] * 8),
        "a" * 199 + "!", "\x00", "\ud800\udfff\ud800", "*" * 200, "\\", "%s%n",
    ]
    for inc in (wide, inc10k):
        for p in hostile_patterns:
            for name, args in [
                ("search", {"pattern": p}), ("count", {"pattern": p, "by": "minute"}),
                ("search", {"pattern": p, "component": p, "start": p, "level": p}),
            ]:
                out = _timed(T.call_tool, inc, name, args)
                _bounded(out)
    weird = [None, 1, 1.5, True, [], {}, [{"a": 1}], {"pattern": "x"}, "\x00", "\udc80", "x" * 1_000_000, float("nan"), 10**400]
    for name in list(T.TOOL_NAMES) + ["\x00", "", "x" * 100_000]:
        for v in weird:
            _bounded(_timed(T.call_tool, inc10k, name, v))
            for key in ("pattern", "component", "around", "line", "limit", "by", "\udc80"):
                _bounded(_timed(T.call_tool, inc10k, name, {key: v}))
    # a huge turn with 1,000 calls is parsed and dispatched within the bounds
    turn = '<tool_call>{"name": "search", "arguments": {"pattern": "(a+)+$"}}</tool_call>' * 1000
    calls, errors = _timed(T.parse_tool_calls, turn)
    assert len(calls) == 8 and len(errors) == 1
    for name, args in calls:
        _bounded(_timed(T.call_tool, wide, name, args))


def test_hostile_log_text_is_escaped():
    lines = [IncidentLine("c", T0, "INFO", "bad\x00byte \ud800 tab\there\x1b[31m", "t\x00")]
    inc = Incident("esc", (Component("c", "f", "h"),), lines, T0, T0 + 1, "", IncidentTruth((), False, ()))
    out = T.search(inc, "bad")
    _bounded(out)
    assert "bad\\x00byte \\ud800 tab here\\x1b[31m" in out
    _bounded(T.templates(inc, "c"))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
_keys = st.sampled_from(["pattern", "component", "start", "end", "level", "limit", "around", "line", "before", "after", "by"])
_values = (
    _json
    | st.sampled_from(["db-1", "api-1", "14:00", "14:01:30", "2024-05-01T14:02:00Z", "ERROR", "minute", "level", "timeout|GET", "*"])
    | st.integers(min_value=-3, max_value=60)
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(list(T.TOOL_NAMES)) | st.text(max_size=10),
    arguments=st.dictionaries(_keys | st.text(max_size=5), _values, max_size=5) | _json,
)
def test_call_tool_never_raises(name, arguments):
    out = T.call_tool(tiny(), name, arguments)
    _bounded(out)
    if name not in T.TOOL_NAMES:
        assert out.startswith("Error: unknown tool")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.builds(lambda a, b: f"<tool_call>{a}</tool_call>{b}", st.text(max_size=60), st.text(max_size=20)))
def test_parse_tool_calls_never_raises(text):
    calls, errors = T.parse_tool_calls(text)
    assert all(isinstance(n, str) and isinstance(a, dict) for n, a in calls)
    assert len(calls) <= T.MAX_CALLS_PER_TURN and all(isinstance(e, str) for e in errors)
    if not T.has_tool_call(text):
        assert calls == [] and errors == []


# ----------------------------------------------------------------------------- speed

_CALLS = [
    ("search", {"pattern": "timeout"}),
    ("search", {"pattern": "connection*id=1|refused", "start": "14:10", "end": "14:40", "level": "ERROR"}),
    ("view", {"component": "db-1", "around": "14:30"}),
    ("count", {"pattern": "retry", "by": "minute"}),
    ("count", {"by": "level"}),
    ("templates", {"component": "app-1"}),
    ("list_components", {}),
]


def _median_ms(inc, name, args, reps=15):
    T.call_tool(inc, name, args)  # warm the index
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        T.call_tool(inc, name, args)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def test_speed_10k(inc10k):
    for name, args in _CALLS:
        assert _median_ms(inc10k, name, args) <= 5.0, (name, args)


def test_speed_linear_100k(inc10k, inc100k):
    for name, args in _CALLS:
        small, big = _median_ms(inc10k, name, args), _median_ms(inc100k, name, args, reps=5)
        assert big <= max(25 * small, 1.0) and big < 100, (name, args, small, big)


def test_index_cache_drops_with_incident():
    inc = make_incident(100)
    T.index_of(inc)
    key = id(inc)
    assert key in T._CACHE
    del inc
    import gc

    gc.collect()
    assert key not in T._CACHE
