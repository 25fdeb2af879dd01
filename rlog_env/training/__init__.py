"""Training: export simulator and real samples to Hugging Face datasets in TRL's formats, the
cold-start SFT and GRPO stages after R-Log, the tiny randomly initialised model for laptops and
CI (:mod:`rlog_env.training.tiny`), and the ``repro`` experiment. Every module here imports
torch, transformers and TRL lazily, so ``import rlog_env.training`` stays light; a missing one
raises an ``ImportError`` that names the extra to install.
"""
