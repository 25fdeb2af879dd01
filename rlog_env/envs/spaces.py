"""The text space of log observations and free-text answers.

Gymnasium's ``Text`` space accepts only the characters of its charset (letters and digits by
default), but real logs carry spaces, punctuation, newlines and any Unicode. :class:`LogText`
is a ``Text`` space (so vector environments batch it as text) that contains every string of
valid Unicode text up to its maximum length; it samples from printable ASCII plus a few
non-ASCII characters. One observation space and one action space are built per process and
shared by every environment (as the same object, so ``make`` costs nothing for them).
"""

from __future__ import annotations

import string
from typing import Any

from gymnasium.spaces import Text

MAX_OBSERVATION_CHARS = 1 << 22  # 4 Mi characters: far above any prompt the sources emit
MAX_ANSWER_CHARS = 1 << 22
SAMPLE_MAX_CHARS = 256  # random answers are short; a uniform length up to 4 Mi would be useless
_SAMPLING_CHARSET = string.printable + "äéßøñ→…—€中日"


class LogText(Text):
    """Every Unicode string of ``min_length`` to ``max_length`` characters.

    Unlike ``Text``, membership does not depend on the sampling charset: any ``str`` whose
    characters are Unicode scalar values (no lone surrogates) and whose length is in range
    belongs to the space. ``sample()`` draws short strings from a printable charset.
    """

    def __init__(self, max_length: int, *, min_length: int = 0, seed: Any = None):
        super().__init__(max_length, min_length=min_length, charset=_SAMPLING_CHARSET, seed=seed)

    def contains(self, x: Any) -> bool:
        if not isinstance(x, str) or not self.min_length <= len(x) <= self.max_length:
            return False
        try:
            x.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates are not text
            return False
        return True

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is None and probability is None:
            top = min(self.max_length, max(self.min_length, SAMPLE_MAX_CHARS))
            length = int(self.np_random.integers(self.min_length, top + 1))
            return super().sample(mask=(length, None))
        return super().sample(mask=mask, probability=probability)

    def __repr__(self) -> str:
        return f"LogText({self.min_length}, {self.max_length})"

    def __eq__(self, other: Any) -> bool:
        return (isinstance(other, LogText) and self.min_length == other.min_length
                and self.max_length == other.max_length)

    __hash__ = None  # spaces are mutable (their generator); equality is by bounds


OBSERVATION_SPACE = LogText(MAX_OBSERVATION_CHARS, min_length=1)
ACTION_SPACE = LogText(MAX_ANSWER_CHARS)

