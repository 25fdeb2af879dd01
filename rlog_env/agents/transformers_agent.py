"""A prompt-only agent over a local ``transformers`` causal language model.

::

    from rlog_env.agents.transformers_agent import TransformersAgent
    agent = TransformersAgent("smollm2-135m")           # a known model name, a path or a hub id
    answers = agent.act(observations)                   # one completion text per observation
    agent.last_usage_                                   # [{"prompt_tokens": .., "completion_tokens": ..}, ...]

- **Loading** happens on the first ``act`` (or ``load()``): the tokenizer and the model from a
  local directory or a hub id, safetensors only (``use_safetensors=True``: no pickle is ever
  unpickled; a directory with only ``pytorch_model.bin``/``*.pt``/``*.pkl`` weights is refused
  with :class:`rlog_env.agents.models.UnsafeModelError`), ``trust_remote_code`` off unless asked (with
  it off, an ``auto_map`` in the model's config.json runs none of the directory's Python files). A name of :data:`rlog_env.agents.models.KNOWN_MODELS`
  (``"smollm2-135m"``) that is not an existing path is fetched into the model cache first.
- **Prompts** are the observation's chat messages (system + user) through the tokenizer's chat
  template with ``add_generation_prompt=True``; a tokenizer without a chat template gets the
  observation's plain prompt text.
- **Investigations** (observations with tools): a chat template that renders tools gets the
  conversation in the OpenAI form (assistant ``tool_calls``, ``tool`` messages;
  :func:`~rlog_env.agents.base.openai_messages`) and ``tools=`` the schemas; any other gets the
  conversation with tool results as ``<tool_response>`` user messages
  (:func:`~rlog_env.agents.base.text_messages`), the environment's system message stating the
  tools and the ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` convention. The model's
  ``<tool_call>`` text is the turn the environment parses.
- **Long prompts** are cut in the middle to ``max_prompt_tokens`` (default: the model's context
  less ``max_new_tokens``): the start (the instructions) and the end (the latest log lines) are
  kept; ``last_usage_`` records the tokens actually given.
- **Generation** is batched (``batch_size`` prompts at a time, grouped by length so that little
  padding is wasted, answers returned in the input order) with LEFT padding, so every prompt
  ends where generation starts; a sequence leaves its batch on the step it ends
  (:func:`rlog_env.agents.decoding.decode`), so one long answer does not make its batch-mates
  decode to its length. ``temperature=0`` is greedy decoding; above 0 it samples with
  ``temperature`` and ``top_p`` (no top-k cut-off). These parameters are the whole recipe: a
  model's own ``generation_config`` (a repetition penalty, say) is not applied, so an evaluation
  means the same for every model. Only the new tokens are decoded, with
  ``skip_special_tokens=True``; ``<think>``/``<answer>`` are plain text to the tokenizer.
- **Seeding**: each batch is sampled under its own torch seed, derived from ``seed`` and the
  batch's prompts (``np.random.SeedSequence``), inside ``torch.random.fork_rng`` so the global
  torch RNG is left as it was. The same prompts with the same parameters give the same answers,
  whatever was generated before (a resumed evaluation reproduces an interrupted one).
- **Usage**: ``last_usage_`` holds, per answer of the last ``act``, the prompt's tokens and the
  completion's tokens (up to and including the end-of-sequence token); ``last_finish_reasons_``
  whether it ended (``"stop"``) or was cut off at ``max_new_tokens`` (``"length"``).

Parameters follow scikit-learn: ``__init__`` only stores them; the loaded model and tokenizer are
``model_`` and ``tokenizer_``. torch and transformers are imported on loading; when missing,
an ``ImportError`` names the extra: ``pip install 'rlog_env[llm]'``.
"""

from __future__ import annotations

import inspect
import json
import os
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rlog_env.agents.base import Observation, openai_messages, text_messages
from rlog_env.agents.decoding import decode
from rlog_env.agents.models import import_llm, require_safetensors
from rlog_env.tasks import FORMATS, THINK_FIRST

DEVICES = ("auto", "cpu", "cuda", "mps")


def _import_llm():
    return import_llm("TransformersAgent")


class _Params:
    """scikit-learn's ``get_params``/``set_params`` over the ``__init__`` signature."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any):
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(f"{type(self).__name__}.set_params expects one of {sorted(valid)}, got {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


# The weights' precisions ``dtype`` takes ("auto": float32 on CPU, the checkpoint's own elsewhere).
DTYPES = ("auto", "float32", "bfloat16", "float16")

class TransformersAgent(_Params):
    """Answers observations with a local ``transformers`` causal LM (see the module docstring)."""

    def __init__(self, model: str | os.PathLike, *, reasoning: str = THINK_FIRST, batch_size: int = 8,
                 max_new_tokens: int = 256, temperature: float = 0.0, top_p: float = 1.0,
                 device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False,
                 seed: int = 0, max_prompt_tokens: int | None = None, name: str | None = None):
        self.model = model
        self.reasoning = reasoning
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.device = device
        self.dtype = dtype
        self.trust_remote_code = trust_remote_code
        self.seed = seed
        self.max_prompt_tokens = max_prompt_tokens
        self.name = name if name is not None else f"transformers:{model}"

    # ----------------------------------------------------------------------------------------

    def _validate(self) -> None:
        if self.reasoning not in FORMATS:
            raise ValueError(f"TransformersAgent expects reasoning in {FORMATS}, got {self.reasoning!r}")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"TransformersAgent expects batch_size >= 1, got {self.batch_size!r}")
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 1:
            raise ValueError(f"TransformersAgent expects max_new_tokens >= 1, got {self.max_new_tokens!r}")
        if not self.temperature >= 0:
            raise ValueError(f"TransformersAgent expects temperature >= 0 (0 is greedy), got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"TransformersAgent expects 0 < top_p <= 1, got {self.top_p!r}")
        if self.max_prompt_tokens is not None and (not isinstance(self.max_prompt_tokens, int)
                                                   or self.max_prompt_tokens < 2):
            raise ValueError(f"TransformersAgent expects max_prompt_tokens >= 2 or None, got {self.max_prompt_tokens!r}")
        if self.device not in DEVICES:
            raise ValueError(f"TransformersAgent expects device in {DEVICES}, got {self.device!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"TransformersAgent expects dtype in {DTYPES}, "
                             f"got {self.dtype!r}")

    def _resolve_model_path(self) -> str:
        model = os.fspath(self.model)
        if not Path(model).expanduser().exists():
            from rlog_env.agents.models import KNOWN_MODELS, get_model
            if model in KNOWN_MODELS:
                return str(get_model(model))
        return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model

    def load(self) -> "TransformersAgent":
        """Load the tokenizer and the model (done by the first ``act`` when not called)."""
        self._validate()
        torch, transformers = _import_llm()
        device = self.device
        if device == "auto":
            if torch.cuda.is_available():
                device = "cuda"
            elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
                device = "mps"
            else:
                device = "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise ValueError("TransformersAgent got device='cuda' but torch sees no CUDA device; "
                             "use device='cpu' or 'auto'")
        if self.dtype == "auto":
            # float32 on CPU (bf16 matmuls are slow there); the checkpoint's own dtype elsewhere.
            dtype = torch.float32 if device == "cpu" else "auto"
        else:
            dtype = getattr(torch, self.dtype)
        path = self._resolve_model_path()
        require_safetensors(path)  # a directory with only pickled weights is refused, clearly
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, trust_remote_code=self.trust_remote_code)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token is None:
            if tokenizer.eos_token is not None:
                tokenizer.pad_token = tokenizer.eos_token
            else:
                tokenizer.add_special_tokens({"pad_token": "<|pad|>"})
        model = transformers.AutoModelForCausalLM.from_pretrained(
            path, use_safetensors=True, trust_remote_code=self.trust_remote_code, dtype=dtype)
        if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
            model.resize_token_embeddings(len(tokenizer))
        model.to(device)
        model.eval()
        self.model_path_ = path
        self.device_ = device
        self.tokenizer_ = tokenizer
        self.model_ = model
        return self

    def fit(self, samples=None) -> "TransformersAgent":
        """Prompt-only: nothing is learned."""
        return self

    # ----------------------------------------------------------------------------------------

    def _prompt_text(self, observation: Observation) -> str:
        tokenizer = self.tokenizer_
        template = getattr(tokenizer, "chat_template", None)
        if observation.tools and template and "tools" in str(template):
            # A template that renders tools (Qwen2.5, Qwen3, Llama 3.1, ...): the conversation in
            # the OpenAI form, each call's arguments as an object (what templates expect).
            messages = openai_messages(observation.messages)
            for message in messages:
                for call in message.get("tool_calls") or ():
                    call["function"] = {**call["function"], "arguments": _arguments(call["function"]["arguments"])}
            return tokenizer.apply_chat_template(messages, tools=[dict(t) for t in observation.tools],
                                                 add_generation_prompt=True, tokenize=False)
        if template and observation.messages:
            # Without tools in the template, the system message describes them and the model
            # writes <tool_call> itself; tool results come back as user messages.
            messages = text_messages(observation.messages) if observation.tools else [dict(m) for m in observation.messages]
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        if observation.tools:  # no chat template: the whole conversation as text
            return "\n\n".join(m["content"] for m in text_messages(observation.messages))
        return observation.prompt

    def act(self, observations: Sequence[Observation]) -> list[str]:
        """One completion per observation, in order; ``last_usage_`` gets the token counts."""
        if not hasattr(self, "model_"):
            self.load()
        else:
            self._validate()
        torch, _ = _import_llm()
        tokenizer, model = self.tokenizer_, self.model_
        texts = [self._prompt_text(o) for o in observations]
        if not texts:
            self.last_usage_ = []
            return []
        # A chat template writes its own special tokens (BOS included where the model wants
        # one); a plain prompt gets the tokenizer's usual ones.
        special = not getattr(tokenizer, "chat_template", None)
        limit = self._prompt_limit()
        encoded = [_cut_middle(tokenizer(t, add_special_tokens=special).input_ids, limit) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        eos_ids = self._eos_ids()
        answers: list[str] = [""] * len(texts)
        usage: list[dict[str, int]] = [{}] * len(texts)
        finish: list[str | None] = [None] * len(texts)
        cuda_devices = [model.device] if model.device.type == "cuda" else []
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            enc = tokenizer.pad({"input_ids": [encoded[i] for i in batch]}, padding=True,
                                return_tensors="pt").to(model.device)
            with torch.random.fork_rng(devices=cuda_devices), torch.inference_mode():
                torch.manual_seed(self._batch_seed([texts[i] for i in batch]))
                new = decode(model, enc["input_ids"], enc["attention_mask"], max_new_tokens=self.max_new_tokens,
                             eos_ids=eos_ids, temperature=float(self.temperature), top_p=float(self.top_p))
            for row, i in enumerate(batch):
                tokens = new[row]  # cut off at max_new_tokens, unless it ended
                finish[i] = "stop" if tokens and tokens[-1] in eos_ids else "length"
                answers[i] = tokenizer.decode(tokens, skip_special_tokens=True)
                usage[i] = {"prompt_tokens": int(enc["attention_mask"][row].sum().item()),
                            "completion_tokens": len(tokens)}
        self.last_usage_ = usage
        self.last_finish_reasons_ = finish
        return answers

    def _prompt_limit(self) -> int | None:
        if self.max_prompt_tokens is not None:
            return self.max_prompt_tokens
        context = getattr(self.model_.config, "max_position_embeddings", None)
        return max(2, context - self.max_new_tokens) if isinstance(context, int) else None

    def _eos_ids(self) -> set[int]:
        eos = self.model_.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer_.eos_token_id
        ids = set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}
        return ids

    def _batch_seed(self, texts: Sequence[str]) -> int:
        words = [int(self.seed) & 0xFFFFFFFF, len(texts)] + [zlib.crc32(t.encode("utf-8")) for t in texts]
        return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0] & 0x7FFFFFFFFFFFFFFF)


def _arguments(arguments: Any) -> Any:
    """A call's arguments as an object when they are a JSON string of one (else as they are)."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def _cut_middle(ids: list[int], limit: int | None) -> list[int]:
    """``ids`` cut to ``limit`` tokens by dropping the middle (instructions first, latest logs last)."""
    if limit is None or len(ids) <= limit:
        return ids
    head = limit // 2
    return ids[:head] + ids[len(ids) - (limit - head):]
