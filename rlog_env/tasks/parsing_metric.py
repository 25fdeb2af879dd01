"""R-Log's token-level F1 for log parsing, written from its description and with its bugs fixed.

Both templates are tokenised as BERT's basic tokenizer does with case kept: split on
whitespace, then every punctuation character becomes its own token. From each token whatever
is not a word character or ``*`` is stripped and empty tokens are dropped, so ``<*>`` becomes
``*``.

Every reference token is either a *template word* or a *variable* (one per ``<*>``). A
template word is right when the prediction has it (case-insensitive, each prediction token used
once). A variable is right when the prediction contains ``*`` and the variable's value — found
by matching the reference template against the log message, ``<*>`` as groups, whitespace
normalised — has none of its tokens left among the prediction's tokens once the template words
have taken theirs (so an unreplaced value is caught, and a value that happens to equal a word of
the template is not). An empty value is right. The score is the F1 of the ``variable`` class
over the reference tokens (a wrong template word counts as a false variable); a reference with
no variable is scored on the ``template`` class.

Where the reference template does not match its message (a corrected template that no longer
fits the raw line, say), the values are unknown: a variable is then right whenever the
prediction contains ``*``. :attr:`ParsingScore.template_matched` records which case applied.

The released R-Log scorer labels tokens by looking for the literal ``<*>`` after stripping
punctuation, so it never sees a variable token and scores every template on its words alone;
the variable rule above is what its paper describes.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

_STRIP = re.compile(r"[^\w*]+")
_WHITESPACE = re.compile(r"\s+")
VARIABLE = _VARIABLE = "<*>"  # a variable in a template


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
               (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(char: str) -> bool:
    # BERT splits every CJK ideograph into its own token (tokenize_chinese_chars=True).
    cp = ord(char)
    return any(low <= cp <= high for low, high in _CJK_RANGES)


def _is_punctuation(char: str) -> bool:
    # BERT's rule: every non-letter/number ASCII symbol, and every Unicode "P*" category.
    cp = ord(char)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(char).startswith("P")


# In printable ASCII (plus whitespace) every character that is not a letter, digit or space is
# BERT punctuation, so one regex tokenises such text exactly like the loop below, ~10x faster.
_ASCII_TEXT = re.compile(r"[\t-\r\x1c-\x7e]*")
_ASCII_TOKEN = re.compile(r"[A-Za-z0-9]+|[!-/:-@\[-`{-~]")


def basic_tokens(text: str) -> list[str]:
    """BERT basic tokenisation, case kept: whitespace split, then every punctuation character
    and every CJK ideograph becomes its own token."""
    if _ASCII_TEXT.fullmatch(text):
        return _ASCII_TOKEN.findall(text)
    tokens: list[str] = []
    for word in text.split():
        if word.isalnum() and word.isascii():  # fast path: no punctuation, no ideograph
            tokens.append(word)
            continue
        current = []
        for char in word:
            if _is_punctuation(char) or _is_cjk(char):
                if current:
                    tokens.append("".join(current))
                    current = []
                tokens.append(char)
            else:
                current.append(char)
        if current:
            tokens.append("".join(current))
    return tokens


# What stripping to word characters and `*` leaves of the ASCII basic tokens: the letter-digit runs,
# and of the one-character punctuation tokens only `*` and `_` (a word character).
_ASCII_SCORE_TOKEN = re.compile(r"[A-Za-z0-9]+|[*_]")


def score_tokens(text: str) -> list[str]:
    """The tokens the parsing score compares: basic tokens stripped to word characters and ``*``."""
    if _ASCII_TEXT.fullmatch(text):
        return _ASCII_SCORE_TOKEN.findall(text)
    out = []
    for token in basic_tokens(text):
        token = _STRIP.sub("", token)
        if token:
            out.append(token)
    return out


@dataclass(frozen=True)
class AnalysedTemplate:
    """A reference template split into labelled tokens, with its variables' values."""

    template_words: tuple[str, ...]  # lower-cased
    variable_values: tuple[tuple[str, ...], ...]  # lower-cased score tokens of each value
    matched: bool  # whether the template matched its message


def match_variables(template: str, message: str) -> list[str] | None:
    """The values of the template's ``<*>`` in ``message``, or ``None`` when it does not match.

    Both are whitespace-normalised. This is what ``re.fullmatch`` with a lazy ``(.*?)`` per
    ``<*>`` finds — each literal piece at its leftmost place, the last piece at the end — done
    with ``str.find`` in linear time, because that regex backtracks exponentially on a long
    message that a many-variable template does not match.
    """
    pieces = _WHITESPACE.sub(" ", template.strip()).split(_VARIABLE)
    text = _WHITESPACE.sub(" ", message.strip())
    first, last = pieces[0], pieces[-1]
    end = len(text) - len(last)
    if len(pieces) == 1:
        return [] if text == first else None
    if end < len(first) or not text.startswith(first) or not text.endswith(last):
        return None
    position, values = len(first), []
    for piece in pieces[1:-1]:
        found = text.find(piece, position, end)
        if found < 0:
            return None
        values.append(text[position:found])
        position = found + len(piece)
    values.append(text[position:end])
    return values


@lru_cache(maxsize=4096)  # bounded: evaluation memory must not follow the episode count
def analyse_template(template: str, message: str | None) -> AnalysedTemplate:
    """Label the tokens of a reference ``template`` and find its variables' values in ``message``."""
    pieces = template.split(_VARIABLE)
    words = tuple(t.lower() for piece in pieces for t in score_tokens(piece))
    n_variables = len(pieces) - 1
    values: tuple[tuple[str, ...], ...] = ((),) * n_variables
    matched = False
    found = match_variables(template, message) if message is not None else None
    if found is not None:
        matched = True
        values = tuple(tuple(t.lower() for t in score_tokens(v) if t != "*") for v in found)
    return AnalysedTemplate(words, values, matched)


@dataclass(frozen=True)
class ParsingScore:
    """The parsing F1 of one prediction and the counts behind it."""

    f1: float
    template_right: int
    template_total: int
    variables_right: int
    variables_total: int
    template_matched: bool


def lower_score_tokens(text: str) -> list[str]:
    """The score tokens of ``text``, lower-cased (what a prediction is compared by)."""
    if _ASCII_TEXT.fullmatch(text):  # lower-casing ASCII text is lower-casing each token
        return _ASCII_SCORE_TOKEN.findall(text.lower())
    return [t.lower() for t in score_tokens(text)]


def parsing_f1(prediction: str, template: str, message: str | None = None) -> ParsingScore:
    """R-Log's token-level F1 of a predicted template against the reference ``template``.

    ``message`` is the log message the template describes; without it no value is known and a
    variable is right whenever the prediction contains ``*``.
    """
    return analysed_f1(prediction, analyse_template(template, message))


def analysed_f1(prediction: str, ref: AnalysedTemplate) -> ParsingScore:
    """:func:`parsing_f1` against a template already analysed by :func:`analyse_template`."""
    return tokens_f1(lower_score_tokens(prediction), ref)


def tokens_f1(predicted: list[str], ref: AnalysedTemplate) -> ParsingScore:
    """:func:`analysed_f1` of a prediction already tokenised by :func:`lower_score_tokens`."""
    remaining = Counter(predicted)
    count = remaining.get  # not remaining[...]: Counter's __missing__ is a Python call
    template_right = 0
    for word in ref.template_words:
        if count(word, 0) > 0:
            remaining[word] -= 1
            template_right += 1
    variables_right = 0
    if count("*", 0) > 0:  # a `*` the template words did not use
        for value in ref.variable_values:
            if not any(count(token, 0) > 0 for token in value):
                variables_right += 1
    n_words, n_vars = len(ref.template_words), len(ref.variable_values)
    if n_vars:
        true_pos = variables_right
        false_neg = n_vars - variables_right
        false_pos = n_words - template_right  # a missed template word is labelled a variable
    elif n_words:
        true_pos = template_right
        false_neg = n_words - template_right
        false_pos = 0
    else:  # a template with no tokens at all: right only when the prediction has none either
        f1 = 1.0 if not predicted else 0.0
        return ParsingScore(f1, 0, 0, 0, 0, ref.matched)
    denominator = 2 * true_pos + false_neg + false_pos
    f1 = 2 * true_pos / denominator if denominator else 0.0
    return ParsingScore(f1, template_right, n_words, variables_right, n_vars, ref.matched)


def normalise_template(template: str) -> str:
    """A template with whitespace collapsed, for the exact-match metric."""
    # The same as _WHITESPACE.sub(" ", template.strip()), in C: `\s`, str.strip and str.split
    # all take whitespace to be what str.isspace says it is.
    return " ".join(template.split())
