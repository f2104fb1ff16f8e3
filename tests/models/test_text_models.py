"""The text models of `tritensor train`: GPT (shapes, weight tying, causality, init) and CharLSTM (carrying its
state equals one pass), and the sampling rules (top-k, temperature, lengths, errors)."""

import math

import numpy as np
import pytest

import tritensor as tt
from tritensor.models import GPT, CharLSTM, generate, sample_next


def _ids(*shape, high=11, seed=0):
    return tt.from_numpy(np.random.default_rng(seed).integers(0, high, shape))


def test_gpt_shapes_tying_and_state_dict():
    tt.manual_seed(0)
    model = GPT(11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    assert tuple(model(_ids(3, 8)).shape) == (3, 8, 11)
    assert model.head.weight is model.tok_emb.weight
    keys = list(model.state_dict())
    assert keys[:2] == ["tok_emb.weight", "pos_emb.weight"] and "head.weight" in keys
    assert "blocks.1.attn.qkv.weight" in keys and "blocks.0.mlp.2.bias" in keys
    std = model.blocks[0].attn.proj.weight.detach().numpy().std()
    assert abs(std - 0.02 / math.sqrt(4)) < 0.004  # residual projections scaled by 1/sqrt(2 * n_layer)
    with pytest.raises(ValueError, match="sequence length 9 exceeds the model's block_size 8"):
        model(_ids(1, 9))
    with pytest.raises(ValueError, match=r"n_embd \(10\) must be divisible by n_head \(4\)"):
        GPT(11, n_embd=10, n_head=4)


def test_gpt_is_causal():
    tt.manual_seed(1)
    model = GPT(11, block_size=8, n_layer=2, n_head=2, n_embd=16).eval()
    ids = _ids(1, 8)
    changed = ids.numpy().copy()
    changed[0, 5] = (changed[0, 5] + 1) % 11
    a, b = model(ids).detach().numpy(), model(tt.from_numpy(changed)).detach().numpy()
    np.testing.assert_allclose(a[0, :5], b[0, :5], rtol=1e-5, atol=1e-6)
    assert np.abs(a[0, 5:] - b[0, 5:]).max() > 1e-4


def test_gpt_trains_on_a_repeating_sequence():
    tt.manual_seed(2)
    model = GPT(5, block_size=8, n_layer=1, n_head=2, n_embd=16)
    opt = tt.optim.Adam(model.parameters(), lr=1e-2)
    seq = tt.tensor([[0, 1, 2, 3, 4, 0, 1, 2, 3]])
    losses = []
    for _ in range(60):
        logits = model(seq[:, :-1])
        loss = tt.nn.functional.cross_entropy(logits.reshape(-1, 5), seq[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 1.2 and losses[-1] < 0.05


def test_char_lstm_state_carries_over():
    tt.manual_seed(3)
    model = CharLSTM(11, hidden=12, num_layers=2).eval()
    ids = _ids(2, 7)
    whole, (h, c) = model(ids)
    first, state = model(ids[:, :4])
    rest, (h2, c2) = model(ids[:, 4:], state)
    assert tuple(whole.shape) == (2, 7, 11) and tuple(h.shape) == (2, 2, 12)
    np.testing.assert_allclose(np.concatenate([first.detach().numpy(), rest.detach().numpy()], 1),
                               whole.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h2.detach().numpy(), h.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sample_next_top_k_and_temperature():
    logits = tt.tensor([[0.0, 3.0, 1.0, 2.0], [5.0, 0.0, 0.0, 4.9]])
    g = tt.Generator().manual_seed(0)
    assert sample_next(logits, top_k=1, generator=g).tolist() == [[1], [0]]
    draws = [sample_next(logits, temperature=1.0, top_k=2, generator=g).tolist() for _ in range(200)]
    assert {d[0][0] for d in draws} == {1, 3} and {d[1][0] for d in draws} == {0, 3}
    cold = [sample_next(logits, temperature=0.01, generator=g)[1, 0].item() for _ in range(50)]
    assert set(cold) == {0}  # 0.1 apart at temperature 0.01: a factor e^10 in favour of the larger logit
    with pytest.raises(ValueError, match="temperature must be > 0, got 0"):
        sample_next(logits, temperature=0)
    with pytest.raises(ValueError, match="top_k must be >= 1, got 0"):
        sample_next(logits, top_k=0)


@pytest.mark.parametrize("kind", ["gpt", "lstm"])
def test_generate_appends_the_requested_number_of_ids(kind):
    tt.manual_seed(4)
    model = GPT(11, block_size=4, n_layer=1, n_head=2, n_embd=8) if kind == "gpt" else CharLSTM(11, hidden=8)
    g = tt.Generator().manual_seed(0)
    out = generate(model, [1, 2, 3], 9, top_k=3, generator=g)
    assert len(out) == 12 and out[:3] == [1, 2, 3] and all(0 <= i < 11 for i in out)
    again = generate(model, [1, 2, 3], 9, top_k=3, generator=tt.Generator().manual_seed(0))
    assert again == out  # the generator alone decides the draws
    with pytest.raises(ValueError, match="at least one character"):
        generate(model, [], 3)
