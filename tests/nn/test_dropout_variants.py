"""nn.functional.dropout1d/2d/3d, alpha_dropout, feature_alpha_dropout and their modules (PyTorch's
semantics) on cpu and interpreted cuda: per-channel masks scaled by 1 / (1 - p), the noise drawn with
bernoulli_ from tt.manual_seed's generator, eval / p=0 / p=1 / empty inputs, in-place forms, PyTorch's
warnings and errors, gradients (noise times scale) and alpha dropout's mean/variance preservation."""

import inspect
import math
import warnings

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn
import tritensor.nn.functional as F
from tritensor.autograd import gradcheck

DEVICES = ["cpu", "cuda"]
ALPHA_PRIME = -1.7580993408473766  # SELU's negative saturation value, -scale * alpha


def _np(t):
    return t.detach().cpu().numpy().astype(np.float64)


def _positive(rng, shape, device, dtype=tt.float64):
    """Inputs away from 0, so out / x recovers the mask exactly."""
    return tt.tensor(rng.uniform(0.5, 2.0, shape).astype(dtype.np), device=device)


def _noise(shape, p, device, dtype=tt.float64):
    """What the functional draws right after tt.manual_seed: bernoulli_(1 - p) over the noise shape."""
    return _np(tt.empty(shape, dtype=dtype, device=device).bernoulli_(1.0 - p))


def _alpha_ab(p):
    a = ((1.0 - p) * (1.0 + p * ALPHA_PRIME ** 2)) ** -0.5
    return a, -a * ALPHA_PRIME * p


@pytest.fixture
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ================================================================ names and signatures


@pytest.mark.parametrize("name, training", [("dropout1d", True), ("dropout2d", True), ("dropout3d", True),
                                            ("alpha_dropout", False), ("feature_alpha_dropout", False)])
def test_functional_signatures_match_pytorch(name, training):
    sig = inspect.signature(getattr(F, name))
    assert list(sig.parameters) == ["input", "p", "training", "inplace"]
    assert [sig.parameters[k].default for k in ("p", "training", "inplace")] == [0.5, training, False]


@pytest.mark.parametrize("cls", ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"])
def test_modules_repr_and_constructor(cls):
    layer = getattr(nn, cls)
    assert repr(layer()) == f"{cls}(p=0.5, inplace=False)"
    assert repr(layer(0.25, True)) == f"{cls}(p=0.25, inplace=True)"
    assert layer(p=0.0).p == 0.0 and layer(p=1).p == 1
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"^dropout probability has to be between 0 and 1, but got {bad}$"):
            layer(bad)


@pytest.mark.parametrize("name", ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                  "feature_alpha_dropout"])
@pytest.mark.parametrize("bad", [-0.5, 1.0000001])
def test_functional_rejects_p_outside_unit_interval(name, bad):
    with pytest.raises(ValueError, match=rf"^dropout probability has to be between 0 and 1, but got {bad}$"):
        getattr(F, name)(tt.ones(2, 3, 4, 4), bad, True)


# ================================================================ channel-wise masks


CASES = [  # functional, input shape, noise shape (one draw per sample and channel)
    ("dropout1d", (3, 8, 5), (3, 8, 1)),
    ("dropout1d", (8, 5), (8, 1)),
    ("dropout2d", (2, 8, 3, 2), (2, 8, 1, 1)),
    ("dropout3d", (2, 4, 2, 2, 3), (2, 4, 1, 1, 1)),
    ("dropout3d", (8, 2, 3, 2), (8, 1, 1, 1)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape, noise_shape", CASES)
def test_channel_mask_scaled_and_seeded(rng, device, name, shape, noise_shape, no_warnings):
    p = 0.4
    x = _positive(rng, shape, device)
    tt.manual_seed(11)
    y = getattr(F, name)(x, p)
    tt.manual_seed(11)
    want = _np(x) * (_noise(noise_shape, p, device) / (1.0 - p))
    assert y.shape == x.shape and y.dtype is tt.float64 and y.device == x.device
    np.testing.assert_allclose(_np(y), want, rtol=1e-12, atol=0)
    # every element of a channel shares its factor, which is 0 or 1 / (1 - p)
    ratio = (_np(y) / _np(x)).reshape(*[s for s, n in zip(shape, noise_shape) if n != 1], -1)
    # (y / x only re-rounds y = x * s: equal to within one float64 ulp)
    np.testing.assert_allclose(ratio, np.repeat(ratio[..., :1], ratio.shape[-1], axis=-1), rtol=1e-15, atol=0)
    assert set(np.round(ratio.ravel(), 12)) <= {0.0, round(1 / (1 - p), 12)}


@pytest.mark.parametrize("device", DEVICES)
def test_both_outcomes_occur_and_rate_is_plausible(device):
    # 2000 channels at p = 0.3: the dropped fraction has sd ~0.0102, so +-0.05 is ~5 sd.
    tt.manual_seed(3)
    y = _np(F.dropout2d(tt.ones(20, 100, 1, 1, device=device), 0.3))
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.7)}
    assert abs((y == 0).mean() - 0.3) < 0.05


@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_3d_input_warns_and_drops_channels_of_n_c_l(rng, device):
    x = _positive(rng, (2, 6, 5), device)
    with pytest.warns(UserWarning) as record:
        tt.manual_seed(4)
        y = F.dropout2d(x, 0.5)
    assert [str(w.message) for w in record] == [
        "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout behavior is "
        "desired - input is interpreted as shape (N, C, L), where C is the channel dim. This behavior will "
        "change in a future release to interpret the input as one without a batch dimension, i.e. shape "
        "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch to using dropout1d "
        "instead."]
    assert record[0].filename == __file__  # attributed to the caller, past nn.functional's wrapper
    tt.manual_seed(4)
    np.testing.assert_allclose(_np(y), _np(x) * _noise((2, 6, 1), 0.5, device) * 2.0, rtol=1e-12)


def _rank_warning(fn, n, spatial, ranks):
    return (f"{fn}: Received a {n}-D input to {fn}, which is deprecated and will result in an error in a "
            f"future release. To retain the behavior and silence this warning, please use dropout instead. "
            f"Note that {fn} exists to provide channel-wise dropout on inputs with {spatial} spatial "
            f"dimensions, a channel dimension, and an optional batch dimension (i.e. {ranks} inputs).")


@pytest.mark.parametrize("device", DEVICES)
def test_dropout2d_other_ranks_warn_and_use_dims_0_1(rng, device):
    x2 = _positive(rng, (4, 6), device)
    with pytest.warns(UserWarning) as record:
        tt.manual_seed(2)
        y = F.dropout2d(x2, 0.5)
    assert [str(w.message) for w in record] == [_rank_warning("dropout2d", 2, 2, "3D or 4D")]
    tt.manual_seed(2)
    np.testing.assert_allclose(_np(y), _np(x2) * _noise((4, 6), 0.5, device) * 2.0, rtol=1e-12)
    x5 = _positive(rng, (2, 3, 2, 1, 2), device)
    with pytest.warns(UserWarning, match="Received a 5-D input to dropout2d"):
        tt.manual_seed(2)
        y = F.dropout2d(x5, 0.5)
    tt.manual_seed(2)
    np.testing.assert_allclose(_np(y), _np(x5) * _noise((2, 3, 1, 1, 1), 0.5, device) * 2.0, rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout3d_other_ranks_warn_and_are_unbatched(rng, device):
    x = _positive(rng, (6, 2, 3), device)
    with pytest.warns(UserWarning) as record:
        tt.manual_seed(8)
        y = F.dropout3d(x, 0.5)
    assert [str(w.message) for w in record] == [_rank_warning("dropout3d", 3, 3, "4D or 5D")]
    tt.manual_seed(8)
    np.testing.assert_allclose(_np(y), _np(x) * _noise((6, 1, 1), 0.5, device) * 2.0, rtol=1e-12)
    with pytest.warns(UserWarning, match="Received a 6-D input to dropout3d"):
        F.dropout3d(tt.ones(1, 1, 1, 1, 1, 1, device=device), 0.5, False)


def test_no_warning_for_expected_ranks(no_warnings):
    F.dropout2d(tt.ones(1, 2, 2, 2), 0.5)
    F.dropout3d(tt.ones(2, 2, 2, 2), 0.5)
    F.dropout3d(tt.ones(1, 2, 2, 2, 2), 0.5)


@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
def test_dropout1d_rank_error_even_in_eval(shape, training):
    n = len(shape)
    with pytest.raises(RuntimeError) as info:
        F.dropout1d(tt.ones(*shape), 0.5, training)
    assert str(info.value) == (
        f"dropout1d: Expected 2D or 3D input, but received a {n}D input. Note that dropout1d exists to "
        "provide channel-wise dropout on inputs with 1 spatial dimension, a channel dimension, and an optional "
        "batch dimension (i.e. 2D or 3D inputs).")


@pytest.mark.parametrize("device", DEVICES)
def test_feature_dropout_needs_two_dims_when_it_drops(device):
    x = tt.ones(5, device=device)
    with pytest.warns(UserWarning), pytest.raises(
            RuntimeError, match="^Feature dropout requires at least 2 dimensions in the input$"):
        F.dropout2d(x, 0.5)
    with pytest.raises(RuntimeError, match="^Feature dropout requires at least 2 dimensions in the input$"):
        F.feature_alpha_dropout(x, 0.5, True)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="^Feature dropout requires"):
        F.dropout3d(tt.tensor(1.0, device=device), 0.5)
    # ATen returns before building the noise when not dropping
    with pytest.warns(UserWarning):
        assert F.dropout2d(x, 0.5, False) is x
    assert F.feature_alpha_dropout(x, 1.0, True).tolist() == [0.0] * 5
    with pytest.warns(UserWarning):  # 1D is fine for dropout3d: it becomes (1, 5), one draw per element
        tt.manual_seed(1)
        y = F.dropout3d(x, 0.5)
    tt.manual_seed(1)
    np.testing.assert_array_equal(_np(y), _noise((5,), 0.5, device, tt.float32) * 2.0)


# ================================================================ identity, p = 1, dtypes


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape", [("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 2, 2)),
                                         ("dropout3d", (2, 3, 1, 2, 2)), ("alpha_dropout", (3, 4)),
                                         ("feature_alpha_dropout", (2, 3, 4))])
def test_identity_zeros_and_empty(rng, device, name, shape):
    fn = getattr(F, name)
    x = tt.tensor(rng.standard_normal(shape).astype(np.float32), device=device)
    assert fn(x, 0.5, False) is x and fn(x, 0.0, True) is x
    empty = tt.ones(0, *shape[1:], device=device)
    assert fn(empty, 0.5, True) is empty
    z = fn(x, 1.0, True)  # p == 1 multiplies by zero, alpha dropout included (ATen's p == 1 branch)
    assert z.dtype is tt.float32 and z.shape == x.shape
    np.testing.assert_array_equal(_np(z), np.zeros(shape))
    xi = tt.tensor(rng.integers(-5, 5, shape), device=device)
    zi = fn(xi, 1.0, True)
    assert zi.dtype is tt.int64 and not _np(zi).any()
    with pytest.raises(RuntimeError, match="^result type Float can't be cast to the desired output type Long$"):
        fn(xi, 0.5, True)


def test_alpha_dropout_input_must_be_a_tensor():
    for name in ("alpha_dropout", "feature_alpha_dropout"):
        with pytest.raises(TypeError, match=rf"^{name}\(\): argument 'input' \(position 1\) must be Tensor, "
                                            r"not list$"):
            getattr(F, name)([1.0, 2.0], 0.5, True)


# ================================================================ in place


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape", [("dropout1d", (6, 4)), ("dropout1d", (2, 6, 4)),
                                         ("dropout2d", (2, 6, 2, 2)), ("dropout3d", (6, 1, 2, 2)),
                                         ("alpha_dropout", (3, 4)), ("feature_alpha_dropout", (2, 6, 3))])
def test_inplace_matches_out_of_place(rng, device, name, shape):
    fn = getattr(F, name)
    a = rng.standard_normal(shape)
    x = tt.tensor(a, device=device)
    tt.manual_seed(21)
    want = _np(fn(x, 0.3, True))
    tt.manual_seed(21)
    y = fn(x, 0.3, True, inplace=True)
    assert y is x and x.shape == shape
    np.testing.assert_allclose(_np(x), want, rtol=1e-12, atol=1e-15)
    assert not np.allclose(want, a)
    x = tt.tensor(a, device=device)
    assert fn(x, 1.0, True, True) is x and not _np(x).any()


# ================================================================ gradients


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape, noise_shape", CASES)
def test_gradient_is_noise_times_scale(rng, device, name, shape, noise_shape, no_warnings):
    p = 0.5
    x = tt.tensor(rng.standard_normal(shape), device=device, requires_grad=True)
    g = rng.standard_normal(shape)
    tt.manual_seed(6)
    getattr(F, name)(x, p).backward(tt.tensor(g, device=device))
    tt.manual_seed(6)
    np.testing.assert_allclose(_np(x.grad), g * _noise(noise_shape, p, device) / (1 - p), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_alpha_gradient_is_noise_times_a(rng, device):
    p = 0.3
    a, _ = _alpha_ab(p)
    for name, noise_shape in (("alpha_dropout", (2, 3, 4)), ("feature_alpha_dropout", (2, 3, 1))):
        x = tt.tensor(rng.standard_normal((2, 3, 4)), device=device, requires_grad=True)
        tt.manual_seed(9)
        getattr(F, name)(x, p, True).sum().backward()
        tt.manual_seed(9)
        np.testing.assert_allclose(_np(x.grad), np.broadcast_to(_noise(noise_shape, p, device) * a, (2, 3, 4)),
                                   rtol=1e-12)


@pytest.mark.parametrize("name", ["dropout2d", "feature_alpha_dropout", "alpha_dropout"])
def test_gradcheck_with_a_fixed_seed(rng, name):
    def fn(t):
        tt.manual_seed(17)  # the same noise at every evaluation
        return getattr(F, name)(t, 0.4, True)

    x = tt.tensor(rng.standard_normal((2, 3, 2, 2)), requires_grad=True)
    assert gradcheck(fn, (x,))


# ================================================================ alpha dropout values and statistics


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0.2, 0.5])
def test_alpha_dropout_values(rng, device, p):
    a, b = _alpha_ab(p)
    xa = rng.standard_normal((4, 6, 5))
    x = tt.tensor(xa, device=device)
    for name, noise_shape in (("alpha_dropout", (4, 6, 5)), ("feature_alpha_dropout", (4, 6, 1))):
        tt.manual_seed(13)
        y = _np(getattr(F, name)(x, p, True))
        tt.manual_seed(13)
        keep = np.broadcast_to(_noise(noise_shape, p, device) == 1, xa.shape)
        assert keep.any() and (~keep).any()
        np.testing.assert_allclose(y, np.where(keep, a * xa + b, a * ALPHA_PRIME + b), rtol=1e-12, atol=1e-15)
    # the dropped value for p = 0.5: a = (0.5 * (1 + 0.5 * alpha'^2)) ** -0.5
    if p == 0.5:
        assert math.isclose(a * ALPHA_PRIME + b, -0.779193, abs_tol=1e-6)


# Standard-normal input. The output's kurtosis is below 4, so with n independent draws sd(mean) <= 1/sqrt(n)
# and sd(var) <= sqrt(3/n); the feature variant shares one draw per (sample, channel) pair, which raises
# Var(y_i + y_j) by 2 * p(1-p)(a alpha')^2 < 1, so for it n is counted in pairs and sd grows by < sqrt(1.5).
# cpu: n = 131072 elements (65536 pairs): sd(mean) <= 0.005, sd(var) <= 0.009, tolerance 0.025 (> 2.7 sd at
# the worst bound, ~5 sd for alpha_dropout). cuda runs in Triton's interpreter, so it uses n = 16384 (8192
# pairs): sd(mean) <= 0.014, sd(var) <= 0.023, tolerance 0.07 (> 3 sd). The seed is fixed: deterministic.
STAT_CASES = [("cpu", "alpha_dropout", (256, 512), 0.025), ("cpu", "feature_alpha_dropout", (512, 128, 2), 0.025),
              ("cuda", "alpha_dropout", (128, 128), 0.07), ("cuda", "feature_alpha_dropout", (128, 64, 2), 0.07)]


@pytest.mark.parametrize("device, name, shape, tol", STAT_CASES)
def test_alpha_dropout_keeps_mean_zero_and_variance_one(device, name, shape, tol):
    tt.manual_seed(0)
    x = tt.randn(*shape, dtype=tt.float64, device=device)
    xs = _np(x)
    assert abs(xs.mean()) < tol / 2 and abs(xs.var() - 1) < tol
    y = _np(getattr(F, name)(x, 0.25, True))
    assert abs(y.mean()) < tol and abs(y.var() - 1) < tol
    # a kept/dropped mix (not identity): about 25% of the values equal the dropped constant
    a, b = _alpha_ab(0.25)
    assert abs(np.isclose(y, a * ALPHA_PRIME + b, rtol=0, atol=1e-12).mean() - 0.25) < tol


# ================================================================ modules


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls, name, shape", [("Dropout1d", "dropout1d", (2, 4, 3)),
                                              ("Dropout2d", "dropout2d", (2, 4, 3, 3)),
                                              ("Dropout3d", "dropout3d", (4, 1, 3, 3))])
def test_channel_modules_follow_training_and_inplace(rng, device, cls, name, shape):
    x = _positive(rng, shape, device)
    layer = getattr(nn, cls)(0.5)
    tt.manual_seed(5)
    y = layer(x)
    tt.manual_seed(5)
    np.testing.assert_allclose(_np(y), _np(getattr(F, name)(x, 0.5)), rtol=0)
    assert layer.eval()(x) is x
    inplace = getattr(nn, cls)(0.5, inplace=True)
    before = _np(x)
    tt.manual_seed(5)
    assert inplace(x) is x
    np.testing.assert_allclose(_np(x), _np(y), rtol=0)
    assert not np.array_equal(before, _np(x))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls, name", [("AlphaDropout", "alpha_dropout"),
                                       ("FeatureAlphaDropout", "feature_alpha_dropout")])
def test_alpha_modules_train_only_and_never_in_place(rng, device, cls, name):
    a = rng.standard_normal((2, 4, 3))
    x = tt.tensor(a, device=device)
    layer = getattr(nn, cls)(0.5, inplace=True)  # PyTorch's forward ignores inplace
    tt.manual_seed(7)
    y = layer(x)
    np.testing.assert_array_equal(_np(x), a)
    tt.manual_seed(7)
    np.testing.assert_allclose(_np(y), _np(getattr(F, name)(x, 0.5, True)), rtol=0)
    assert not np.allclose(_np(y), a)
    assert layer.eval()(x) is x


@pytest.mark.parametrize("device", DEVICES)
def test_inplace_on_a_non_leaf_backpropagates_the_mask(rng, device):
    x = tt.tensor(rng.standard_normal((2, 6, 3)), device=device, requires_grad=True)
    h = x * 1.0
    tt.manual_seed(12)
    assert F.dropout1d(h, 0.25, True, inplace=True) is h
    h.sum().backward()
    tt.manual_seed(12)
    np.testing.assert_allclose(_np(x.grad), np.broadcast_to(_noise((2, 6, 1), 0.25, device) / 0.75, (2, 6, 3)),
                               rtol=1e-12)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.dropout2d(tt.ones(1, 2, 2, 2, device=device, requires_grad=True), 0.5, True, True)
