"""The simulator's fast paths give exactly what the plain ones give: seeding, value drawing,
block accounting and lazy rendering."""

from __future__ import annotations

import numpy as np
import pytest

from rlog_env.datasets import load_source
from rlog_env.datasets.sim.catalogue import load_catalogue
from rlog_env.datasets.sim.scenario import Difficulty, generate
from rlog_env.datasets.sim.seeding import _agrees, sample_generator
from rlog_env.datasets.sim.values import Uniforms, compile_spec


def test_sample_generator_is_numpys_seed_sequence():
    assert _agrees()
    rng = np.random.default_rng(11)
    for k in range(500):
        entropy = [int(v) for v in rng.integers(0, 2**63 - 1, 4)]
        entropy[k % 4] = int(rng.integers(0, 3))  # small values and zeros too
        plain = np.random.default_rng(np.random.SeedSequence(entropy))
        assert sample_generator(entropy).bit_generator.state == plain.bit_generator.state


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
