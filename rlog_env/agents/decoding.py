"""Batched decoding for a causal language model that drops each sequence once it has ended.

``transformers``' ``generate`` keeps every sequence of a batch in every step until the last one
ends (or the budget runs out), feeding the finished ones padding. On a CPU a decoding step costs
about as much per sequence as it holds (reading its key/value cache dominates), so one answer that
runs to ``max_new_tokens`` makes its whole batch pay for that length: in the simulator's
anomaly-detection episodes, half of the sequence-steps of a reasoning model's batches of 16 were
spent on sequences that had already ended. :func:`decode` removes a sequence from the batch (and
its rows from the cache) on the step it ends.

It covers what :class:`~rlog_env.agents.transformers_agent.TransformersAgent` asks for: greedy
decoding, or sampling with a temperature and a nucleus (top-p) cut-off, with left-padded prompts.
"""

from __future__ import annotations

import inspect


def decode(model, input_ids, attention_mask, *, max_new_tokens: int, eos_ids: set[int],
           temperature: float = 0.0, top_p: float = 1.0) -> list[list[int]]:
    """The new tokens of each (left-padded) prompt, in order: up to and including the first token
    of ``eos_ids``, or ``max_new_tokens`` of them. ``temperature`` 0 is greedy; above it, tokens
    are sampled from the global torch generator (seed it for reproducible samples)."""
    import torch

    batch = input_ids.shape[0]
    tokens: list[list[int]] = [[] for _ in range(batch)]
    if batch == 0 or max_new_tokens < 1:
        return tokens
    live = torch.arange(batch, device=input_ids.device)   # batch row -> prompt index
    eos = torch.tensor(sorted(eos_ids), dtype=input_ids.dtype, device=input_ids.device)
    # Positions count the real tokens only, so a left-padded prompt is positioned as it would be alone.
    # (Padding gets position 1, as ``generate`` gives it: it is masked out either way.)
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
    takes = inspect.signature(model.forward).parameters
    cached = "cache" if "cache" in takes else "past_key_values"  # older transformers: past_key_values
    # The prompt's pass computes the vocabulary's logits for its last position only, where it can.
    last = {"logits_to_keep": 1} if "logits_to_keep" in takes else {}
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions, use_cache=True, **last)
    cache, mask = getattr(out, cached), attention_mask
    for step in range(max_new_tokens):
        chosen = _choose(out.logits[:, -1, :], temperature, top_p)
        for row, token in zip(live.tolist(), chosen.tolist()):
            tokens[row].append(token)
        going = ~torch.isin(chosen, eos)
        if step == max_new_tokens - 1 or not going.any():
            break
        if not going.all():
            keep = going.nonzero().squeeze(-1)
            cache.batch_select_indices(keep)
            live, mask, chosen = live[keep], mask[keep], chosen[keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
        out = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=mask.long().sum(-1, keepdim=True) - 1,
                    use_cache=True, **{cached: cache})
    return tokens


def _choose(logits, temperature: float, top_p: float):
    """The next token of each row: the most likely, or a sample as ``generate`` draws it
    (temperature, then the smallest set of tokens whose probability reaches ``top_p``)."""
    import torch

    if temperature <= 0:
        return logits.argmax(dim=-1)
    scores = logits.float() / temperature
    if top_p < 1.0:
        ordered, order = torch.sort(scores, descending=False)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= (1 - top_p)
        drop[..., -1] = False  # the most likely token always stays
        scores = scores.masked_fill(drop.scatter(-1, order, drop), float("-inf"))
    return torch.multinomial(scores.softmax(dim=-1), num_samples=1).squeeze(-1)

