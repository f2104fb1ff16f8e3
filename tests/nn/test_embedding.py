"""nn.Embedding / nn.EmbeddingBag and F.embedding / F.embedding_bag: PyTorch's state_dict, init, repr, options."""

import numpy as np
import pytest

import tritensor as tt
from tritensor import nn
from tritensor.nn import functional as F


def test_embedding_module():
    tt.manual_seed(0)
    e = nn.Embedding(10, 4, padding_idx=-2)
    assert e.padding_idx == 8 and list(e.state_dict()) == ["weight"] and e.weight.shape == (10, 4)
    assert not e.weight.detach().numpy()[8].any() and e.weight.detach().numpy().std() > 0.3
    assert repr(e) == "Embedding(10, 4, padding_idx=8)"
    assert repr(nn.Embedding(3, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, sparse=True)) == \
        "Embedding(3, 2, max_norm=1.0, norm_type=1.0, scale_grad_by_freq=True, sparse=True)"
    x = tt.tensor([[8, 1], [3, 8]])
    out = e(x)
    assert out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.detach().numpy(), e.weight.detach().numpy()[x.numpy()])
    out.sum().backward()
    grad = e.weight.grad.numpy()
    assert not grad[8].any() and (grad[1] == 1).all() and (grad[3] == 1).all()
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=-4)


def test_from_pretrained_and_max_norm():
    w = tt.tensor([[3.0, 4.0], [0.3, 0.4], [1.0, 0.0]])
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.weight.shape == (3, 2)
    e = nn.Embedding.from_pretrained(w.clone(), freeze=False, max_norm=1.0)
    assert e.weight.requires_grad
    out = e(tt.tensor([0, 1]))
    np.testing.assert_allclose(out.detach().numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-5)
    # the looked-up row was renormalised in place, the others untouched
    np.testing.assert_allclose(e.weight.detach().numpy(), [[0.6, 0.8], [0.3, 0.4], [1.0, 0.0]], rtol=1e-5)
    with pytest.raises(AssertionError, match="Embeddings parameter is expected to be 2-dimensional"):
        nn.Embedding.from_pretrained(tt.ones(3))
    with pytest.raises(AssertionError, match="Shape of weight does not match num_embeddings and embedding_dim"):
        nn.Embedding(2, 2, _weight=tt.ones(3, 2))


def test_functional_embedding_negative_padding():
    w = tt.randn(5, 3, requires_grad=True)
    F.embedding(tt.tensor([4, 0, 4]), w, padding_idx=-1).sum().backward()
    assert not w.grad.numpy()[4].any() and (w.grad.numpy()[0] == 1).all()


def test_embedding_bag_module():
    tt.manual_seed(0)
    bag = nn.EmbeddingBag(6, 3, mode="sum", padding_idx=0)
    assert list(bag.state_dict()) == ["weight"] and not bag.weight.detach().numpy()[0].any()
    assert repr(bag) == "EmbeddingBag(6, 3, mode=sum, padding_idx=0)"
    assert repr(nn.EmbeddingBag(6, 3)) == "EmbeddingBag(6, 3, mode=mean)"
    idx, offsets = tt.tensor([1, 2, 0, 5, 5]), tt.tensor([0, 2])
    psw = tt.tensor([1.0, 2.0, 3.0, 0.5, 0.5])
    out = bag(idx, offsets, psw)
    w = bag.weight.detach().numpy()
    np.testing.assert_allclose(out.detach().numpy(), [w[1] + 2 * w[2], w[5]], rtol=1e-6)
    with pytest.raises(AssertionError, match="^padding_idx must be within num_embeddings$"):
        nn.EmbeddingBag(3, 2, padding_idx=-4)
    pre = nn.EmbeddingBag.from_pretrained(tt.ones(4, 2), mode="max")
    assert not pre.weight.requires_grad
    np.testing.assert_array_equal(F.embedding_bag(tt.tensor([[1, 2]]), pre.weight, mode="max").numpy(), [[1, 1]])
