"""The simulator's fast paths give exactly what the plain ones give: seeding, value drawing,
block accounting and lazy rendering."""

from __future__ import annotations

import numpy as np
import pytest

from rlog_env.datasets import load_source
from rlog_env.datasets.sim.catalogue import load_catalogue
from rlog_env.datasets.sim.scenario import Difficulty, generate
from rlog_env.datasets.sim import seeding
from rlog_env.datasets.sim.seeding import NumPyBlocks, _agrees, c_stream_in_use, sample_generator, sample_stream
from rlog_env.datasets.sim.values import Uniforms, compile_spec


def test_sample_generator_is_numpys_seed_sequence():
    assert _agrees()
    rng = np.random.default_rng(11)
    for k in range(500):
        entropy = [int(v) for v in rng.integers(0, 2**63 - 1, 4)]
        entropy[k % 4] = int(rng.integers(0, 3))  # small values and zeros too
        plain = np.random.default_rng(np.random.SeedSequence(entropy))
        assert sample_generator(entropy).bit_generator.state == plain.bit_generator.state


def test_the_c_stream_is_built_and_in_use():
    """The README's install builds ``_stream`` (setup.py); without a C compiler the simulator
    still runs, on NumPy, with the same episodes, ~30 % slower."""
    assert seeding._stream is not None, ("rlog_env.datasets.sim._stream did not build: install a C "
                                         "compiler (gcc or clang) and reinstall with pip install -e .")
    assert c_stream_in_use()


def test_sample_stream_is_numpys_generator_float_for_float():
    rng = np.random.default_rng(12)
    for k in range(1000):
        entropy = [int(v) for v in rng.integers(0, 2**63 - 1, 1 + k % 6)]
        entropy[k % len(entropy)] = int(rng.integers(0, 3))  # small values and zeros too
        if k % 7 == 0:
            entropy.append(2**64 - 1 - k)  # two full words
        stream, plain = sample_stream(entropy), np.random.default_rng(np.random.SeedSequence(entropy))
        sizes = (128, 1 + k % 200, 0, 3)
        assert [stream.random(n) for n in sizes] == [plain.random(n).tolist() for n in sizes], entropy
    assert sample_stream([np.int64(5), np.uint32(7)]).random(4) == sample_stream([5, 7]).random(4)


def test_sample_stream_outside_the_c_range_falls_back_to_numpy():
    big = [1, 2**64 + 5, 3]  # 65 bits: NumPy's SeedSequence takes it, the C stream does not
    assert isinstance(sample_stream(big), NumPyBlocks)
    assert sample_stream(big).random(10) == np.random.default_rng(np.random.SeedSequence(big)).random(10).tolist()
    with pytest.raises(ValueError, match="non-negative"):
        sample_stream([1, -2])
    if seeding._stream is not None:
        with pytest.raises(ValueError, match="n >= 0"):
            seeding._stream.seeded([1]).random(-1)
        with pytest.raises(TypeError):
            seeding._stream.seeded(["1"])


def _plain_stream(rng, block=256):
    def floats():
        while True:
            yield from rng.random(block).tolist()
    return floats().__next__


def test_take_and_next_hand_out_one_stream():
    for seed in range(30):
        ops = np.random.default_rng(seed).integers(0, 40, 40).tolist()
        fast, plain = Uniforms(np.random.default_rng(seed), 16), _plain_stream(np.random.default_rng(seed), 16)
        for k, n in enumerate(ops):
            if k % 2:
                i = fast.take(n)
                got = fast.floats[i:i + n]
            else:
                got = [fast.next() for _ in range(n)]
            assert got == [plain() for _ in range(n)]
        assert fast.position == sum(ops)


def test_every_catalogue_value_reads_its_width():
    catalogue = load_catalogue()
    specs = {v for f in catalogue.families.values() for v in (*f.entities.values(), *f.variables.values())}
    specs |= {v for f in catalogue.faults.values() for v in f.entities.values()}
    assert specs
    for value in specs:
        for seed in range(20):
            stream, plain = Uniforms(np.random.default_rng(seed)), _plain_stream(np.random.default_rng(seed))
            drawn = value(plain)
            assert value.at(stream.floats, stream.take(value.width)) == drawn
            assert stream.next() == plain()  # the value read exactly `width` floats
    for spec in ("mac", "path(/data/)", "hex(40)", "pattern(??-####%%%)", "float(1,2,5)", "uuid", "block"):
        value = compile_spec(spec)
        stream = Uniforms(np.random.default_rng(0))
        assert isinstance(value.at(stream.floats, stream.take(value.width)), str)


@pytest.mark.parametrize("difficulty", ["medium", "hard"])
def test_lazy_lines_agree_with_full_rendering(difficulty):
    catalogue = load_catalogue()
    rng = np.random.default_rng(4)
    for name in sorted(catalogue.families):
        for faults in [()] + [(f.id,) for f in catalogue.faults_of(name)[:2]]:
            scenario = generate(catalogue, name, faults, Difficulty.of(difficulty), rng)
            lines = scenario.lines
            assert scenario.texts == tuple(line.text for line in lines)
            assert scenario.labels == tuple(line.abnormal for line in lines)
            assert scenario.variable_counts == tuple(line.variables for line in lines)
            assert scenario.window == "\n".join(line.text for line in lines)
    # a single line renders alone, equal to the full rendering's
    for index in range(0, 40, 7):
        one, full = (load_source("sim", "log_parsing").scenario(index, 0)[0] for _ in range(2))
        k = index % len(full.lines)
        assert one.line(k) == full.lines[k] and one.line(-1) == full.lines[-1]


def test_generator_ends_where_writing_every_line_leaves_it():
    """The floats of unwritten lines are drawn all the same: the generator's next draws (the
    line a parsing or line-level episode asks about) do not depend on what was rendered."""
    catalogue = load_catalogue()
    for seed in range(20):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        lazy = generate(catalogue, "hdfs", (), Difficulty.of("hard"), a)
        full = generate(catalogue, "hdfs", (), Difficulty.of("hard"), b)
        full.lines
        assert a.random() == b.random()
        assert lazy.line(3) == full.lines[3]


@pytest.mark.parametrize("task", ["anomaly_detection", "log_parsing", "root_cause_analysis"])
def test_episodes_without_the_c_stream_are_the_same(task, monkeypatch):
    """A machine that could not build ``_stream`` draws every episode from NumPy: the same ones."""
    source = load_source("sim", task, split="train", difficulty="hard")
    indices = [0, 7, 2**40 + 3, 2**62 + 11] + list(range(100, 160))
    with_c = [source[i] for i in indices]
    monkeypatch.setattr(seeding, "_chosen_stream", seeding._numpy_stream)
    assert [source[i] for i in indices] == with_c
