"""A tiny, randomly initialised chat model for laptops and CI, built offline.

``init_tiny(out_dir)`` writes an ordinary transformers checkpoint (a small Llama, a byte-level
BPE tokenizer trained on the simulator's text, Qwen2.5's chat template, a model card) that
``AutoModelForCausalLM`` and :class:`~rlog_env.agents.transformers_agent.TransformersAgent`
load like any other. Its weights are random: it exists so the training pipeline and the agents
run end to end on a CPU. Torch and transformers are imported when a model is built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

from rlog_env.agents.models import import_llm, make_readable, replace_directory
from rlog_env.tasks import TASKS
from rlog_env.tasks.formats import TAGS

BOS = "<|im_start|>"
EOS = "<|im_end|>"
PAD = "<|pad|>"
ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS = (ENDOFTEXT, BOS, EOS, PAD)  # ids 0, 1, 2, 3
CORPUS_SOURCE = "sim"  # the source whose training samples the tokenizer is trained on

# Qwen2.5's chat template, byte for byte as TRL ships it (trl/chat_templates/qwen2_5.jinja;
# Apache-2.0, the Qwen team): ChatML that renders tools and tool calls in the Hermes convention
# (<tool_call>…</tool_call>, <tool_response>…</tool_response>) and inserts no <think>. TRL parses
# the tool calls of a generation only for chat templates it recognises, so multi-turn GRPO
# (rlog_env.integrations.trl) needs exactly this text. Every prompt here brings its own system
# message, so the template's default one ("You are Qwen…") never appears.
CHAT_TEMPLATE = (Path(__file__).with_name("qwen2_5_chat_template.jinja")).read_text(encoding="utf-8")
# Tool-calling markers: single ordinary tokens, like the reasoning tags (TRL decodes with
# skip_special_tokens=True and parses the calls from the decoded text).
TOOL_TAGS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
ADDED_TAGS = TAGS + TOOL_TAGS
INCIDENT_CORPUS_EPISODES = 4  # incidents per investigation task in the tokenizer's corpus


def corpus_tasks() -> tuple[str, ...]:
    """The tasks whose text the tokenizer is trained on: every registered task that
    :data:`CORPUS_SOURCE` serves and that reasoning trajectories can be written for."""
    from rlog_env.datasets.reasoning import reasoning_tasks

    return reasoning_tasks(CORPUS_SOURCE)


def _positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"TinyModelConfig expects {name} to be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True)
class TinyModelConfig:
    """The sizes of the tiny model and of its tokenizer's corpus.

    Arguments:
        vocab_size: tokens in the vocabulary, the special tokens and the reasoning tags
            included (at least 512: the 256 bytes plus room for merges).
        hidden_size: width of the model; a multiple of ``2 * num_heads`` (RoPE needs an even
            head size).
        num_layers: decoder layers.
        num_heads: attention heads (as many key/value heads: plain multi-head attention).
        max_positions: the longest sequence, prompt and completion together.
        corpus_episodes: simulator samples per task (:func:`corpus_tasks`) that the
            tokenizer is trained on.
        seed: seeds the weights; the tokenizer's training is deterministic anyway.
    """

    vocab_size: int = 4096
    hidden_size: int = 256
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 8192
    corpus_episodes: int = 200
    seed: int = 0

    def __post_init__(self) -> None:
        _positive_int("vocab_size", self.vocab_size, 512)
        if self.vocab_size > 1 << 20:
            raise ValueError(f"TinyModelConfig expects vocab_size <= {1 << 20}, got {self.vocab_size}")
        _positive_int("hidden_size", self.hidden_size, 8)
        _positive_int("num_layers", self.num_layers)
        _positive_int("num_heads", self.num_heads)
        if self.hidden_size % (2 * self.num_heads):
            raise ValueError(f"TinyModelConfig expects hidden_size to be a multiple of 2 * num_heads "
                             f"(= {2 * self.num_heads}), got hidden_size={self.hidden_size}; "
                             "RoPE needs an even head size")
        _positive_int("max_positions", self.max_positions, 16)
        _positive_int("corpus_episodes", self.corpus_episodes)
        _positive_int("seed", self.seed, 0)

    @property
    def intermediate_size(self) -> int:
        """The MLP width: 8/3 of the hidden size (SwiGLU's usual ratio), rounded up to 64."""
        return -(-self.hidden_size * 8 // 3 // 64) * 64 if self.hidden_size >= 64 else 4 * self.hidden_size


def init_tiny(out_dir: str | os.PathLike, *, vocab_size: int = 4096, hidden_size: int = 256,
              num_layers: int = 4, num_heads: int = 4, max_positions: int = 8192,
              corpus_episodes: int = 200, seed: int = 0, overwrite: bool = False) -> Path:
    """Build the tiny model into ``out_dir`` and return its path; nothing is downloaded::

        path = init_tiny("models/tiny")
        agent = TransformersAgent(path)  # rlog_env.agents.transformers_agent

    Files: ``config.json``, ``generation_config.json``, ``model.safetensors``,
    ``tokenizer.json``, ``tokenizer_config.json`` (with the chat template) and a ``README.md``
    model card. The same arguments and seed give byte-identical files. The checkpoint is
    written into a hidden temporary directory beside ``out_dir`` and renamed into place when
    complete, so an interrupted build leaves no half-written model.

    Raises ``ValueError`` for a bad size, ``FileExistsError`` when ``out_dir`` exists and is
    not empty (unless ``overwrite``), ``ImportError`` naming the extra without torch or
    transformers.
    """
    config = TinyModelConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers,
                             num_heads=num_heads, max_positions=max_positions,
                             corpus_episodes=corpus_episodes, seed=seed)
    return build_tiny(config, out_dir, overwrite=overwrite)


def build_tiny(config: TinyModelConfig, out_dir: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """:func:`init_tiny` from a :class:`TinyModelConfig`."""
    if not isinstance(config, TinyModelConfig):
        raise TypeError(f"build_tiny expects a TinyModelConfig, got {type(config).__name__}")
    torch, transformers = import_llm("the tiny model (rlog_env.training.tiny)")
    final = Path(out_dir).expanduser().absolute()
    if final.exists() and not final.is_dir():
        raise FileExistsError(f"init_tiny expects out_dir to be a directory, got the file {final}")
    if final.is_dir() and any(final.iterdir()) and not overwrite:
        raise FileExistsError(f"init_tiny refuses to write into the non-empty directory {final}; "
                              "choose another out_dir or pass overwrite=True (--overwrite) to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)

    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        tokenizer = build_tokenizer(config)
        model = build_model(config, tokenizer, torch, transformers)
        model.save_pretrained(tmp, safe_serialization=True)
        # save_jinja_files=False: the chat template goes into tokenizer_config.json itself.
        tokenizer.save_pretrained(tmp, save_jinja_files=False)
        parameters = sum(p.numel() for p in model.parameters())
        (tmp / "README.md").write_text(_model_card(config, parameters, len(tokenizer), transformers.__version__),
                                       encoding="utf-8")
        make_readable(tmp)
        replace_directory(tmp, final)  # an empty old one, or overwrite=True
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# --------------------------------------------------------------------------------------------
# The tokenizer


def corpus(episodes: int) -> Iterator[str]:
    """The tokenizer's training text: ``episodes`` simulator training samples of each of
    :func:`corpus_tasks`, each as its think-first prompt, its answer-first system text and its reasoning trajectory
    (:mod:`rlog_env.datasets.reasoning`) written as a think-first completion — so the operator
    prose a model is taught, the references and the reasoning tags are all in the corpus."""
    from rlog_env.datasets import load_source
    from rlog_env.datasets.reasoning import build_trajectory
    from rlog_env.tasks import THINK_FIRST, get_task

    for name in corpus_tasks():
        source = load_source(CORPUS_SOURCE, name, split="train")
        think_first, answer_first = get_task(name), get_task(name, "answer-first")
        for index in range(episodes):
            sample = source[index]
            yield think_first.prompt(sample)
            yield answer_first.messages(sample)[0]["content"]
            yield build_trajectory(sample).completion(THINK_FIRST)
    yield from investigation_corpus(INCIDENT_CORPUS_EPISODES)


def investigation_corpus(episodes: int) -> Iterator[str]:
    """Investigation text for the tokenizer: for ``episodes`` easy simulator incidents of each
    investigation task, the system message and brief, the tools as the chat template lists
    them (JSON schemas), tool calls as the template writes them, the tools' outputs and the
    reference answer."""
    from rlog_env.datasets.incidents import open_incidents
    from rlog_env.datasets.sim.incident_model import incident_facts
    from rlog_env.datasets.sim.tools import TOOL_SCHEMAS, call_tool, tools_prompt
    from rlog_env.tasks import INVESTIGATIONS, Case, get_investigation

    incidents = open_incidents("sim", "train", difficulty="easy")
    schemas = "\n".join(json.dumps(schema) for schema in TOOL_SCHEMAS)
    for name in INVESTIGATIONS:
        task = get_investigation(name)
        yield task.system_message(tools_prompt(), 12)
        for index in range(episodes):
            incident = incidents[index]
            facts = incident_facts(incident)
            yield schemas  # as often as a prompt carries them, so BPE learns their pieces
            yield task.brief(Case(incident.alert, incident.start, incident.end, incidents.categories, facts))
            component = incident.components[0].name
            for tool, arguments in (("list_components", {}), ("templates", {"component": component}),
                                    ("search", {"pattern": "error|fail", "limit": 10})):
                yield json.dumps({"name": tool, "arguments": arguments})
                yield call_tool(incident, tool, arguments)
            yield task.reference_completion(facts)


def build_tokenizer(config: TinyModelConfig):
    """A ``PreTrainedTokenizerFast``: byte-level BPE trained on :func:`corpus`, ChatML template.

    It follows SmolLM2's conventions: ChatML (``<|im_start|>role\\ncontent<|im_end|>\\n``),
    ``<|im_end|>`` the end of sequence, ``<|pad|>`` the padding, ``<|im_start|>`` the beginning
    of sequence (never added automatically: the chat template writes it); the chat template is
    Qwen2.5's (:data:`CHAT_TEMPLATE`). The reasoning tags
    (:data:`~rlog_env.tasks.formats.TAGS`) and the tool-calling markers (:data:`TOOL_TAGS`) are
    single *ordinary* added tokens: TRL decodes completions with ``skip_special_tokens=True``,
    which would strip special ones.
    """
    _, transformers = import_llm("the tiny model (rlog_env.training.tiny)")
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size - len(ADDED_TAGS),
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The tags become single added tokens (the last ids), matched before BPE: the merges are
    # learned on the text between them, so none is spent on pieces of a tag.
    tags = re.compile("|".join(re.escape(tag) for tag in ADDED_TAGS))
    pieces = (piece for text in corpus(config.corpus_episodes) for piece in tags.split(text) if piece)
    backend.train_from_iterator(pieces, trainer=trainer)
    backend.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in ADDED_TAGS])

    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=ENDOFTEXT,
        model_max_length=config.max_positions,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    _check_tokenizer(tokenizer, config)
    return tokenizer


def _check_tokenizer(tokenizer, config: TinyModelConfig) -> None:
    if len(tokenizer) > config.vocab_size:
        raise RuntimeError(f"the tiny tokenizer has {len(tokenizer)} tokens, more than vocab_size={config.vocab_size}")
    special = set(tokenizer.all_special_tokens)
    for tag in ADDED_TAGS:
        ids = tokenizer.encode(tag, add_special_tokens=False)
        if len(ids) != 1 or tag in special:
            raise RuntimeError(f"the tiny tokenizer encodes {tag!r} as {ids} (special: {tag in special}); "
                               "expected one ordinary token")
    text = '<think>a b</think><tool_call>\n{"name": "count", "arguments": {}}\n</tool_call><answer>normal</answer>'
    ids = tokenizer.encode(text, add_special_tokens=False)
    if tokenizer.decode(ids, skip_special_tokens=True) != text:
        raise RuntimeError("the tiny tokenizer does not round-trip the reasoning tags")


# --------------------------------------------------------------------------------------------
# The model


def build_model(config: TinyModelConfig, tokenizer, torch, transformers):
    """A float32 Llama with tied embeddings, initialised under ``torch.manual_seed(config.seed)``
    (the global RNG state is restored afterwards)."""
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in
           (("bos", BOS), ("eos", EOS), ("pad", PAD))}
    llama = transformers.LlamaConfig(
        vocab_size=config.vocab_size,
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        initializer_range=0.02,
        tie_word_embeddings=True,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=ids["bos"],
        eos_token_id=ids["eos"],
        pad_token_id=ids["pad"],
        use_cache=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = transformers.LlamaForCausalLM(llama).to(torch.float32)
    model.generation_config = transformers.GenerationConfig(
        bos_token_id=ids["bos"], eos_token_id=ids["eos"], pad_token_id=ids["pad"])
    model.eval()
    return model


# --------------------------------------------------------------------------------------------
# Helpers


def tiny_info(path: str | os.PathLike) -> dict:
    """What a built tiny model is: its sizes and its parameter count, read from its files."""
    from safetensors import safe_open

    path = Path(path)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    parameters = 0
    with safe_open(path / "model.safetensors", framework="np") as tensors:
        for key in tensors.keys():
            count = 1
            for size in tensors.get_slice(key).get_shape():
                count *= size
            parameters += count
    return {"path": str(path), "parameters": parameters, "vocab_size": config["vocab_size"],
            "hidden_size": config["hidden_size"], "num_layers": config["num_hidden_layers"],
            "num_heads": config["num_attention_heads"], "intermediate_size": config["intermediate_size"],
            "max_positions": config["max_position_embeddings"],
            "files": sorted(p.name for p in path.iterdir() if p.is_file())}


def _model_card(config: TinyModelConfig, parameters: int, tokens: int, transformers_version: str) -> str:
    sizes = asdict(config)
    tasks = [TASKS[name].title.lower() for name in corpus_tasks()]
    task_list = ", ".join(tasks[:-1]) + (" and " if len(tasks) > 1 else "") + tasks[-1]
    lines = [
        "# rlog_env tiny model (untrained)",
        "",
        "A tiny Llama-architecture causal language model built offline by "
        "`rlog_env.training.tiny.init_tiny` (`rlog model init-tiny`). **Its weights are random "
        "(an untrained initialisation)**: it produces meaningless text until trained. It exists so "
        "that the rlog_env training pipeline (SFT, GRPO) and the local-model agents run end to end "
        "in seconds on a laptop or in CI; its scores say nothing about what a real model can do.",
        "",
        "## Model",
        "",
        f"- Architecture: `LlamaForCausalLM`, {config.num_layers} layers, hidden size {config.hidden_size}, "
        f"{config.num_heads} attention heads (as many key/value heads), MLP width {config.intermediate_size}, "
        f"RoPE, RMSNorm, tied input/output embeddings, up to {config.max_positions} positions.",
        f"- Parameters: {parameters:,} ({parameters / 1e6:.2f} M), float32 safetensors.",
        f"- Initialisation: transformers' default (normal, std 0.02) under `torch.manual_seed({config.seed})`; "
        "the same arguments and seed give byte-identical files.",
        "",
        "## Tokenizer",
        "",
        f"- Byte-level BPE (`tokenizers`), {tokens} tokens, trained on text from the rlog_env log "
        f"simulator only: {config.corpus_episodes} training samples of each task ({task_list}), "
        "each as its think-first prompt, its answer-first system text and its reasoning "
        "trajectory wrapped in the reasoning tags; and "
        f"{INCIDENT_CORPUS_EPISODES} easy simulator incidents per investigation task (system message, brief, "
        "tool schemas, tool calls and outputs, reference answer). No other text; no download.",
        "- Chat template: Qwen2.5's, exactly as TRL ships it (ChatML, `<|im_start|>role\\ncontent<|im_end|>\\n`, "
        "generation prompt `<|im_start|>assistant\\n`; tools listed in the system message, tool calls "
        "written as `<tool_call>` JSON and tool results as `<tool_response>` in a user turn).",
        "- Special tokens: `<|endoftext|>` (unknown), `<|im_start|>` (beginning of sequence, written by the "
        "chat template, never added automatically), `<|im_end|>` (end of sequence), `<|pad|>` (padding).",
        "- `<think>`, `</think>`, `<answer>`, `</answer>`, `<tool_call>`, `</tool_call>`, `<tool_response>` and "
        "`</tool_response>` are single ordinary (not special) added tokens, so they survive decoding with "
        "`skip_special_tokens=True`.",
        "",
        "## Build arguments",
        "",
        "```json",
        json.dumps(sizes, indent=2),
        "```",
        "",
        f"Built with transformers {transformers_version}. Licence: same as rlog_env.",
        "",
    ]
    return "\n".join(lines)
