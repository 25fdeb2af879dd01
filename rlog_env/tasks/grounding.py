"""The fact-grounded judgement of a free-text answer (reward scheme ``grounded``).

R-Log set out to remove hallucinations: answers that sound right but state values the logs
never showed. The ``grounded`` scheme scores a free-text answer by the key facts it states and
penalises the specific claims it invents:

- **facts**: each key fact is a tuple of accepted phrasings (the fact, then its synonyms); it
  is stated when any phrasing occurs in the answer as whole words, case-insensitively.
  ``recall`` = facts stated / facts.
- **invented claims**: numbers with units (``30000ms``, ``98%``, ``2 GB``), ip addresses, block
  ids and long hex ids, error codes (``ENOSPC``, ``AH00526``), dotted class names and CamelCase
  component names that the answer states but neither the logs nor the reference contain. Each
  costs :data:`CLAIM_PENALTY`.
- **concision**: an answer longer than twice the reference is scaled down by
  ``2 * len(reference) / len(answer)`` (in words), so pasting the whole log window, which
  contains many facts, does not beat a concise correct answer.

``grounded_score = max(0, recall - CLAIM_PENALTY * invented) * concision``, in [0, 1]; the
reference scores 1.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

CLAIM_PENALTY = 0.25
_CLAIMS = re.compile(
    r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"                       # ip, ip:port
    r"|\bblk_-?\d+\b"                                             # HDFS block ids
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # uuids
    r"|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b"         # long hex ids
    r"|\b\d+(?:\.\d+)?\s?(?:ms|us|ns|s|sec|secs|seconds?|min|mins|minutes?|h|hours?|days?|%|"
    r"[KMGT]i?B|bytes?|[KMG]bps|MB/s)(?![\w])"                    # numbers with units
    r"|\bE[A-Z]{3,}\b|\b[A-Z]{2,}\d{3,}\b"                        # errno names, error codes
    r"|\b(?:[a-z_][\w$]*\.){2,}[A-Z][\w$]*\b"                     # dotted class names
    r"|\b[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+\b",                       # CamelCase components
)


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _occurs(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` as whole words where it starts or ends with a word
    character ("98%" and "/data1/dfs/dn" match where they stand). Plain ``str.find``: a regex
    per phrase would be compiled anew for every simulated value."""
    need_start, need_end = _is_word(phrase[0]), _is_word(phrase[-1])
    start = text.find(phrase)
    while start >= 0:
        end = start + len(phrase)
        if ((not need_start or start == 0 or not _is_word(text[start - 1]))
                and (not need_end or end == len(text) or not _is_word(text[end]))):
            return True
        start = text.find(phrase, start + 1)
    return False


def states(text: str, fact: Sequence[str]) -> bool:
    """Whether ``text`` states ``fact`` (any of its phrasings, whole words, any case)."""
    return bool(stated_facts(text, (fact,)))


def stated_facts(text: str, facts: Iterable[Sequence[str]]) -> list[Sequence[str]]:
    """The facts ``text`` states, in order (as :func:`states` decides; the text is lowered once)."""
    lowered = text.lower()
    return [fact for fact in facts if any(phrase and _occurs(lowered, phrase.lower()) for phrase in fact)]


def claims(text: str) -> list[str]:
    """The specific claims in ``text``: numbers with units, ips, ids, error codes, class names."""
    return [m.group(0) for m in _CLAIMS.finditer(text)]


def concision(answer_words: int, reference_words: int) -> float:
    """1.0 for an answer up to twice the reference's length (in words), else
    ``2 * reference_words / answer_words``: pasting a long text does not pay (0.0 for no words;
    a reference of no words counts as one)."""
    if not answer_words:
        return 0.0
    return min(1.0, 2 * max(1, reference_words) / answer_words)


@dataclass(frozen=True)
class Grounding:
    """The grounded judgement of one answer."""

    score: float
    facts_stated: int
    facts_total: int
    invented_claims: tuple[str, ...]
    concision: float


def grounded_score(answer: str, reference: str, logs: str, facts: Sequence[Sequence[str]]) -> Grounding:
    """Score ``answer`` by the key ``facts`` it states and the claims it invents."""
    stated = len(stated_facts(answer, facts))
    recall = stated / len(facts) if facts else 1.0
    known = f"{logs}\n{reference}".lower()
    invented = tuple(dict.fromkeys(c for c in claims(answer) if c.lower() not in known))
    brevity = concision(len(answer.split()), len(reference.split()))
    score = max(0.0, recall - CLAIM_PENALTY * len(invented)) * brevity
    return Grounding(score, stated, len(facts), invented, brevity)
