"""tt.bernoulli, Tensor.bernoulli_ and tt.multinomial: statistics with fixed seeds (frequencies within a few
sigma), distinctness without replacement, zero-probability categories, shapes and dtypes, the same samples on
cpu and cuda for the same seed, and PyTorch's errors."""

import numpy as np
import pytest

import tritensor as tt

DEVICES = ["cpu", "cuda"]


def host(t):
    return t.detach().cpu().numpy()


def within_sigma(freq, p, n, k=5.0):
    p = np.asarray(p, np.float64)
    return np.all(np.abs(np.asarray(freq) - p) <= k * np.sqrt(p * (1 - p) / n) + 1e-12)


# ================================================================ bernoulli
@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli_frequencies_shape_dtype(device):
    p = tt.tensor([[0.0, 0.1, 0.5, 0.9, 1.0]] * 400, dtype=tt.float16, device=device)
    g = tt.Generator().manual_seed(3)
    s = tt.bernoulli(p, generator=g)
    assert s.shape == p.shape and s.dtype is tt.float16 and s.device.type == device
    values = host(s).astype(np.float64)
    assert set(np.unique(values)) <= {0.0, 1.0}
    assert within_sigma(values.mean(0), [0.0, 0.1, 0.5, 0.9, 1.0], 400)
    assert values[:, 0].sum() == 0 and values[:, 4].sum() == 400


def test_bernoulli_same_samples_on_cpu_and_cuda():
    probs = np.random.default_rng(1).random((7, 33))
    results = []
    for device in DEVICES:
        tt.manual_seed(11)
        a = tt.bernoulli(tt.tensor(probs, device=device))
        b = tt.bernoulli(tt.zeros(7, 33, dtype=tt.int64, device=device), 0.25)
        c = tt.ones(5, 7, 33, device=device).bernoulli_(tt.tensor(probs, dtype=tt.float32, device=device))
        results.append([host(a), host(b), host(c)])
    for x, y in zip(*results):
        np.testing.assert_array_equal(x, y)
    assert results[0][1].dtype == np.int64 and set(np.unique(results[0][1])) <= {0, 1}


@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli_in_place_forms(device):
    g = tt.Generator().manual_seed(5)
    t = tt.empty(4000, dtype=tt.bool, device=device)
    assert t.bernoulli_(0.3, generator=g) is t
    assert within_sigma([host(t).mean()], [0.3], 4000)
    p = tt.tensor([[0.2], [0.8]], dtype=tt.float64, device=device)  # broadcast to self's shape
    f = tt.zeros(2, 2000, device=device).bernoulli_(p, generator=g)
    assert within_sigma(host(f).mean(1), [0.2, 0.8], 2000)
    m = tt.zeros(3, device=device).bernoulli(0.5)  # the method, out of place
    assert m.shape == (3,)
    default = tt.zeros(4000, device=device).bernoulli_(generator=g)  # p = 0.5
    assert within_sigma([host(default).mean()], [0.5], 4000)


def test_bernoulli_seed_reproducible_and_generator_independent():
    p = tt.full((100,), 0.5)
    g1, g2 = tt.Generator().manual_seed(7), tt.Generator().manual_seed(7)
    np.testing.assert_array_equal(host(tt.bernoulli(p, generator=g1)), host(tt.bernoulli(p, generator=g2)))
    tt.manual_seed(0)
    a = host(tt.bernoulli(p))
    tt.manual_seed(0)
    np.testing.assert_array_equal(a, host(p.bernoulli()))


@pytest.mark.parametrize("device", DEVICES)
def test_bernoulli_errors(device):
    with pytest.raises(RuntimeError, match=r"Expected p_in >= 0 && p_in <= 1 to be true, but got false"):
        tt.bernoulli(tt.tensor([0.5, 1.5], device=device))
    with pytest.raises(RuntimeError, match=r"Expected p_in >= 0"):
        tt.bernoulli(tt.tensor([float("nan")], device=device))
    with pytest.raises(RuntimeError, match=r"bernoulli_ expects p to be in \[0, 1\], but got p=1.5"):
        tt.zeros(2, device=device).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match=rf"\"bernoulli_tensor_{device}_p_\" not implemented for 'Long'"):
        tt.bernoulli(tt.tensor([1, 0], device=device))
    with pytest.raises(RuntimeError, match="The expanded size of the tensor"):
        tt.zeros(3, device=device).bernoulli_(tt.full((4,), 0.5, device=device))
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        tt.zeros(3, requires_grad=True, device=device).bernoulli_(0.5)
    with pytest.raises(TypeError, match="must be Tensor"):
        tt.bernoulli([0.5])


def test_bernoulli_records_a_zero_gradient():
    x = tt.full((3,), 0.5, requires_grad=True)
    y = tt.bernoulli(x)
    assert y.requires_grad and y.grad_fn.name() == "BernoulliBackward0"
    (y * 3).sum().backward()
    assert host(x.grad).tolist() == [0.0, 0.0, 0.0]


# ================================================================ multinomial
@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_with_replacement_frequencies(device):
    w = tt.tensor([[1.0, 0.0, 3.0, 6.0], [0.0, 0.0, 0.0, 2.0]], device=device)  # unnormalised weights
    s = tt.multinomial(w, 2000, replacement=True, generator=tt.Generator().manual_seed(2))
    assert s.shape == (2, 2000) and s.dtype is tt.int64
    picks = host(s)
    freq = np.bincount(picks[0], minlength=4) / 2000
    assert freq[1] == 0 and within_sigma(freq, [0.1, 0.0, 0.3, 0.6], 2000)
    assert np.all(picks[1] == 3)


@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_without_replacement(device):
    g = tt.Generator().manual_seed(4)
    w = tt.tensor([0.5, 0.0, 1.0, 2.0, 0.0, 4.0], dtype=tt.float64, device=device)
    rows = 400 if device == "cpu" else 20  # the interpreter runs programs one by one; equality with cpu is
    s = host(tt.multinomial(w.expand(rows, 6), 4, generator=g))  # tested on its own below
    assert s.shape == (rows, 4)
    assert all(len(set(r)) == 4 and not {1, 4} & set(r) for r in s.tolist())
    assert within_sigma(np.bincount(s[:, 0], minlength=6) / rows, np.array([0.5, 0, 1, 2, 0, 4]) / 7.5, rows)
    every = host(tt.multinomial(w, 6, generator=g))  # all categories: the zero ones come last
    assert sorted(every.tolist()) == list(range(6)) and set(every[-2:].tolist()) == {1, 4}
    rows = host(tt.multinomial(tt.rand(5, 8, device=device, generator=g), 8))
    assert all(sorted(r) == list(range(8)) for r in rows.tolist())


def test_multinomial_single_draw_frequencies_large_vocabulary():
    probs = np.zeros(3000)
    probs[[10, 1500, 2999]] = [0.2, 0.3, 0.5]
    picks = host(tt.multinomial(tt.tensor(np.tile(probs, (400, 1)), dtype=tt.float32), 1,
                                generator=tt.Generator().manual_seed(9)))
    assert picks.shape == (400, 1)
    freq = np.array([np.mean(picks == i) for i in (10, 1500, 2999)])
    assert np.isin(picks, [10, 1500, 2999]).all() and within_sigma(freq, [0.2, 0.3, 0.5], 400)


@pytest.mark.parametrize("replacement,k", [(True, 9), (False, 5), (True, 1)])
@pytest.mark.parametrize("dtype", [tt.float32, tt.float64, tt.bfloat16])
def test_multinomial_same_samples_on_cpu_and_cuda(replacement, k, dtype):
    w = np.random.default_rng(3).random((4, 1100))
    w[:, 7:900] = 0
    results = []
    for device in DEVICES:
        g = tt.Generator().manual_seed(21)
        probs = tt.tensor(w, dtype=dtype, device=device).t().contiguous().t()  # non-contiguous rows
        results.append(host(tt.multinomial(probs, k, replacement, generator=g)))
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.isin(results[0], np.arange(7, 900)).any()


@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_out_and_method(device):
    out = tt.empty(3, dtype=tt.int64, device=device)
    w = tt.tensor([0.0, 1.0, 0.0], device=device)
    assert tt.multinomial(w, 3, True, out=out) is out and host(out).tolist() == [1, 1, 1]
    assert host(w.multinomial(1)).tolist() == [1]
    assert tt.multinomial(tt.ones(0, 3, device=device), 2).shape == (0, 2)


@pytest.mark.parametrize("device", DEVICES)
def test_multinomial_argument_errors(device):
    w = tt.ones(3, device=device)
    cases = [
        (lambda: tt.multinomial(tt.ones(2, 2, 2, device=device), 1), "prob_dist must be 1 or 2 dim"),
        (lambda: tt.multinomial(tt.ones(3, dtype=tt.int64, device=device), 1),
         "multinomial only supports floating-point dtypes for input, got: Long"),
        (lambda: tt.multinomial(w, 1, out=tt.empty(1, device=device)),
         "multinomial expects Long tensor out, got: Float"),
        (lambda: tt.multinomial(w, 0), "cannot sample n_sample <= 0 samples"),
        (lambda: tt.multinomial(w, 4), r"cannot sample n_sample > prob_dist.size\(-1\) samples without replacement"),
    ]
    for fn, message in cases:
        with pytest.raises(RuntimeError, match=message):
            fn()
    with pytest.raises(TypeError, match="'num_samples' .* must be int, not float"):
        tt.multinomial(w, 1.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,replacement,message", [
    ([0.5, -0.1, 0.5], False, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([0.5, float("inf"), 0.5], False, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([float("nan"), 0.5, 0.5], True, r"invalid multinomial distribution \(encountering probability entry < 0\)"),
    ([0.5, -1.0, 0.5], True, r"invalid multinomial distribution \(encountering probability entry < 0\)"),
    ([0.5, float("inf"), 0.5], True, r"encountering probability entry = infinity or NaN"),
    ([0.0, 0.0, 0.0], True, r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
    ([0.0, 0.0, 0.0], False, r"invalid multinomial distribution \(sum of probabilities <= 0\)"),
])
def test_multinomial_probability_errors(device, row, replacement, message):
    w = tt.tensor([[0.2, 0.3, 0.5], row], device=device)
    with pytest.raises(RuntimeError, match=message):
        tt.multinomial(w, 2, replacement)
    # the device is usable afterwards (the error word was cleared)
    assert tt.multinomial(tt.tensor([1.0, 1.0], device=device), 2).shape == (2,)
