"""The investigation tools: five typed functions over one :class:`Incident`, their OpenAI
schemas, a dispatcher that never raises, and the parser of one model turn.

The tools are what an agent can do with an incident's logs: :func:`list_components`,
:func:`search`, :func:`view`, :func:`count` and :func:`templates`. Each returns the observation
text the model reads, and every output is bounded: at most :data:`MAX_LINES` log lines and
:data:`MAX_CHARS` characters (a log line longer than :data:`MAX_LINE_CHARS` is cut with a
``… [+N chars]`` marker); when more matched than is shown, the output says how many and how to
narrow the query. A bad argument is answered with an ``Error: …`` text naming the problem and the
fix, never an exception. The same functions serve the Gymnasium environments and any adapter.

**Patterns** (``search``, ``count``) use a restricted syntax, not regular expressions, so that
any pattern runs in time linear in the text searched: literal text, ``*`` for any run of
characters (also none), ``|`` between alternatives (spaces around ``|`` are ignored), matched
case-insensitively anywhere in a line (as if ``*`` stood at both ends). Each alternative is
matched by finding its literal pieces in order with :meth:`str.find`; ``re`` never sees user
input. A pattern is at most :data:`MAX_PATTERN_CHARS` characters and :data:`MAX_ALTERNATIVES`
alternatives; ``*`` and ``|`` cannot be matched literally.

**Times** (``start``, ``end``, ``around``) are strings in UTC: ISO-8601
(``"2024-05-01T14:05:00Z"``, seconds and fractions optional, ``Z``/``+HH:MM``/no zone = UTC, a
space for ``T`` accepted) or a clock time ``"HH:MM"``, ``"HH:MM:SS"`` or ``"HH:MM:SS.ffffff"``
on the incident's first day (the next day if that is before the incident starts and the incident
runs past midnight). ``start`` is inclusive, ``end`` exclusive. Output times are
``HH:MM:SS.mmm`` (with the date for an incident spanning more than one UTC day).

**Line numbers** (``#N`` in the outputs, ``line=`` of ``view``) count a component's lines from 1.

:data:`TOOL_SCHEMAS` describes the tools as OpenAI function-calling schemas; :func:`call_tool`
validates a decoded ``arguments`` object against the same specification and runs the tool;
:func:`run_tool` does the same and also returns which log lines the output showed (for evidence
metrics). :func:`parse_tool_calls` reads the Hermes/Qwen2.5 ``<tool_call>{…}</tool_call>``
convention; :func:`has_tool_call` tells a tool turn from a final answer.

Plain Python: no Gymnasium, no third-party dependency. Per-incident indexes (lowercased texts,
per-component line lists, times, template counts) are built lazily on first use and cached for
as long as the incident lives (:func:`index_of`).
"""

from __future__ import annotations

import bisect
import json
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Sequence

from rlog_env._times import DAY_US, EPOCH, US, iso, parse_utc
from rlog_env.datasets.sim.incident_model import LEVELS, Incident
from rlog_env.tasks.formats import unfenced

__all__ = [
    "MAX_LINES",
    "MAX_CHARS",
    "MAX_LINE_CHARS",
    "MAX_PATTERN_CHARS",
    "MAX_ALTERNATIVES",
    "MAX_CALLS_PER_TURN",
    "TOOL_NAMES",
    "TOOL_SCHEMAS",
    "tools_prompt",
    "ToolResult",
    "IncidentIndex",
    "index_of",
    "list_components",
    "search",
    "view",
    "count",
    "templates",
    "call_tool",
    "run_tool",
    "parse_tool_calls",
    "has_tool_call",
]

MAX_LINES = 50
"""The most log lines (or table rows) one tool output shows."""
MAX_CHARS = 4000
"""The most characters one tool output has."""
MAX_LINE_CHARS = 240
"""A log line or template longer than this is cut, with a ``… [+N chars]`` marker."""
MAX_PATTERN_CHARS = 200
"""The longest pattern accepted."""
MAX_ALTERNATIVES = 8
"""The most ``|``-separated alternatives in one pattern."""
MAX_CALLS_PER_TURN = 8
"""The most tool calls read from one model turn; further ones are answered with an error."""

_FOOTER_RESERVE = 320  # room kept for the "… more matched" footer
_MAX_ECHO = 60  # characters of a user-supplied string echoed back
_MIN_US = 60 * US


class ToolError(ValueError):
    """A bad tool argument; its message names the problem and the fix."""


@dataclass(frozen=True)
class ToolResult:
    """What one tool call gave: the observation ``text``, the indices (into
    :attr:`Incident.lines`) of the log lines it showed, and whether it was an error."""

    text: str
    lines: tuple[int, ...] = ()
    error: bool = False


# ----------------------------------------------------------------------------- the index


class _Slice:
    """The lines of one component (or of all): global indices, times, levels, lowered texts."""

    __slots__ = ("idx", "times", "levels", "_index", "_lower", "_blob", "_offsets")

    def __init__(self, index: "IncidentIndex", idx: Sequence[int]):
        self._index = index
        self.idx = idx
        if isinstance(idx, range):
            self.times = index.times
            self.levels = index.levels
        else:
            t, lv = index.times, index.levels
            self.times = [t[g] for g in idx]
            self.levels = [lv[g] for g in idx]
        self._lower: list[str] | None = None
        self._blob: str | None = None
        self._offsets: list[int] = []

    @property
    def lower(self) -> list[str]:
        if self._lower is None:
            low = self._index.lower
            self._lower = low if isinstance(self.idx, range) else [low[g] for g in self.idx]
        return self._lower

    def containing(self, piece: str, lo: int, hi: int) -> list[int]:
        """Positions in ``lo`` ≤ position < ``hi`` whose lowered text contains ``piece``.

        One ``str.find`` pass over the lowered texts joined by line breaks (built on first use;
        a piece never holds a line break, so no match spans two lines), each hit mapped to its
        line by bisection: C speed for the scan, Python work only per matching line."""
        if self._blob is None:
            offsets, at = [], 0
            for text in self.lower:
                offsets.append(at)
                at += len(text) + 1
            offsets.append(at)
            self._blob, self._offsets = "\n".join(self.lower), offsets
        blob, offsets, out = self._blob, self._offsets, []
        find, locate = blob.find, bisect.bisect_right
        pos, stop = offsets[lo], offsets[hi]
        while True:
            j = find(piece, pos, stop)
            if j < 0:
                return out
            line = locate(offsets, j) - 1
            out.append(line)
            pos = offsets[line + 1]

    def span(self, start: int | None, end: int | None) -> tuple[int, int] | list[int]:
        """Positions with ``start <= time < end``: a (lo, hi) range if the times are sorted."""
        n = len(self.times)
        if start is None and end is None:
            return (0, n)
        if self._index.sorted:
            lo = 0 if start is None else bisect.bisect_left(self.times, start)
            hi = n if end is None else bisect.bisect_left(self.times, end)
            return (lo, max(lo, hi))
        s = -(1 << 62) if start is None else start
        e = 1 << 62 if end is None else end
        return [i for i, t in enumerate(self.times) if s <= t < e]


class IncidentIndex:
    """Lookup tables over one incident, built once (the lowered texts and the template counts
    lazily, on first need). Use :func:`index_of` to get the cached one."""

    def __init__(self, incident: Incident):
        lines = incident.lines
        self.incident_id = incident.incident_id
        self.n = len(lines)
        self.times: list[int] = [ln.time for ln in lines]
        self.levels: list[str] = [ln.level for ln in lines]
        self.comp: list[str] = [ln.component for ln in lines]
        self.texts: list[str] = [ln.text for ln in lines]
        self._templates_src: list[str] = [ln.template for ln in lines]
        t = self.times
        self.sorted = all(t[i] <= t[i + 1] for i in range(len(t) - 1))
        self.start = incident.start
        self.end = incident.end
        self.components = {c.name: c for c in incident.components}
        by_comp: dict[str, list[int]] = {c.name: [] for c in incident.components}
        pos = [0] * self.n
        for g, name in enumerate(self.comp):
            lst = by_comp.get(name)
            if lst is None:
                lst = by_comp[name] = []
            lst.append(g)
            pos[g] = len(lst)
        self.by_comp = by_comp
        self.position = pos  # 1-based line number of each line within its component
        self.names = list(by_comp)  # components in incident order, then any unlisted ones
        first_us = min(self.start, t[0]) if t else self.start
        last_us = max(self.end, t[-1]) if t else self.end
        self.multi_day = first_us // DAY_US != last_us // DAY_US
        self.day0 = self.start // DAY_US * DAY_US
        self._lower: list[str] | None = None
        self._all: _Slice | None = None
        self._slices: dict[str, _Slice] = {}
        self._templates: dict[str, list[tuple[str, int]]] = {}

    @property
    def lower(self) -> list[str]:
        """Every line's text, lowercased (built on first use)."""
        if self._lower is None:
            self._lower = [s.lower() for s in self.texts]
        return self._lower

    def slice(self, component: str | None) -> _Slice:
        """All lines (``None``) or one component's lines."""
        if component is None:
            if self._all is None:
                self._all = _Slice(self, range(self.n))
            return self._all
        s = self._slices.get(component)
        if s is None:
            s = self._slices[component] = _Slice(self, self.by_comp[component])
        return s

    def templates(self, component: str) -> list[tuple[str, int]]:
        """A component's distinct templates with counts, commonest first (ties: first seen)."""
        got = self._templates.get(component)
        if got is None:
            src = self._templates_src
            counts = Counter(src[g] for g in self.by_comp[component])
            got = sorted(counts.items(), key=lambda kv: -kv[1])  # stable: first-seen order
            self._templates[component] = got
        return got

    # --- formatting
    def fmt_time(self, us: int) -> str:
        """``HH:MM:SS.mmm`` (ISO date and time with ``Z`` for a multi-day incident)."""
        return _fmt_us(us, self.multi_day)

    def fmt_line(self, g: int, with_component: bool) -> str:
        head = f"{self.comp[g]} " if with_component else ""
        text = _clip(_clean(self.texts[g][: MAX_LINE_CHARS * 2]), MAX_LINE_CHARS, len(self.texts[g]))
        return f"{head}#{self.position[g]} {self.fmt_time(self.times[g])} {self.levels[g]} {text}"


_CACHE: dict[int, tuple[weakref.ref, IncidentIndex]] = {}


def index_of(incident: Incident) -> IncidentIndex:
    """The cached :class:`IncidentIndex` of ``incident`` (built on first call; dropped when the
    incident is garbage-collected)."""
    key = id(incident)
    hit = _CACHE.get(key)
    if hit is not None and hit[0]() is incident:
        return hit[1]
    index = IncidentIndex(incident)
    try:
        ref = weakref.ref(incident, lambda _r, k=key: _CACHE.pop(k, None))
    except TypeError:  # not weak-referenceable: don't cache
        return index
    _CACHE[key] = (ref, index)
    return index


# ----------------------------------------------------------------------------- text helpers

_CTRL = {c: f"\\x{c:02x}" for c in range(32)}
_CTRL[9] = " "
_CTRL[127] = "\\x7f"


def _clean(s: str) -> str:
    """``s`` with control characters escaped and lone surrogates backslash-escaped, so that
    the output is printable and encodes as UTF-8."""
    if s.isascii() and s.isprintable():
        return s
    s = s.translate(_CTRL)
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "backslashreplace").decode("utf-8")
    return s


def _clip(s: str, n: int, orig_len: int | None = None) -> str:
    total = len(s) if orig_len is None else max(orig_len, len(s))
    if total <= n and len(s) <= n:
        return s
    return s[:n] + f" … [+{total - n:,} chars]"


def _echo(s: str) -> str:
    """A user-supplied string quoted for an output: cleaned, at most ``_MAX_ECHO`` characters."""
    return '"' + _clip(_clean(s[: _MAX_ECHO * 2]), _MAX_ECHO, len(s)).replace('"', '\\"') + '"'


def _fmt_us(us: int, with_date: bool) -> str:
    secs, frac = divmod(us, US)
    days, tod = divmod(secs, 86_400)
    h, rem = divmod(tod, 3600)
    m, s = divmod(rem, 60)
    clock = f"{h:02d}:{m:02d}:{s:02d}.{frac // 1000:03d}"
    if not with_date:
        return clock
    d = (EPOCH + timedelta(days=days)).strftime("%Y-%m-%d")
    return f"{d}T{clock}Z"


def _fmt_minute(index: IncidentIndex, us: int) -> str:
    t = _fmt_us(us, index.multi_day)
    return t[:-8] + "Z" if index.multi_day else t[:5]


class _Out:
    """An output being built within :data:`MAX_LINES` and :data:`MAX_CHARS`."""

    def __init__(self, header: str):
        self.parts = [header]
        self.budget = MAX_CHARS - len(header) - 1 - _FOOTER_RESERVE
        self.shown = 0

    def add(self, line: str) -> bool:
        if self.shown >= MAX_LINES or len(line) + 1 > self.budget:
            return False
        self.parts.append(line)
        self.budget -= len(line) + 1
        self.shown += 1
        return True

    def text(self, footer: str = "") -> str:
        if footer:
            self.parts.append(footer[:_FOOTER_RESERVE])
        return "\n".join(self.parts)[:MAX_CHARS]


# ----------------------------------------------------------------------------- patterns


def compile_pattern(pattern: str) -> list[tuple[str, ...]]:
    """``pattern`` as its alternatives, each the tuple of its lowercased literal pieces (an
    empty tuple matches every line). Raises :class:`ToolError` for a pattern that is empty,
    too long, has too many or empty alternatives, or contains a line break."""
    if not isinstance(pattern, str):
        raise ToolError(f"pattern must be a string, got {type(pattern).__name__}")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ToolError(
            f"pattern is {len(pattern):,} characters, at most {MAX_PATTERN_CHARS} allowed; "
            "search for a shorter distinctive piece of the line"
        )
    if not pattern.strip():
        raise ToolError('pattern is empty; give some text to look for, e.g. pattern="timeout"')
    if "\n" in pattern or "\r" in pattern:
        raise ToolError("pattern contains a line break; log lines are single lines")
    alts = pattern.split("|")
    if len(alts) > MAX_ALTERNATIVES:
        raise ToolError(
            f"pattern has {len(alts)} alternatives, at most {MAX_ALTERNATIVES} allowed; "
            "split it into several searches"
        )
    out: list[tuple[str, ...]] = []
    for alt in alts:
        alt = alt.strip()
        if not alt:
            raise ToolError(
                f"pattern {_echo(pattern)} has an empty alternative; write alternatives as "
                '"a|b" with text on both sides of |'
            )
        out.append(tuple(p for p in alt.lower().split("*") if p))
    return out


def _ordered(t: str, pieces: tuple[str, ...]) -> bool:
    pos = 0
    for p in pieces:
        j = t.find(p, pos)
        if j < 0:
            return False
        pos = j + len(p)
    return True


def _positions(sl: _Slice, span, alts: list[tuple[str, ...]] | None, level: str | None) -> list[int]:
    """Positions (within ``sl``) of the lines in ``span`` matching ``alts`` and ``level``."""
    rng = range(*span) if isinstance(span, tuple) else span
    if alts is None or any(not a for a in alts):
        hits = list(rng)
    else:
        low = sl.lower
        found: set[int] | None = None
        hits = []
        for alt in alts:
            key = max(alt, key=len)
            if isinstance(span, tuple):
                cand = sl.containing(key, *span)
            else:
                cand = [i for i in rng if key in low[i]]
            if len(alt) > 1:
                cand = [i for i in cand if _ordered(low[i], alt)]
            if len(alts) == 1:
                hits = cand
            else:
                found = set(cand) if found is None else found.union(cand)
        if found is not None:
            hits = sorted(found)
    if level is not None:
        lv = sl.levels
        hits = [i for i in hits if lv[i] == level]
    return hits


# ----------------------------------------------------------------------------- argument checks

def parse_time(index: IncidentIndex, value: str, name: str = "time") -> int:
    """``value`` (ISO-8601 or ``HH:MM[:SS[.ffffff]]``, UTC; :func:`rlog_env._times.parse_utc`)
    as microseconds since the epoch."""
    if not isinstance(value, str):
        raise ToolError(f"{name} must be a string such as \"14:05\", got {type(value).__name__}")
    try:
        return parse_utc(value, index.start, index.end)
    except ValueError as exc:
        hint = (f'write {name} as "HH:MM", "HH:MM:SS" or ISO-8601 such as '
                f'"{iso(index.start)}" (UTC)')
        raise ToolError(f"{name} {_echo(value)} is {exc}; {hint}") from None


def _span_args(index: IncidentIndex, start, end) -> tuple[int | None, int | None]:
    s = None if start is None else parse_time(index, start, "start")
    e = None if end is None else parse_time(index, end, "end")
    if s is not None and e is not None and e <= s:
        raise ToolError(
            f"end ({index.fmt_time(e)}) is not after start ({index.fmt_time(s)}); "
            "end is exclusive and must be later than start"
        )
    return s, e


def _component_arg(index: IncidentIndex, component, required: bool = False) -> str | None:
    if component is None:
        if required:
            raise ToolError(f"component is required; one of: {_names(index)}")
        return None
    if not isinstance(component, str):
        raise ToolError(f"component must be a string, one of: {_names(index)}")
    if component in index.by_comp:
        return component
    c = component.strip()
    if c in index.by_comp:
        return c
    folded = {n.lower(): n for n in index.by_comp}
    if c.lower() in folded:
        return folded[c.lower()]
    raise ToolError(f"unknown component {_echo(component)}; one of: {_names(index)}")


def _names(index: IncidentIndex) -> str:
    names = index.names
    shown = ", ".join(_clean(n) for n in names[:20])
    return shown + (f" (and {len(names) - 20} more; see list_components)" if len(names) > 20 else "")


_LEVEL_ALIASES = {"WARNING": "WARN", "ERR": "ERROR", "CRITICAL": "FATAL", "CRIT": "FATAL"}


def _level_arg(level) -> str | None:
    if level is None:
        return None
    if isinstance(level, str):
        lv = level.strip().upper()
        lv = _LEVEL_ALIASES.get(lv, lv)
        if lv in LEVELS:
            return lv
    shown = _echo(level) if isinstance(level, str) else type(level).__name__
    raise ToolError(f"level {shown} is not a level; one of: {', '.join(LEVELS)}")


def _int_arg(value, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ToolError(f"{name} must be an integer from {lo} to {hi}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ToolError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")
        value = int(value)
    if not lo <= value <= hi:
        raise ToolError(f"{name} must be from {lo} to {hi}, got {value}")
    return value


def _filters_echo(index, pattern=None, component=None, start=None, end=None, level=None) -> str:
    bits = []
    if pattern is not None:
        bits.append(f"pattern={_echo(pattern)}")
    if component is not None:
        bits.append(f"component={_clean(component)}")
    if start is not None:
        bits.append(f"start={index.fmt_time(start)}")
    if end is not None:
        bits.append(f"end={index.fmt_time(end)}")
    if level is not None:
        bits.append(f"level={level}")
    return " ".join(bits)


# ----------------------------------------------------------------------------- the tools


def _list_components(incident: Incident) -> ToolResult:
    ix = index_of(incident)
    header = (
        f"Incident {_clean(str(ix.incident_id))[:80]}: {iso(ix.start)} to {iso(ix.end)} (UTC), "
        f"{len(ix.names)} components, {ix.n:,} lines"
    )
    out = _Out(header)
    out.add("component | host | family | lines | first | last | depends_on")
    shown = 0
    for name in ix.names:
        c = ix.components.get(name)
        idx = ix.by_comp[name]
        first = ix.fmt_time(ix.times[idx[0]]) if idx else "-"
        last = ix.fmt_time(ix.times[idx[-1]]) if idx else "-"
        host = _clean(c.host) if c else "?"
        fam = _clean(c.family) if c else "?"
        deps = ", ".join(_clean(d) for d in c.depends_on) if c and c.depends_on else "-"
        row = _clip(f"{_clean(name)} | {host} | {fam} | {len(idx):,} | {first} | {last} | {deps}", MAX_LINE_CHARS)
        if not out.add(row):
            break
        shown += 1
    rest = len(ix.names) - shown
    return ToolResult(out.text(f"… {rest} more components not shown" if rest else ""))


def list_components(incident: Incident) -> str:
    """List the incident's components: for each its host, system family, the components it
    depends on, its number of log lines and the times of its first and last line; with the
    incident's time span (UTC) and total line count."""
    return _guard(_list_components, incident).text


def _search(incident, pattern, component=None, start=None, end=None, level=None, limit=20) -> ToolResult:
    ix = index_of(incident)
    alts = compile_pattern(pattern)
    comp = _component_arg(ix, component)
    s, e = _span_args(ix, start, end)
    lv = _level_arg(level)
    limit = _int_arg(limit, "limit", 1, MAX_LINES)
    sl = ix.slice(comp)
    hits = _positions(sl, sl.span(s, e), alts, lv)
    total = len(hits)
    desc = _filters_echo(ix, pattern, comp, s, e, lv)
    if not total:
        return ToolResult(
            f"search {desc}: no lines matched. Patterns are literal text with * and |, "
            "case-insensitive; try a shorter pattern or fewer filters"
        )
    out = _Out(f"search {desc}: {total:,} lines matched" + (f", showing the first {min(total, limit)}" if total > limit else ""))
    shown: list[int] = []
    for i in hits[:limit]:
        g = sl.idx[i]
        if not out.add(ix.fmt_line(g, with_component=comp is None)):
            break
        shown.append(g)
    rest = total - len(shown)
    footer = ""
    if rest:
        why = "" if len(shown) == min(total, limit) else f" (output limit of {MAX_CHARS:,} characters)"
        more = [] if comp else ["component="]
        more += ["start=/end="] + ([] if lv else ["level="])
        footer = (
            f"… {rest:,} more lines matched{why}; narrow with {', '.join(more)} or a longer pattern"
            + (f", or raise limit= (at most {MAX_LINES})" if len(shown) == limit < MAX_LINES and not why else "")
            + "; count shows where they fall"
        )
    return ToolResult(out.text(footer), tuple(shown))


def search(
    incident: Incident,
    pattern: str,
    component: str | None = None,
    start: str | None = None,
    end: str | None = None,
    level: str | None = None,
    limit: int = 20,
) -> str:
    """Find log lines matching ``pattern``, in time order, optionally only of one
    ``component``, in ``start`` ≤ time < ``end`` and at one ``level``; show at most ``limit``
    (1–50) of them as ``component #N HH:MM:SS.mmm LEVEL text`` and say how many more matched.

    ``pattern``: literal text, ``*`` for any run of characters, ``|`` between alternatives,
    case-insensitive, anywhere in the line (no regular expressions; at most 200 characters and
    8 alternatives). Times: ``"HH:MM[:SS]"`` on the incident's day or ISO-8601, UTC.
    """
    return _guard(_search, incident, pattern, component, start, end, level, limit).text


def _view(incident, component, around=None, line=None, before=5, after=5) -> ToolResult:
    ix = index_of(incident)
    comp = _component_arg(ix, component, required=True)
    before = _int_arg(before, "before", 0, 24)
    after = _int_arg(after, "after", 0, 24)
    idx = ix.by_comp[comp]
    n = len(idx)
    if around is not None and line is not None:
        raise ToolError("give either around= (a time) or line= (a line number), not both")
    if around is None and line is None:
        raise ToolError(
            f'give around= (a time such as "{ix.fmt_time(ix.start)[:8]}") or line= (a line '
            f"number of {comp}, 1 to {n:,})"
        )
    if not n:
        return ToolResult(f"view {comp}: the component has no log lines")
    if line is not None:
        centre = _int_arg(line, "line", 1, max(n, 1)) - 1
        where = f"line {centre + 1:,}"
    else:
        t = parse_time(ix, around, "around")
        sl = ix.slice(comp)
        if ix.sorted:
            centre = min(bisect.bisect_left(sl.times, t), n - 1)
        else:
            later = [i for i, x in enumerate(sl.times) if x >= t]
            centre = min(later, key=lambda i: sl.times[i]) if later else n - 1
        where = f"around {ix.fmt_time(t)}"
    lo, hi = max(0, centre - before), min(n, centre + after + 1)
    out = _Out(f"view {_clean(comp)} {where}: lines {lo + 1:,}–{hi:,} of {n:,}")
    shown: list[int] = []
    for i in range(lo, hi):
        g = idx[i]
        mark = "> " if i == centre else "  "
        if not out.add(mark + ix.fmt_line(g, with_component=False)):
            break
        shown.append(g)
    footer = ""
    if len(shown) < hi - lo:
        footer = f"… {hi - lo - len(shown)} more lines not shown (output limit of {MAX_CHARS:,} characters); use smaller before=/after="
    return ToolResult(out.text(footer), tuple(shown))


def view(
    incident: Incident,
    component: str,
    around: str | None = None,
    line: int | None = None,
    before: int = 5,
    after: int = 5,
) -> str:
    """Show one ``component``'s log lines in order around a time (``around``: the first line at
    or after it) or around its line number ``line`` (from 1, the ``#N`` of search results), with
    ``before`` and ``after`` (0–24) lines of context; the centre line is marked ``>``."""
    return _guard(_view, incident, component, around, line, before, after).text


_BY = ("component", "minute", "level")


def _count(incident, pattern=None, by="component", component=None, start=None, end=None) -> ToolResult:
    ix = index_of(incident)
    alts = None if pattern is None or (isinstance(pattern, str) and not pattern.strip()) else compile_pattern(pattern)
    if by not in _BY:
        shown = _echo(by) if isinstance(by, str) else type(by).__name__
        raise ToolError(f"by {shown} is not one of: {', '.join(_BY)}")
    comp = _component_arg(ix, component)
    s, e = _span_args(ix, start, end)
    sl = ix.slice(comp)
    hits = _positions(sl, sl.span(s, e), alts, None)
    total = len(hits)
    desc = _filters_echo(ix, pattern if alts else None, comp, s, e)
    head = f"count {desc + ' ' if desc else ''}by={by}: {total:,} lines"
    if not total:
        return ToolResult(head + " matched")
    if by == "component":
        if comp is None:
            c = ix.comp
            counts = Counter(c[i] for i in hits)
        else:
            counts = Counter({comp: total})
        rows = [(_clean(k), v) for k, v in counts.most_common()]
        zero = [n for n in ix.names if n not in counts]
    elif by == "level":
        lvs = sl.levels
        counts = Counter(lvs[i] for i in hits)
        rows = [(k, counts[k]) for k in LEVELS if counts[k]] + [
            (_clean(k), v) for k, v in counts.items() if k not in LEVELS
        ]
        zero = [k for k in LEVELS if not counts[k]]
    else:
        ts = sl.times
        counts = Counter(ts[i] // _MIN_US for i in hits)
        rows = [(_fmt_minute(ix, m * _MIN_US), counts[m]) for m in sorted(counts)]
        zero = []
    out = _Out(head)
    shown = 0
    for k, v in rows:
        if not out.add(f"{k}: {v:,}"):
            break
        shown += 1
    footer = ""
    if shown < len(rows):
        rest = rows[shown:]
        unit = {"component": "components", "minute": "minutes", "level": "levels"}[by]
        footer = (
            f"… {len(rest):,} more {unit} ({sum(v for _, v in rest):,} lines); narrow with "
            + ("start=/end=" if by == "minute" else "component=, start=/end= or a pattern")
        )
    elif zero:
        z = ", ".join(_clean(n) for n in zero[:20]) + (f" and {len(zero) - 20} more" if len(zero) > 20 else "")
        footer = f"0 lines: {z}"
    return ToolResult(out.text(footer))


def count(
    incident: Incident,
    pattern: str | None = None,
    by: str = "component",
    component: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> str:
    """Count the log lines matching ``pattern`` (all lines if omitted) ``by`` component
    (commonest first), minute (in time order, only minutes with lines) or level, optionally only
    of one ``component`` and in ``start`` ≤ time < ``end``. Pattern and times as in
    :func:`search`."""
    return _guard(_count, incident, pattern, by, component, start, end).text


def _templates(incident, component, limit=20) -> ToolResult:
    ix = index_of(incident)
    comp = _component_arg(ix, component, required=True)
    limit = _int_arg(limit, "limit", 1, MAX_LINES)
    rows = ix.templates(comp)
    n = len(ix.by_comp[comp])
    out = _Out(f"templates of {_clean(comp)}: {len(rows):,} distinct templates over {n:,} lines (count: template)")
    shown = 0
    for tpl, c in rows[:limit]:
        if not out.add(f"{c:,}: {_clip(_clean(tpl[: MAX_LINE_CHARS * 2]), MAX_LINE_CHARS, len(tpl))}"):
            break
        shown += 1
    footer = ""
    if shown < len(rows):
        rest = rows[shown:]
        why = "" if shown == min(limit, len(rows)) else f" (output limit of {MAX_CHARS:,} characters)"
        footer = f"… {len(rest):,} more templates ({sum(c for _, c in rest):,} lines){why}" + (
            f"; raise limit= (at most {MAX_LINES})" if shown == limit < MAX_LINES and not why else ""
        ) + "; search a template's text to see its lines"
    return ToolResult(out.text(footer))


def templates(incident: Incident, component: str, limit: int = 20) -> str:
    """List one ``component``'s distinct message templates (variables as ``<*>``) with how
    many lines each has, commonest first, at most ``limit`` (1–50)."""
    return _guard(_templates, incident, component, limit).text


def _guard(fn: Callable[..., ToolResult], *args) -> ToolResult:
    try:
        return fn(*args)
    except ToolError as exc:
        name = fn.__name__.lstrip("_")
        return ToolResult(f"Error: {name}: {exc}", error=True)


# ----------------------------------------------------------------------------- schemas, dispatch

_PATTERN_DOC = (
    "Literal text to find, case-insensitive, anywhere in a line; * matches any run of "
    "characters; | separates alternatives (e.g. \"timeout|refused\", \"connection*reset\"). "
    f"Not a regular expression. At most {MAX_PATTERN_CHARS} characters and {MAX_ALTERNATIVES} alternatives."
)
_TIME_DOC = 'UTC time: "HH:MM", "HH:MM:SS" (on the incident\'s day) or ISO-8601 such as "2024-05-01T14:05:00Z".'


@dataclass(frozen=True)
class _Param:
    name: str
    type: str  # "string" | "integer"
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: Any = None

    def schema(self) -> dict:
        out: dict[str, Any] = {"type": self.type, "description": self.description}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.default is not None:
            out["default"] = self.default
        return out


@dataclass(frozen=True)
class _Tool:
    name: str
    run: Callable[..., ToolResult]
    description: str
    params: tuple[_Param, ...]

    def schema(self) -> dict:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {p.name: p.schema() for p in self.params},
                    "required": [p.name for p in self.params if p.required],
                    "additionalProperties": False,
                },
            },
        }


_COMPONENT = "Component name, as list_components shows it (e.g. \"postgresql-1\")."

_TOOLS: tuple[_Tool, ...] = (
    _Tool(
        "list_components",
        _list_components,
        "List the incident's components with host, system family, dependencies, number of log "
        "lines and first/last line time; and the incident's time span (UTC). Start here.",
        (),
    ),
    _Tool(
        "search",
        _search,
        "Find log lines matching a pattern, in time order, shown as 'component #N HH:MM:SS.mmm "
        "LEVEL text' (#N: the line's number within its component, for view). Optional filters: "
        "component, start (inclusive) / end (exclusive), level. Output is bounded and says how "
        "many more lines matched.",
        (
            _Param("pattern", "string", _PATTERN_DOC, required=True),
            _Param("component", "string", "Only this component's lines. " + _COMPONENT),
            _Param("start", "string", "Only lines at or after this time. " + _TIME_DOC),
            _Param("end", "string", "Only lines before this time. " + _TIME_DOC),
            _Param("level", "string", "Only lines at this level.", enum=LEVELS),
            _Param("limit", "integer", "Most lines to show.", minimum=1, maximum=MAX_LINES, default=20),
        ),
    ),
    _Tool(
        "view",
        _view,
        "Show one component's log lines in order around a time (around) or a line number "
        "(line, the #N of search results), with context before and after; the centre line is "
        "marked '>'. Give exactly one of around and line.",
        (
            _Param("component", "string", _COMPONENT, required=True),
            _Param("around", "string", "Centre on the first line at or after this time. " + _TIME_DOC),
            _Param("line", "integer", "Centre on this line number of the component (from 1).", minimum=1),
            _Param("before", "integer", "Lines of context before.", minimum=0, maximum=24, default=5),
            _Param("after", "integer", "Lines of context after.", minimum=0, maximum=24, default=5),
        ),
    ),
    _Tool(
        "count",
        _count,
        "Count log lines matching a pattern (all lines if none) by component, by minute or by "
        "level, optionally for one component and a time range: where and when something happens.",
        (
            _Param("pattern", "string", _PATTERN_DOC + " Omit to count all lines."),
            _Param("by", "string", "How to group the counts.", enum=_BY, default="component"),
            _Param("component", "string", "Only this component's lines. " + _COMPONENT),
            _Param("start", "string", "Only lines at or after this time. " + _TIME_DOC),
            _Param("end", "string", "Only lines before this time. " + _TIME_DOC),
        ),
    ),
    _Tool(
        "templates",
        _templates,
        "List one component's distinct message templates (variables shown as <*>) with their "
        "line counts, commonest first: what the component normally says, and what is rare.",
        (
            _Param("component", "string", _COMPONENT, required=True),
            _Param("limit", "integer", "Most templates to show.", minimum=1, maximum=MAX_LINES, default=20),
        ),
    ),
)
_BY_NAME = {t.name: t for t in _TOOLS}

TOOL_NAMES: tuple[str, ...] = tuple(_BY_NAME)
"""The tools' names, in the order of :data:`TOOL_SCHEMAS`."""
TOOL_SCHEMAS: list[dict] = [t.schema() for t in _TOOLS]
"""The tools as OpenAI function-calling schemas (``{"type": "function", "function": {…}}``)."""


def tools_prompt() -> str:
    """How a model calls the tools and what each does, as a system message states it (the
    same facts as :data:`TOOL_SCHEMAS`, for models that read tools from text)."""
    lines = [
        'Tools: call one by writing <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>; '
        f"several calls in one turn are allowed (at most {MAX_CALLS_PER_TURN} are read). Their outputs "
        "come back in <tool_response> blocks. Patterns are literal text, case-insensitive, with * for "
        "any characters and | between alternatives (not regular expressions). Times are UTC: \"HH:MM\", "
        "\"HH:MM:SS\" or ISO-8601. Arguments marked ? are optional."
    ]
    for tool in _TOOLS:
        args = ", ".join(f"{p.name}{'' if p.required else '?'}: {p.type}"
                         + (f" ({'|'.join(p.enum)})" if p.enum else "") for p in tool.params)
        lines.append(f"- {tool.name}({args}): {tool.description}")
    return "\n".join(lines)


def _type_ok(p: _Param, v: Any) -> Any:
    """``v`` coerced to ``p``'s type (integral floats and digit strings for integers), or a
    :class:`ToolError`."""
    if p.type == "string":
        if isinstance(v, str):
            return v
        got = "null" if v is None else {bool: "boolean", int: "number", float: "number", dict: "object", list: "array"}.get(type(v), type(v).__name__)
        raise ToolError(f"argument {p.name} must be a string, got {got}")
    if isinstance(v, bool):
        raise ToolError(f"argument {p.name} must be an integer, got boolean")
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    if isinstance(v, str) and 0 < len(v.strip()) <= 9 and v.strip().lstrip("-").isdigit() and v.strip().isascii():
        return int(v.strip())
    raise ToolError(f"argument {p.name} must be an integer, got {_echo(v) if isinstance(v, str) else type(v).__name__}")


def run_tool(incident: Incident, name: Any, arguments: Any) -> ToolResult:
    """Validate ``arguments`` (a decoded JSON object, or a JSON string of one) for tool
    ``name`` and run it. Never raises: any problem is a :class:`ToolResult` with
    ``error=True`` and an ``Error: …`` text naming the problem and the fix."""
    try:
        tool = _BY_NAME.get(name) if isinstance(name, str) else None
        if tool is None:
            shown = _echo(name) if isinstance(name, str) else f"(the name must be a string, got {type(name).__name__})"
            return ToolResult(f"Error: unknown tool {shown}; the tools are: {', '.join(TOOL_NAMES)}", error=True)
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except (ValueError, RecursionError):
                return ToolResult(f"Error: {name}: arguments are not valid JSON; give a JSON object such as {_example(tool)}", error=True)
        if not isinstance(arguments, dict):
            return ToolResult(f"Error: {name}: arguments must be a JSON object such as {_example(tool)}", error=True)
        known = {p.name: p for p in tool.params}
        unknown = [k for k in arguments if k not in known]
        if unknown:
            k = unknown[0]
            shown = _echo(k) if isinstance(k, str) else repr(type(k).__name__)
            valid = ", ".join(known) if known else "none (call it with {})"
            return ToolResult(f"Error: {name}: unknown argument {shown}; valid arguments: {valid}", error=True)
        values: list[Any] = []
        for p in tool.params:
            v = arguments.get(p.name)
            if v is None:
                if p.required:
                    return ToolResult(f"Error: {name}: missing required argument {p.name}; e.g. {_example(tool)}", error=True)
                values.append(p.default)
                continue
            values.append(_type_ok(p, v))
        return _guard(tool.run, incident, *values)
    except ToolError as exc:
        return ToolResult(f"Error: {name}: {exc}", error=True)
    except Exception as exc:  # a bug must not end an episode: report it as an error
        return ToolResult(f"Error: {name if isinstance(name, str) else 'tool'}: internal error ({type(exc).__name__}); try other arguments", error=True)


def call_tool(incident: Incident, name: Any, arguments: Any) -> str:
    """Run tool ``name`` with ``arguments`` (a decoded JSON object) on ``incident`` and return
    its output text; a bad call returns an ``Error: …`` text naming the problem and the fix.
    Never raises, whatever ``name`` and ``arguments`` are."""
    return run_tool(incident, name, arguments).text


_EXAMPLES = {
    "list_components": "{}",
    "search": '{"pattern": "timeout", "component": "<name>", "start": "14:00", "end": "14:30"}',
    "view": '{"component": "<name>", "around": "14:05"}',
    "count": '{"pattern": "error", "by": "minute"}',
    "templates": '{"component": "<name>"}',
}


def _example(tool: _Tool) -> str:
    return _EXAMPLES.get(tool.name, "{}")


# ----------------------------------------------------------------------------- parsing a turn

_OPEN = "<tool_call>"
_CLOSE = "</tool_call>"


def has_tool_call(text: Any) -> bool:
    """Whether a model turn contains a tool call (an opening ``<tool_call>`` tag); a turn
    without one is a final answer."""
    return isinstance(text, str) and _OPEN in text


def parse_tool_calls(text: Any) -> tuple[list[tuple[str, dict]], list[str]]:
    """The tool calls of one model turn in the Hermes/Qwen2.5 convention
    ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` (one or more; ``arguments`` may
    be an object or a JSON string of one, ``parameters`` is accepted for ``arguments``; an
    unclosed last tag is read to the end of the turn). Returns ``(calls, errors)``: the
    ``(name, arguments)`` pairs in order, and one message per malformed call (bad JSON, not an
    object, no name). At most :data:`MAX_CALLS_PER_TURN` calls are read; the rest are reported
    in one error. Never raises."""
    calls: list[tuple[str, dict]] = []
    errors: list[str] = []
    if not isinstance(text, str):
        return calls, ["the turn is not text"]
    pos, k, extra = 0, 0, 0
    while True:
        o = text.find(_OPEN, pos)
        if o < 0:
            break
        c = text.find(_CLOSE, o + len(_OPEN))
        if c < 0:
            body, pos, closed = text[o + len(_OPEN):], len(text), False
        else:
            inner = text.rfind(_OPEN, o, c)  # nested tags: the innermost call
            body, pos, closed = text[inner + len(_OPEN):c], c + len(_CLOSE), True
        k += 1
        if k > MAX_CALLS_PER_TURN:
            extra += 1
            continue
        if not closed and not body.strip():
            errors.append(f"tool call {k}: <tool_call> is never closed; end it with </tool_call>")
            continue
        call, err = _parse_one(body)
        if err:
            errors.append(f"tool call {k}: {err}" + ("" if closed else " (the tag is not closed with </tool_call>)"))
        else:
            calls.append(call)
    if extra:
        errors.append(f"at most {MAX_CALLS_PER_TURN} tool calls per turn: {extra:,} more were ignored")
    return calls, errors


_FORMAT = 'write <tool_call>{"name": "<tool>", "arguments": {...}}</tool_call>'


def _parse_one(body: str) -> tuple[tuple[str, dict] | None, str | None]:
    s = unfenced(body)  # a fenced block inside the tag is read too
    if not s:
        return None, f"empty <tool_call>; {_FORMAT}"
    try:
        obj = json.loads(s)
    except (ValueError, RecursionError) as exc:
        msg = str(exc).split(":")[0][:80] if isinstance(exc, ValueError) else "nested too deeply"
        return None, f"malformed JSON ({_clean(msg)}); {_FORMAT}"
    if not isinstance(obj, dict):
        return None, f"the tool call is not a JSON object; {_FORMAT}"
    name = obj.get("name")
    if not isinstance(name, str) or not name.strip():
        return None, f'missing "name" (a string naming the tool); {_FORMAT}'
    args = obj.get("arguments", obj.get("parameters"))
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError):
            return None, f'"arguments" of {_echo(name)} is a string but not valid JSON; give a JSON object'
    if not isinstance(args, dict):
        return None, f'"arguments" of {_echo(name)} must be a JSON object; {_FORMAT}'
    return (name.strip(), args), None
