"""Output formats of a completion and the R-Log format check.

R-Log answers are written ``<think>…</think><answer>…</answer>`` (``think-first``, the
default); R-Log-fast writes the answer first (``answer-first``); X→Y baselines write only the
answer (``none``). This module decides whether a completion has the expected shape and pulls
the answer out of it. It knows nothing of tasks or rewards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_FIRST = "think-first"
ANSWER_FIRST = "answer-first"
NO_TAGS = "none"
FORMATS = (THINK_FIRST, ANSWER_FIRST, NO_TAGS)

# The four tags of the R-Log format, in think-first order: the one definition every layer uses
# (the writer below, the tiny model's vocabulary, the model checks).
TAGS = ("<think>", "</think>", "<answer>", "</answer>")
_TAGS = {THINK_FIRST: TAGS, ANSWER_FIRST: TAGS[2:] + TAGS[:2]}


# Any spelling of the four tags: any case, whitespace inside the angle brackets. Under the strict
# rule (reward scheme ``hardened``) the only ones allowed are the four exact tags, once each.
# Possessive quantifiers: a "<" before a long run of whitespace is rejected without backtracking
# (with plain ``\s*/?\s*`` that run is split every way, quadratic in its length).
_TAG_VARIANT = re.compile(r"<\s*+/?+\s*+(?:think|answer)\s*+>", re.IGNORECASE)


def check_format(reasoning: str) -> str:
    """Return ``reasoning`` if it names a known format, else raise a ``ValueError`` with a hint."""
    if reasoning not in FORMATS:
        raise ValueError(
            f"reasoning expects one of {', '.join(map(repr, FORMATS))}, got {reasoning!r}; "
            "use 'think-first' for R-Log, 'answer-first' for R-Log-fast, 'none' for plain answers"
        )
    return reasoning


@dataclass(frozen=True)
class ParsedCompletion:
    """What a completion says: whether its shape is right, its answer and its reasoning.

    ``answer`` is the stripped text inside ``<answer>…</answer>`` (the whole stripped completion
    under ``none``), or ``None`` when the format is wrong. ``think`` is the stripped reasoning,
    or ``None`` when there is none.
    """

    well_formed: bool
    answer: str | None
    think: str | None


_MALFORMED = ParsedCompletion(False, None, None)


def parse_completion(completion: str, reasoning: str = THINK_FIRST,
                     strict: bool = False) -> ParsedCompletion:
    """Split a completion into reasoning and answer under the R-Log format rule.

    The rule is R-Log's: each of the four tags occurs exactly once (case-sensitive) and in the
    expected order. Text before the first or after the last tag is allowed, as in the released
    reward. Under ``none`` the whole completion is the answer and it is well formed when it is
    not blank.

    ``strict`` (the ``hardened`` reward scheme) also refuses every other spelling of a tag
    (``<ANSWER>``, ``< answer >``, ``</Think >``) anywhere in the completion: a second answer
    in capitals, or a think block nested in the answer, is a format error rather than text that
    the answer happens to contain. Under ``none`` strict refuses any tag: that format asks for
    the answer alone, so a completion with a think block does not pass its reasoning off as
    the answer.
    """
    if not isinstance(completion, str):
        raise TypeError(f"a completion must be a str, got {type(completion).__name__}")
    if reasoning == NO_TAGS:
        if strict and _has_tag_variants(completion, 0):
            return _MALFORMED
        answer = completion.strip()
        return ParsedCompletion(bool(answer), answer if answer else None, None)
    tags = _TAGS.get(reasoning)
    if tags is None:
        check_format(reasoning)  # raises with the hint
    open_first, close_first, open_second, close_second = tags
    # str.count is C-speed even on megabyte answers; more than one occurrence is a format error.
    if (completion.count(open_first) != 1 or completion.count(close_first) != 1
            or completion.count(open_second) != 1 or completion.count(close_second) != 1):
        return _MALFORMED
    start_first = completion.find(open_first)
    end_first = completion.find(close_first)
    start_second = completion.find(open_second)
    end_second = completion.find(close_second)
    # Four different tags never start at the same place, so "in order" is strictly increasing.
    if not start_first < end_first < start_second < end_second:
        return _MALFORMED
    if strict and _has_tag_variants(completion, 4):  # the four tags above, and no other spelling
        return _MALFORMED
    first = completion[start_first + len(open_first) : end_first].strip()
    second = completion[start_second + len(open_second) : end_second].strip()
    if reasoning == THINK_FIRST:
        return ParsedCompletion(True, second, first)
    return ParsedCompletion(True, first, second)


def _has_tag_variants(completion: str, allowed: int) -> bool:
    """Whether ``completion`` spells the think/answer tags more than ``allowed`` times in all
    (any case, any spacing). ``<`` absent means no tag at all: one C-speed scan decides."""
    if "<" not in completion:
        return False
    return len(_TAG_VARIANT.findall(completion)) > allowed


def format_instructions(reasoning: str) -> str:
    """The format rule, as the system message states it to the model."""
    check_format(reasoning)
    if reasoning == THINK_FIRST:
        return (
            "First reason step by step inside <think> </think>, then give only the final answer "
            "inside <answer> </answer>. Use each tag exactly once: "
            "<think> your reasoning </think><answer> your answer </answer>"
        )
    if reasoning == ANSWER_FIRST:
        return (
            "First give only the final answer inside <answer> </answer>, then explain it briefly "
            "inside <think> </think>. Use each tag exactly once: "
            "<answer> your answer </answer><think> your reasoning </think>"
        )
    return "Reply with the final answer only, without any tags or explanation."


def _untag(text: str) -> str:
    """``text`` with the four format tags defused, so quoted logs cannot break the format."""
    if "<" not in text:
        return text
    for tag in TAGS:
        if tag in text:
            text = text.replace(tag, tag.replace("<", "\u2039").replace(">", "\u203a"))
    return text


def write_completion(answer: str, think: str, reasoning: str = THINK_FIRST) -> str:
    """A completion in the ``reasoning`` format: ``<think>…</think><answer>…</answer>``
    (think-first), the answer first (answer-first), or the bare answer (none).

    The one writer of completions (baselines, reference completions, reasoning trajectories).
    A tag inside ``answer`` or ``think`` (quoted logs) is defused, so the result is well formed
    under its format.
    """
    check_format(reasoning)
    answer, think = _untag(answer).strip(), _untag(think).strip()
    if reasoning == NO_TAGS:
        return answer
    if reasoning == ANSWER_FIRST:
        return f"<answer>{answer}</answer><think>{think}</think>"
    return f"<think>{think}</think><answer>{answer}</answer>"


def unfenced(text: str) -> str:
    """``text`` stripped, without a Markdown code fence around it (```` ```json … ``` ````), as
    models often wrap the JSON of an answer or a tool call."""
    s = text.strip()
    if s.startswith("```"):
        s = s.strip("`").strip()
        if s[:4].lower() == "json":
            s = s[4:].strip()
    return s


def completion_text(completion: object) -> str:
    """The text of a completion as TRL passes it: a plain string, or chat messages.

    A conversational completion is a list of ``{"role", "content"}`` messages; their assistant
    contents are joined.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        parts = []
        for message in completion:
            if not isinstance(message, dict) or "content" not in message:
                raise TypeError(
                    "a conversational completion must be a list of {'role', 'content'} dicts, "
                    f"got an item {message!r:.80}"
                )
            if message.get("role", "assistant") == "assistant":
                content = message["content"]
                parts.append(content if isinstance(content, str) else str(content))
        return "".join(parts)
    raise TypeError(
        f"a completion must be a str or a list of chat messages, got {type(completion).__name__}"
    )
