"""Training configuration: TOML/YAML files, TRL options checked by name, device defaults."""

from __future__ import annotations

import dataclasses

import pytest

pytest.importorskip("trl")

from rlog_env.training.config import LoraSettings, TrainConfig, device_defaults, trl_config, trl_options


def test_defaults_run_on_cpu_in_float32():
    args = trl_config(TrainConfig(output_dir="x"), "sft", device="cpu")
    assert args.use_cpu is True and args.bf16 is False and args.gradient_checkpointing is False
    assert args.output_dir == "x" and args.report_to == []


def test_every_trl_option_is_reachable():
    import trl
    config = TrainConfig(trl={"gradient_accumulation_steps": 3, "loss_type": "dapo", "epsilon_high": 0.28})
    args = trl_config(config, "grpo", device="cpu")
    assert (args.gradient_accumulation_steps, args.loss_type, args.epsilon_high) == (3, "dapo", 0.28)
    # every field of GRPOConfig is accepted by name
    names = {f.name for f in dataclasses.fields(trl.GRPOConfig)}
    assert set(trl_options(TrainConfig(), "grpo", "cpu")) <= names


def test_misspelt_trl_option_is_an_error_with_a_hint():
    with pytest.raises(ValueError, match="num_generations"):
        trl_options(TrainConfig(trl={"num_generation": 4}), "grpo", "cpu")


def test_gpu_settings_validated_without_a_gpu():
    """The GPU configuration (bf16, vLLM colocate or server) builds a valid GRPOConfig."""
    options = device_defaults("grpo", "cuda", "colocate")
    assert options == {"bf16": True, "use_vllm": True, "vllm_mode": "colocate"}
    for mode in ("colocate", "server"):
        config = TrainConfig(vllm=mode, trl={"vllm_gpu_memory_utilization": 0.3})
        opts = trl_options(config, "grpo", "cuda")
        assert opts["use_vllm"] and opts["vllm_mode"] == mode and opts["bf16"]
    assert "use_vllm" not in device_defaults("sft", "cuda", "colocate")
    with pytest.raises(ValueError, match="CUDA"):
        device_defaults("grpo", "cpu", "server")


def test_config_files_toml_and_yaml(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('model = "smollm2-135m"\nreasoning = "answer-first"\ntasks = ["anomaly_detection"]\n'
                    '[trl]\nmax_steps = 7\n[lora]\nr = 4\n', encoding="utf-8")
    config = TrainConfig.from_file(toml, output_dir="o")
    assert config.model == "smollm2-135m" and config.reasoning == "answer-first"
    assert config.tasks == ("anomaly_detection",) and config.trl == {"max_steps": 7}
    assert config.lora == LoraSettings(r=4) and config.output_dir == "o"
    yaml = tmp_path / "run.yaml"
    yaml.write_text("model: tiny\ntrl:\n  max_steps: 3\n", encoding="utf-8")
    assert TrainConfig.from_file(yaml, trl={"logging_steps": 1}).trl == {"max_steps": 3, "logging_steps": 1}


@pytest.mark.parametrize("text, match", [
    ("modle = 'tiny'\n", "unknown keys"),
    ("model = \n", "not valid TOML"),
    ("episodes = 0\n", "episodes expects a positive int"),
    ("reasoning = 'both'\n", "reasoning expects"),
    ("tasks = ['parsing']\n", "tasks expects"),
])
def test_bad_config_files_name_the_problem(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=match):
        TrainConfig.from_file(path)


def test_other_suffix_and_missing_file(tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text("model = tiny\n", encoding="utf-8")
    with pytest.raises(ValueError, match="suffix"):
        TrainConfig.from_file(ini)
    with pytest.raises(FileNotFoundError):
        TrainConfig.from_file(tmp_path / "absent.toml")


def test_lora_config_for_peft():
    pytest.importorskip("peft")
    peft_config = LoraSettings(r=8, target_modules=["q_proj", "v_proj"]).peft_config()
    assert peft_config.r == 8 and set(peft_config.target_modules) == {"q_proj", "v_proj"}


def test_tasks_default_to_what_the_source_serves():
    from rlog_env.datasets import SOURCES
    from rlog_env.tasks import TASKS

    for name, spec in SOURCES.items():
        assert TrainConfig(source=name).tasks == tuple(t for t in TASKS if spec.serves(t))
    assert TrainConfig(source="hdfs").tasks == ("anomaly_detection",)
    with pytest.raises(ValueError, match="tasks expects tasks source 'hdfs' serves"):
        TrainConfig(source="hdfs", tasks=("log_parsing",))
    with pytest.raises(ValueError, match="source expects one of"):
        TrainConfig(source="nowhere")


def test_difficulty_goes_only_to_a_source_that_takes_it(data_dir):
    from rlog_env.training.trainers import training_samples

    samples = training_samples(TrainConfig(source="hdfs", difficulty="easy", episodes=2, data_dir=str(data_dir)))
    assert len(samples) == 2 and {s.meta["source"] for s in samples} == {"hdfs"}
    easy = training_samples(TrainConfig(tasks=("log_interpretation",), difficulty="easy", episodes=1))
    hard = training_samples(TrainConfig(tasks=("log_interpretation",), difficulty="hard", episodes=1))
    assert easy[0].logs != hard[0].logs
