"""What the VeRL tests share: rlog_env's tiny tokenizer, saved as a model directory would be, and
VeRL's own tokenizer loaded from it (VeRL is imported only when a test asks for it)."""

from __future__ import annotations

import pytest

from rlog_env.training.tiny import TinyModelConfig, build_tokenizer


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    """rlog_env's tiny tokenizer (byte-level BPE, Qwen2.5's chat template), saved as a model dir would be."""
    path = tmp_path_factory.mktemp("tokenizer")
    build_tokenizer(TinyModelConfig(vocab_size=1024, corpus_episodes=5)).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir):
    from verl.utils import hf_tokenizer

    return hf_tokenizer(str(tokenizer_dir))
