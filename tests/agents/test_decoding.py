"""decode(): batched decoding that drops each sequence once it has ended, against transformers'
own generate() and against decoding each prompt alone, on a small random Llama."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rlog_env.agents.decoding import decode  # noqa: E402

PAD = 0


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                      initializer_range=0.2, pad_token_id=PAD, bos_token_id=1, eos_token_id=2)
    return transformers.LlamaForCausalLM(config).eval()


PROMPTS = [[5, 17, 33, 8, 91, 40, 12], [7, 7, 64], [22, 3, 58, 19, 76]]


def _left_padded(prompts):
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[PAD] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    return ids, mask


def _alone(model, prompt, **options):
    ids, mask = _left_padded([prompt])
    with torch.inference_mode():
        return decode(model, ids, mask, **options)[0]


def test_greedy_decoding_matches_generate(model):
    ids, mask = _left_padded(PROMPTS)
    with torch.inference_mode():
        ours = decode(model, ids, mask, max_new_tokens=12, eos_ids={96})
        theirs = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=12, do_sample=False,
                                eos_token_id=96, pad_token_id=PAD)
    # generate pads a sequence that ended; ours stops it at its end-of-sequence token.
    for row, tokens in enumerate(theirs[:, ids.shape[1]:].tolist()):
        end = tokens.index(96) + 1 if 96 in tokens else len(tokens)
        assert ours[row] == tokens[:end]


def test_a_sequence_leaves_its_batch_when_it_ends_and_the_others_go_on_unchanged(model):
    free = [_alone(model, p, max_new_tokens=16, eos_ids={96}) for p in PROMPTS]
    # End-of-sequence: the token the middle prompt writes third, so it ends early in the batch.
    eos = free[1][2]
    ids, mask = _left_padded(PROMPTS)
    with torch.inference_mode():
        batched = decode(model, ids, mask, max_new_tokens=16, eos_ids={eos})
    for prompt, tokens in zip(PROMPTS, batched):
        assert tokens == _alone(model, prompt, max_new_tokens=16, eos_ids={eos})
        assert tokens[-1] == eos or len(tokens) == 16
        assert eos not in tokens[:-1]  # up to and including the first end-of-sequence token
    assert len(batched[1]) == 3


def test_budget_and_empty_batches(model):
    ids, mask = _left_padded(PROMPTS)
    with torch.inference_mode():
        assert [len(t) for t in decode(model, ids, mask, max_new_tokens=1, eos_ids={96})] == [1, 1, 1]
        assert decode(model, ids[:0], mask[:0], max_new_tokens=4, eos_ids={96}) == []


def test_sampling_is_seeded_and_top_p_keeps_the_most_likely_token(model):
    ids, mask = _left_padded(PROMPTS)
    with torch.inference_mode():
        torch.manual_seed(3)
        first = decode(model, ids, mask, max_new_tokens=10, eos_ids={96}, temperature=1.5, top_p=0.9)
        torch.manual_seed(3)
        assert decode(model, ids, mask, max_new_tokens=10, eos_ids={96}, temperature=1.5, top_p=0.9) == first
        greedy = decode(model, ids, mask, max_new_tokens=10, eos_ids={96})
        assert first != greedy  # a hot temperature does sample
        # A nucleus that holds only the most likely token is greedy decoding, at any temperature.
        assert decode(model, ids, mask, max_new_tokens=10, eos_ids={96}, temperature=5.0, top_p=1e-9) == greedy
