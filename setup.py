"""Build the simulator's optional C stream; everything else is in pyproject.toml.

``rlog_env/datasets/sim/_stream.c`` seeds and draws each simulated sample's uniform floats
(NumPy's SeedSequence and PCG64, bit for bit) a tenth as fast as building NumPy objects per
sample. It is optional: without a C compiler (with 128-bit integers: gcc, clang) the build goes
on without it and the simulator uses NumPy itself, with the same episodes.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("rlog_env.datasets.sim._stream", ["rlog_env/datasets/sim/_stream.c"],
                             optional=True)])
