"""``rlog``: the reward R-Log released. Format +0.1 when each of the four tags occurs exactly once
in the expected order, else -1.0; the answer reward is the task's own (-1.0 for a malformed
completion or an empty answer); total = format + answer."""

from __future__ import annotations

from rlog_env.tasks.schemes.base import RewardScheme

RLOG = "rlog"


class RLogScheme(RewardScheme):
    """The released R-Log reward, bit for bit."""

    name = RLOG
    description = "is the released R-Log reward"
    scores_investigations = True
