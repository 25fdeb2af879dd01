"""Log parsing by generic masking and template subsumption (the ``subsumption`` agent).

:class:`SubsumptionParser` needs no model and no per-system setting: the same rules serve every
system, none chosen by looking at a system's labels.

1. **Masking** (each message alone). Whole spans first: a date (``Sun Jul 10 07:24:24 2005``,
   ``Jun 14 15:16:01``), a URL or a path of two segments or more (``/v2/…/servers?x=1``), a
   number with a size or time unit (``5.2 KB``, ``384.0 B``, ``30 ms``, ``100 bytes``), and an
   empty value standing alone (``()``, ``[]``, ``{}``, ``""``: the value is there, empty).
   Then the message is cut into pieces at whitespace and at the delimiters
   ``, ; : = ( ) [ ] { } " ' | < >`` (kept as they are), and a piece is a variable when it holds
   a digit (numbers, ids, addresses, sizes, durations, versions), a ``/``, is a hexadecimal
   string of 8 digits or more, or is a host name under a known top-level domain
   (``troi.bluesky-technologies.com``). A run of variables separated only by whitespace or
   commas is one variable (a list of any length). The template is the message with every
   variable written ``<*>``; the delimiters and spacing stay as in the message.
2. **Subsumption** (the messages of one system together). Of two templates with the same number
   of whitespace-separated tokens, the more general one *subsumes* the other when every token is
   equal or is one of its tokens with ``<*>`` that matches the other's token (``<*>`` standing
   for any text): ``synchronized to <*>, stratum <*>`` subsumes
   ``synchronized to LOCAL(<*>), stratum <*>``. A template takes the most general template that
   subsumes it (the one with the most variable tokens, then the commonest), provided that one
   has at least two constant tokens and no fewer constant than variable tokens (so ``<*> <*>``
   subsumes nothing).

``fit(samples)`` keeps, per system (``Sample.domain``), the masked templates of its messages
and how often each occurs; ``act`` masks each message and answers the fitted template that
subsumes it (its own template when none does). ``act`` never changes the fitted state, so an
answer does not depend on which episodes came before it. Fitted on all of a system's lines (as
``rlog parse-bench`` does), this is the batch algorithm above; fitted on a training split, a
message of the test split is generalised by the training templates.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any, Sequence

from rlog_env.agents.baselines._common import TemplateParser, clip, plural, task_kind
from rlog_env.tasks import THINK_FIRST, Sample

VARIABLE = "<*>"
_SPAN = "\x00"  # stands for a masked span until the message is cut into pieces
DELIMITERS = ",;:=()[]{}\"'|<>"
_PIECE = re.compile(rf"\s+|[{re.escape(DELIMITERS)}]|[^\s{re.escape(DELIMITERS)}]+")
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# Top-level domains a host name ends in: the generic ones and common country codes.
TOP_LEVEL_DOMAINS = frozenset(
    "com net org edu gov mil int info biz io local lan localdomain arpa uk de jp cn hk fr ru br it nl "
    "au ca es se ch pl kr tw in us eu at be dk fi no cz pt gr ro hu il mx ar za nz sg my th vn id tr".split())

# (name, regular expression, why the span is a variable), applied in this order to whole spans.
SPAN_RULES: tuple[tuple[str, str, str], ...] = (
    ("DATE", rf"\b(?:(?:{_DAYS}),? )?(?:{_MONTHS}) +\d{{1,2}}(?: \d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?)?"
             rf"(?: \d{{4}})?\b", "a date"),
    ("PATH", r"(?<![\w.:/~-])(?:[A-Za-z][\w+.-]*://[^\s\"'<>]+|~?(?:/[^\s\"'()\[\]{}<>,;/]+){2,}/?)",
     "a URL or a path"),
    ("UNIT", r"(?<![\w.])[-+]?\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|B|[mun]s|bytes?)(?!\w)", "a size or a duration"),
)
_SPANS = tuple((name, re.compile(pattern, re.IGNORECASE if name == "UNIT" else 0), why)
               for name, pattern, why in SPAN_RULES)
_EMPTY = re.compile(r"(?<=\s)(?:\(\)|\[\]|\{\}|\"\"|'')(?=[\s,;:]|$)")
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]{8,}")
_HOST = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\.?")
_RUN = re.compile(r"<\*>(?:(?:\s+|,\s*)<\*>)+")
MIN_CONSTANT_TOKENS = 2  # a subsuming template has at least this many constant tokens


def variable_piece(piece: str) -> str | None:
    """Why a piece (no whitespace, no delimiter) is a variable, or ``None`` when it is not."""
    if any(c.isdigit() for c in piece):
        return "holds a digit"
    if "/" in piece and piece != "/":
        return "holds a /"
    if _HEX.fullmatch(piece):
        return "a hexadecimal string"
    if _HOST.fullmatch(piece) and piece.rstrip(".").rsplit(".", 1)[-1].lower() in TOP_LEVEL_DOMAINS:
        return "a host name"
    return None


def mask(message: str) -> tuple[str, list[tuple[str, str]]]:
    """The template of ``message`` alone (step 1), and the ``(value, why)`` pairs masked."""
    found: list[tuple[str, str]] = []
    text = message.strip()
    for _, regex, why in _SPANS:
        def record(match: re.Match, why: str = why) -> str:
            found.append((match.group(0), why))
            return _SPAN
        text = regex.sub(record, text)

    def empty(match: re.Match) -> str:
        found.append((match.group(0), "an empty value"))
        return match.group(0)[0] + _SPAN + match.group(0)[1]
    text = _EMPTY.sub(empty, text)
    out = []
    for piece in _PIECE.findall(text):
        if piece == _SPAN:
            out.append(VARIABLE)
        elif piece.isspace() or piece in DELIMITERS:
            out.append(piece)
        else:
            why = variable_piece(piece) if _SPAN not in piece else "holds a masked span"
            if why is not None:
                found.append((piece, why))
            out.append(VARIABLE if why is not None else piece)
    return _RUN.sub(VARIABLE, "".join(out)), found


@lru_cache(maxsize=4096)
def _token_pattern(token: str) -> re.Pattern:
    return re.compile(".*?".join(map(re.escape, token.split(VARIABLE))) + r"\Z", re.DOTALL)


def _generality(tokens: Sequence[str]) -> int:
    return sum(VARIABLE in t for t in tokens)


def subsumes(general: Sequence[str], specific: Sequence[str]) -> bool:
    """Whether the template tokens ``general`` subsume ``specific`` (step 2)."""
    if len(general) != len(specific):
        return False
    variables = _generality(general)
    constants = len(general) - variables
    if constants < MIN_CONSTANT_TOKENS or constants < variables:
        return False
    return all(g == s or (VARIABLE in g and _token_pattern(g).match(s) is not None)
               for g, s in zip(general, specific))


class _SystemTemplates:
    """The fitted templates of one system, by token count, most general (then commonest) first."""

    def __init__(self, counts: Counter):
        self.counts = counts
        self.by_length: dict[int, list[tuple[str, list[str]]]] = {}
        for template in sorted(counts, key=lambda t: (-_generality(t.split(" ")), -counts[t])):
            tokens = template.split(" ")
            self.by_length.setdefault(len(tokens), []).append((template, tokens))
        self.final: dict[str, str] = {}
        for group in self.by_length.values():
            for i, (template, tokens) in enumerate(group):
                target = self._first_subsuming(group[:i], tokens)
                self.final[template] = template if target is None else self.final[target]

    @staticmethod
    def _first_subsuming(candidates, tokens) -> str | None:
        for template, general in candidates:
            if subsumes(general, tokens):
                return template
        return None

    def resolve(self, template: str) -> str:
        """The fitted template that subsumes ``template`` (itself when none does)."""
        known = self.final.get(template)
        if known is not None:
            return known
        tokens = template.split(" ")
        rank = (-_generality(tokens), 0)
        group = [(t, g) for t, g in self.by_length.get(len(tokens), ())
                 if (-_generality(g), -self.counts[t]) < rank]
        target = self._first_subsuming(group, tokens)
        return template if target is None else self.final[target]


class SubsumptionParser(TemplateParser):
    """Generic masking and template subsumption, one set of templates per system (tasks of kind
    ``template``). See the module docstring for the rules.

    Arguments:
        reasoning: the output format (``think-first``, ``answer-first`` or ``none``).
        name: the agent's name on the leaderboard.

    Fitted attributes: ``templates_`` (system -> the fitted templates), ``n_messages_`` (system
    -> number of training messages).
    """

    def __init__(self, reasoning: str = THINK_FIRST, name: str = "subsumption"):
        self.reasoning = reasoning
        self.name = name

    def fit(self, samples: Sequence[Sample]) -> "SubsumptionParser":
        """Mask every training message of a task of kind ``template``, per system; returns the parser."""
        self._check_params()
        counts: dict[str, Counter] = {}
        for sample in samples:
            if task_kind(sample.task) != self.kind:
                continue
            counts.setdefault(sample.domain, Counter())[mask(sample.logs)[0]] += 1
        self.templates_ = {domain: _SystemTemplates(c) for domain, c in counts.items()}
        self.n_messages_ = {domain: sum(c.values()) for domain, c in counts.items()}
        return self

    def parse(self, message: str, domain: str) -> dict[str, Any]:
        """The template of ``message`` in system ``domain``: ``template``, ``masked`` (step 1's
        template), ``masks`` (``(value, why)`` pairs) and ``trained`` (training messages)."""
        masked, masks = mask(message)
        fitted = getattr(self, "templates_", {}).get(domain)
        template = masked if fitted is None else fitted.resolve(masked)
        return {"template": template, "masked": masked, "masks": masks,
                "trained": getattr(self, "n_messages_", {}).get(domain, 0)}

    def explain(self, message: str, domain: str, result: dict[str, Any]) -> str:
        return _trace(message, domain, result)

def _trace(message: str, domain: str, result: dict[str, Any]) -> str:
    message = message.strip()
    steps = [f"The message from {domain or 'this system'} has {plural(len(message.split()), 'token')}: "
             f"\"{clip(message)}\"."]
    masks = result["masks"]
    if masks:
        shown = "; ".join(f"'{clip(value, 60)}' ({why})" for value, why in masks[:6])
        more = f" and {len(masks) - 6} more" if len(masks) > 6 else ""
        steps.append(f"Step 1, variables: {shown}{more}.")
    else:
        steps.append("Step 1, variables: no digit, path, date, size, hex string or host name to mask.")
    if result["template"] != result["masked"]:
        steps.append(f"Step 2, the more general template '{clip(result['template'], 120)}' seen among "
                     f"{plural(result['trained'], 'message')} of {domain} covers '{clip(result['masked'], 120)}', "
                     "so its extra constant text is a variable too.")
    elif result["trained"]:
        steps.append(f"Step 2, no more general template among {plural(result['trained'], 'message')} of "
                     f"{domain} covers it.")
    else:
        steps.append(f"Step 2, no messages of {domain or 'this system'} to compare with: the masked message is "
                     "the template.")
    steps.append(f"Template: {result['template']}")
    return "\n".join(steps)
