"""The closures of the ``hardened`` reward scheme: what it adds to ``rlog`` for each exploit.

``hardened`` keeps ``rlog``'s range, top values and judgement of an honest answer, and closes
the ways a policy under GRPO learns to score without being right (docs/rewards.md lists each
exploit, how ``rlog`` scores it and how ``hardened`` does). Each closure is stated against the
reference, so the reference always earns the top reward:

- **format** (every task, :func:`rlog_env.tasks.formats.parse_completion` with ``strict``): no
  other spelling of a tag anywhere (``<ANSWER>``, ``< answer >``), so a second answer in
  capitals or a think block inside the answer is a format error; under ``none`` no tag at all.
- **anomaly detection**: ``rlog``'s exact-label rule already makes an answer naming both labels
  wrong; ``hardened`` keeps it.
- **log parsing** (:meth:`ParsingContext.guard`): a template that is mostly ``<*>`` (more than half of
  its tokens, and a larger share than the reference's) says nothing about the message, and a
  template that still contains the whole raw message (when the reference does not) abstracted
  nothing: both earn 0, what a template sharing nothing with the reference earns.
- **free text** (:class:`TextContext`): BLEU has no penalty for length and ROUGE-1 clips each
  word at the reference's count, so stuffing, padding and pasting pay under ``rlog``. The
  ``hardened`` answer reward is the ``rlog`` one relative to the reference's own (so a short
  reference still tops) times three factors, each 1.0 for the reference and for an honest
  answer, each with a tolerance band so that ordinary writing is never penalised:

  - *repetition*: ``d``, the share of the answer's word bigrams that are distinct, against the
    reference's ``d_ref``: 1.0 from ``0.9 · d_ref`` up (a few repeated phrases are writing),
    0.0 at ``d_ref / 2`` and below (half the answer repeats itself: stuffing, not an
    explanation), linear between. Repeating the reference's frequent words, which ROUGE clips
    only at their reference counts, does not pay;
  - *copying*: ``k``, the share of the answer's word trigrams *not* found in the log window: 1.0
    from ``min(k_ref, 1/2)`` up (an answer may quote the logs for half its length, or as much
    as the reference does), falling linearly to 0.0 for an answer copied whole. The tasks ask
    to explain, diagnose or recommend: an answer that only repeats the logs (the whole window
    pasted, or one log message restated) does none of them and earns nothing;
  - *length*: an answer longer than twice the reference (in words) is scaled by
    ``2 · len(reference) / len(answer)``, as ``grounded`` does: BLEU has no penalty for length.

Plain Python, analysed once per reference and log window (cached), so ``hardened`` costs little
more than ``rlog``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from rlog_env.tasks.grounding import concision
from rlog_env.tasks.parsing_metric import analyse_template, normalise_template

# -- log parsing ----------------------------------------------------------------------------------
MOSTLY_VARIABLES = "mostly_variables"
COPIED_MESSAGE = "copied_message"


@dataclass(frozen=True)
class ParsingContext:
    """What the parsing closures need of a reference template and its message, once per group.

    ``tokens`` and ``stars``: the reference's score-token count and how many are ``*`` (one per
    ``<*>``, and any literal ``*``); ``raw``: the whitespace-normalised raw message when the
    copied-message closure applies (the reference has variables and does not itself contain the
    message), else empty.
    """

    tokens: int
    stars: int
    raw: str

    def guard(self, predicted: list[str], normalised_answer: str) -> str | None:
        """Which parsing closure applies to a predicted template, or ``None``.

        ``predicted``: the prediction's lower-cased score tokens (``*`` for each ``<*>``);
        ``normalised_answer``: the prediction with whitespace collapsed.
        """
        stars = predicted.count("*")
        # "more than half, and more than the reference's share", in integers: no rounding at the edge
        if stars * 2 > len(predicted) and stars * self.tokens > self.stars * len(predicted):
            return MOSTLY_VARIABLES
        if self.raw and self.raw in normalised_answer:
            return COPIED_MESSAGE
        return None


@lru_cache(maxsize=4096)  # like analyse_template: bounded, one entry per reference and message
def parsing_context(reference: str, message: str) -> ParsingContext:
    """The :class:`ParsingContext` of a reference template and its raw message (cached)."""
    analysed = analyse_template(reference, message or None)
    words, n_variables = analysed.template_words, len(analysed.variable_values)
    raw = normalise_template(message) if n_variables else ""
    if raw in normalise_template(reference):
        raw = ""
    return ParsingContext(len(words) + n_variables, words.count("*") + n_variables, raw)


# -- free text ------------------------------------------------------------------------------------
# The tolerance bands of the text factors (see the module docstring).
TOLERATED, DEGENERATE = 0.9, 0.5  # of the reference's distinct-bigram share
KEPT_ALLOWANCE = 0.5  # an answer may copy up to half its trigrams from the logs


def band(value: float, low: float, high: float) -> float:
    """1.0 at or above ``high``, 0.0 at or below ``low``, linear between."""
    if value >= high:
        return 1.0
    if value <= low:
        return 0.0
    return (value - low) / (high - low)


def _trigrams(words: list[str]):
    return zip(words, words[1:], words[2:])


def distinct_bigram_share(words: list[str]) -> float:
    """The share of the word bigrams of ``words`` that are distinct (1.0 under two bigrams)."""
    total = len(words) - 1
    if total < 2:
        return 1.0
    return len(set(zip(words, words[1:]))) / total


def copied_trigrams(words: list[str], log_trigrams: frozenset) -> int:
    """How many of the word trigrams of ``words`` are found in the log window."""
    if len(words) < 3 or not log_trigrams:
        return 0
    return sum(map(log_trigrams.__contains__, _trigrams(words)))  # map: the loop in C


def copied_share(words: list[str], log_trigrams: frozenset) -> float:
    """The share of the word trigrams of ``words`` found in the log window (0.0 without any)."""
    total = len(words) - 2
    return copied_trigrams(words, log_trigrams) / total if total > 0 else 0.0


@lru_cache(maxsize=256)  # a log window is scored by a whole GRPO group: analyse it once
def log_trigrams(logs: str) -> frozenset:
    """The word trigrams of a log window."""
    return frozenset(_trigrams(logs.split()))


class TextFactors(NamedTuple):  # a named tuple: built per answer, cheaper than a dataclass
    """The three ``hardened`` factors of one free-text answer, each in [0, 1]."""

    repetition: float
    copying: float
    length: float

    @property
    def product(self) -> float:
        return self.repetition * self.copying * self.length


class TextContext:
    """A reference and its log window analysed once for the ``hardened`` text factors."""

    __slots__ = ("_log_trigrams", "_reference_words", "_distinct", "_kept")

    def __init__(self, reference: str, logs: str):
        words = reference.split()
        self._log_trigrams = log_trigrams(logs)
        self._reference_words = len(words)
        self._distinct = distinct_bigram_share(words)
        # the share of its trigrams the reference does not copy, capped at the allowance of 1/2
        self._kept = min(KEPT_ALLOWANCE, 1.0 - copied_share(words, self._log_trigrams))

    def factors(self, words: list[str]) -> TextFactors:
        """The repetition, copying and length factors of an answer split into words (all 1.0 for
        the reference)."""
        repetition = band(distinct_bigram_share(words), self._distinct * DEGENERATE,
                          self._distinct * TOLERATED)
        copying = band(1.0 - copied_share(words, self._log_trigrams), 0.0, self._kept)
        length = concision(len(words), self._reference_words)
        return TextFactors(repetition, copying, length)


@lru_cache(maxsize=256)  # like text_reference: a GRPO group reuses one reference and window
def text_context(reference: str, logs: str) -> TextContext:
    """The analysed ``hardened`` context of a reference and its log window (cached)."""
    return TextContext(reference, logs)
