"""Output formats of a completion and the R-Log format check.

R-Log answers are written ``<think>…</think><answer>…</answer>`` (``think-first``, the
default); R-Log-fast writes the answer first (``answer-first``); X→Y baselines write only the
answer (``none``). This module decides whether a completion has the expected shape and pulls
the answer out of it. It knows nothing of tasks or rewards.
"""

from __future__ import annotations

from dataclasses import dataclass

THINK_FIRST = "think-first"
ANSWER_FIRST = "answer-first"
NO_TAGS = "none"
FORMATS = (THINK_FIRST, ANSWER_FIRST, NO_TAGS)

_TAGS = {
    THINK_FIRST: ("<think>", "</think>", "<answer>", "</answer>"),
    ANSWER_FIRST: ("<answer>", "</answer>", "<think>", "</think>"),
}


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


def parse_completion(completion: str, reasoning: str = THINK_FIRST) -> ParsedCompletion:
    """Split a completion into reasoning and answer under the R-Log format rule.

    The rule is R-Log's: each of the four tags occurs exactly once (case-sensitive) and in the
    expected order. Text before the first or after the last tag is allowed, as in the released
    reward. Under ``none`` the whole completion is the answer and it is well formed when it is
    not blank.
    """
    if not isinstance(completion, str):
        raise TypeError(f"a completion must be a str, got {type(completion).__name__}")
    if reasoning == NO_TAGS:
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
    first = completion[start_first + len(open_first) : end_first].strip()
    second = completion[start_second + len(open_second) : end_second].strip()
    if reasoning == THINK_FIRST:
        return ParsedCompletion(True, second, first)
    return ParsedCompletion(True, first, second)


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
