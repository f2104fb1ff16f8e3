"""Ready-made models of the `tritensor train` jobs: a character-level GPT and an LSTM language model, plus the
sampling loop `tritensor generate` runs. They are ordinary nn.Modules built from the public API."""

from .char_lstm import CharLSTM
from .gpt import GPT
from .sampling import generate, sample_next

__all__ = ["GPT", "CharLSTM", "generate", "sample_next"]
