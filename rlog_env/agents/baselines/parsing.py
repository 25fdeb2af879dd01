"""Log parsing with Drain (the ``drain3`` package) and masking rules.

:class:`DrainParser` keeps one drain3 ``TemplateMiner`` per system (``Sample.domain``), fitted
on that system's training messages. Before Drain sees a message, masking rules (drain3
``MaskingInstruction`` objects) replace what is certainly variable — URLs, UUIDs, HDFS block
ids, IP addresses, hexadecimal values, file paths, numbered ids and numbers — by named masks
(``<IP>``, ``<NUM>``, ...). Drain then groups messages by length and leading tokens and
generalises the tokens that differ within a group to ``<*>``. The answer is the template with
every mask written ``<*>``.

By default ``act`` never changes the fitted miners: for each message it computes what adding it
would give — the cluster it joins (Drain's own tree search at its similarity threshold) and the
template merged with it — without storing anything, so an answer does not depend on which
episodes came before it. ``online=True`` adds every message to its system's miner instead, as
Drain does on a stream (answers then depend on the order of episodes). A system with no training
messages gets an empty miner, created on the fly: its template is the masked message.

drain3 is an optional dependency (``pip install 'rlog_env[baselines]'``), imported on first use.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Sequence

from rlog_env.agents.baselines._common import TemplateParser, clip, plural, task_kind
from rlog_env.tasks import THINK_FIRST, Sample
DRAIN3_VERSION = "0.9.11"

# (mask name, regular expression, why the match is a variable). Applied in this order, each to
# the result of the previous one, exactly as drain3's LogMasker applies MaskingInstructions.
MASKING_RULES: tuple[tuple[str, str, str], ...] = (
    ("URL", r"\b[A-Za-z][\w+.-]*://[^\s\"'<>]+", "a URL"),
    ("UUID", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
     "a UUID (request, instance or pod id)"),
    ("BLK", r"\bblk_-?\d+\b", "an HDFS block id"),
    ("IP", r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|\.\d)", "an IPv4 address"),
    ("HEX", r"(?<!\w)0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}\b",
     "a hexadecimal value (address, register, hash)"),
    ("PATH", r"(?<![\w.~:/>])(?:~|\.{1,2})?(?:/[\w.\-@%+~]+)+/?", "a file path"),
    ("ID", r"(?<=[A-Za-z]_)\d+(?:_[A-Za-z0-9]+)*\b|(?<![\w-])(?=[\w:-]*\d)[A-Za-z0-9]+(?:[-:][A-Za-z0-9]+){2,}(?![\w-])",
     "a numbered id (attempt, container, node location, pod name)"),
    ("NUM", r"(?<![A-Za-z0-9])[-+]?\d+(?:\.\d+)*(?![A-Za-z0-9])", "a number"),
)
_MASK_TOKEN = re.compile(r"<(?:" + "|".join(name for name, _, _ in MASKING_RULES) + r")>")
_COMPILED = tuple((name, re.compile(pattern), why) for name, pattern, why in MASKING_RULES)
_WHY = {name: why for name, _, why in MASKING_RULES}


def _import_drain3():
    try:
        import drain3  # noqa: F401
        from drain3.masking import MaskingInstruction
        from drain3.template_miner import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig
    except ImportError as exc:
        raise ImportError(
            "the Drain log-parsing baseline needs the drain3 package: "
            f"pip install 'rlog_env[baselines]' (drain3=={DRAIN3_VERSION})"
        ) from exc
    return TemplateMiner, TemplateMinerConfig, MaskingInstruction


def mask_message(message: str) -> tuple[str, list[tuple[str, str]]]:
    """``message`` with the masking rules applied, and the ``(mask name, value)`` pairs masked.

    Gives the same text as drain3's ``LogMasker`` with :data:`MASKING_RULES`.
    """
    found: list[tuple[str, str]] = []
    for name, regex, _ in _COMPILED:
        def record(match: re.Match, name: str = name) -> str:
            found.append((name, match.group(0)))
            return f"<{name}>"
        message = regex.sub(record, message)
    return message, found


def to_wildcards(template: str) -> str:
    """A drain3 template with every named mask (``<IP>``, ``<NUM>``, ...) written ``<*>``."""
    return _MASK_TOKEN.sub("<*>", template)


class DrainParser(TemplateParser):
    """Drain with masking rules, one template miner per system (tasks of kind ``template``).

    Arguments:
        reasoning: the output format (``think-first``, ``answer-first`` or ``none``).
        sim_th: Drain's similarity threshold (share of equal tokens to join a cluster).
        depth: Drain's parse-tree depth (drain3's ``drain_depth``, counting the length level).
        max_children: the most children of a parse-tree node.
        online: add each message seen in ``act`` to its miner (Drain's streaming mode; answers
            then depend on episode order). Off by default: ``act`` changes nothing.
        name: the agent's name on the leaderboard.

    Fitted attributes: ``miners_`` (system -> drain3 ``TemplateMiner``), ``n_messages_``
    (system -> number of training messages).
    """

    def __init__(self, reasoning: str = THINK_FIRST, sim_th: float = 0.5, depth: int = 4,
                 max_children: int = 100, online: bool = False, name: str = "drain"):
        self.reasoning = reasoning
        self.sim_th = sim_th
        self.depth = depth
        self.max_children = max_children
        self.online = online
        self.name = name

    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 <= self.sim_th <= 1.0:
            raise ValueError(f"sim_th expects a share in [0, 1], got {self.sim_th!r}")
        if not isinstance(self.depth, int) or self.depth < 3:
            raise ValueError(f"depth expects an int of at least 3 (drain3's minimum), got {self.depth!r}")

    def _new_miner(self):
        TemplateMiner, TemplateMinerConfig, MaskingInstruction = _import_drain3()
        config = TemplateMinerConfig()
        config.drain_sim_th = self.sim_th
        config.drain_depth = self.depth
        config.drain_max_children = self.max_children
        config.masking_instructions = [MaskingInstruction(pattern, name)
                                       for name, pattern, _ in MASKING_RULES]
        config.mask_prefix, config.mask_suffix = "<", ">"
        return TemplateMiner(config=config)

    def fit(self, samples: Sequence[Sample]) -> "DrainParser":
        """One miner per system, fed that system's training messages in order.

        Samples of tasks of another kind are ignored. Returns the parser.
        """
        self._check_params()
        _import_drain3()
        miners: dict[str, Any] = {}
        counts: Counter = Counter()
        for sample in samples:
            if task_kind(sample.task) != self.kind:
                continue
            miner = miners.get(sample.domain)
            if miner is None:
                miner = miners[sample.domain] = self._new_miner()
            miner.add_log_message(sample.logs.strip())
            counts[sample.domain] += 1
        self.miners_ = miners
        self.n_messages_ = dict(counts)
        return self

    # -- answering -------------------------------------------------------------------------
    def parse(self, message: str, domain: str) -> dict[str, Any]:
        """The template of ``message`` in system ``domain`` and how Drain reached it.

        Returns ``template`` (with ``<*>``), ``masked`` (the message after masking), ``masks``
        (``(name, value)`` pairs), ``cluster_id`` and ``cluster_size`` (``None`` and 0 for a new
        cluster), ``varied`` (tokens Drain generalised because they differ within the cluster),
        ``clusters`` and ``trained`` (the miner's cluster and training-message counts).
        """
        message = message.strip()
        miners = getattr(self, "miners_", None)
        if miners is None:
            _import_drain3()
            miners = {}
        miner = miners.get(domain)
        if miner is None and self.online:
            if not hasattr(self, "miners_"):
                self.miners_, self.n_messages_ = {}, {}
            miner = self.miners_[domain] = self._new_miner()
        masked, masks = mask_message(message)
        clusters = len(miner.drain.clusters) if miner is not None else 0
        trained = getattr(self, "n_messages_", {}).get(domain, 0)
        if miner is None:
            tokens = masked.split()
            return {"template": to_wildcards(" ".join(tokens)), "masked": masked, "masks": masks,
                    "cluster_id": None, "cluster_size": 0, "varied": [], "clusters": 0,
                    "trained": 0}
        drain = miner.drain
        tokens = drain.get_content_as_tokens(masked)
        if self.online:
            before = {c.cluster_id: c.log_template_tokens for c in drain.clusters}
            cluster, _ = drain.add_log_message(masked)
            previous = before.get(cluster.cluster_id)
            template_tokens = list(cluster.log_template_tokens)
            size = cluster.size - 1  # the size before this message
            cluster_id = cluster.cluster_id if previous is not None else None
        else:
            cluster = drain.tree_search(drain.root_node, tokens, drain.sim_th, False)
            if cluster is None:
                template_tokens, size, cluster_id = list(tokens), 0, None
            else:
                template_tokens = drain.create_template(tokens, cluster.log_template_tokens)
                size, cluster_id = cluster.size, cluster.cluster_id
        varied = [tok for tok, tpl in zip(tokens, template_tokens)
                  if tpl == drain.param_str and not _MASK_TOKEN.fullmatch(tok)]
        return {"template": to_wildcards(" ".join(template_tokens)), "masked": masked,
                "masks": masks, "cluster_id": cluster_id, "cluster_size": size, "varied": varied,
                "clusters": clusters, "trained": trained}

    def explain(self, message: str, domain: str, result: dict[str, Any]) -> str:
        return _trace(message, domain, result)

def _trace(message: str, domain: str, result: dict[str, Any]) -> str:
    message = message.strip()
    steps = [f"The message from {domain or 'this system'} has {plural(len(message.split()), 'token')}: "
             f"\"{clip(message)}\"."]
    masks = result["masks"]
    if masks:
        by_kind: dict[str, list[str]] = {}
        for name, value in masks:
            by_kind.setdefault(name, []).append(value)
        parts = []
        for name, values in by_kind.items():
            shown = ", ".join(f"'{clip(v, 60)}'" for v in values[:4])
            more = f" and {len(values) - 4} more" if len(values) > 4 else ""
            parts.append(f"{shown}{more} ({_WHY[name]})")
        steps.append("Step 1, certain variables: masked " + "; ".join(parts) + ".")
    else:
        steps.append("Step 1, certain variables: no IP, number, hex value, path or id to mask.")
    if result["cluster_id"] is None:
        if result["trained"]:
            steps.append(f"Step 2, Drain: no cluster among the {plural(result['clusters'], 'template')} "
                         f"learnt from {plural(result['trained'], 'training message')} of {domain} is "
                         "similar enough, so the message starts a cluster of its own and its template "
                         "is the masked message.")
        else:
            steps.append(f"Step 2, Drain: no training messages of {domain or 'this system'}, so the "
                         "template is the masked message.")
    else:
        steps.append(f"Step 2, Drain: the message joins cluster #{result['cluster_id']} of {domain}, "
                     f"which holds {plural(result['cluster_size'], 'training message')} "
                     f"(of {result['trained']}, in {plural(result['clusters'], 'cluster')}).")
        if result["varied"]:
            shown = ", ".join(f"'{clip(v, 40)}'" for v in result["varied"][:6])
            steps.append(f"Step 3, tokens that vary within the cluster become <*>: {shown}.")
        else:
            steps.append("Step 3, every other token is constant within the cluster, so it stays.")
    steps.append(f"Template: {result['template']}")
    return "\n".join(steps)
