"""tritensor.vision.models: parameter counts and state_dict keys/shapes equal torchvision's, initialisation as
torchvision's, eval-mode outputs against a NumPy forward of the same weights (cpu; LeNet5 also on cuda under the
interpreter), training-mode backward. The big models are built once per module and run on tiny inputs only."""

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import tritensor as tt
import tritensor.nn as nn
from tritensor.vision import models
from tritensor.vision.models import BasicBlock, Bottleneck, LeNet5, ResNet


@pytest.fixture(scope="module")
def built():
    """resnet18/34/50 and vgg11_bn, each built once (vgg11_bn's 133M parameters take seconds to initialise)."""
    return {name: getattr(models, name)() for name in ("resnet18", "resnet34", "resnet50", "vgg11_bn")}


# torchvision's numbers (sum(p.numel() for p in m.parameters()) and len(m.state_dict())).
TORCHVISION = {"resnet18": (11_689_512, 122), "resnet34": (21_797_672, 218), "resnet50": (25_557_032, 320),
               "vgg11_bn": (132_868_840, 62)}

# A selection of torchvision's state_dict entries and shapes.
KEYS = {
    "resnet18": {"conv1.weight": (64, 3, 7, 7), "bn1.running_var": (64,), "bn1.num_batches_tracked": (),
                 "layer1.0.conv1.weight": (64, 64, 3, 3), "layer1.1.bn2.bias": (64,),
                 "layer2.0.conv1.weight": (128, 64, 3, 3), "layer2.0.downsample.0.weight": (128, 64, 1, 1),
                 "layer2.0.downsample.1.running_mean": (128,), "layer4.1.conv2.weight": (512, 512, 3, 3),
                 "fc.weight": (1000, 512), "fc.bias": (1000,)},
    "resnet34": {"layer3.5.conv2.weight": (256, 256, 3, 3), "layer4.2.bn2.weight": (512,),
                 "layer4.0.downsample.0.weight": (512, 256, 1, 1)},
    "resnet50": {"layer1.0.conv1.weight": (64, 64, 1, 1), "layer1.0.conv3.weight": (256, 64, 1, 1),
                 "layer1.0.downsample.0.weight": (256, 64, 1, 1), "layer2.0.conv2.weight": (128, 128, 3, 3),
                 "layer3.5.bn3.running_var": (1024,), "layer4.2.bn3.weight": (2048,), "fc.weight": (1000, 2048)},
    "vgg11_bn": {"features.0.weight": (64, 3, 3, 3), "features.0.bias": (64,), "features.1.running_mean": (64,),
                 "features.4.weight": (128, 64, 3, 3), "features.8.weight": (256, 128, 3, 3),
                 "features.25.weight": (512, 512, 3, 3), "features.26.num_batches_tracked": (),
                 "classifier.0.weight": (4096, 25088), "classifier.3.weight": (4096, 4096),
                 "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,)},
}


@pytest.mark.parametrize("name", list(TORCHVISION))
def test_parameter_counts_and_keys(built, name):
    m = built[name]
    n_params, n_keys = TORCHVISION[name]
    assert sum(p.numel() for p in m.parameters()) == n_params
    sd = m.state_dict()
    assert len(sd) == n_keys
    for key, shape in KEYS[name].items():
        assert tuple(sd[key].shape) == shape, key
    if name.startswith("resnet"):  # layer1 needs a projection shortcut only when its blocks expand the width
        assert ("layer1.0.downsample.0.weight" in sd) == (name == "resnet50")


def test_lenet5():
    m = LeNet5()
    assert sum(p.numel() for p in m.parameters()) == 61_706
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == {
        "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
        "fc1.weight": (120, 400), "fc1.bias": (120,), "fc2.weight": (84, 120), "fc2.bias": (84,),
        "fc3.weight": (10, 84), "fc3.bias": (10,)}
    assert sum(p.numel() for p in LeNet5(num_classes=3, in_channels=3).parameters()) == 61_706 - 84 * 7 - 7 + 150 * 2


def test_initialisation(built):
    r = built["resnet18"]
    w = r.layer3[0].conv2.weight.detach().numpy()
    assert abs(w.std() / math.sqrt(2.0 / (256 * 9)) - 1) < 0.05 and abs(w.mean()) < 1e-3  # kaiming, fan_out
    assert np.all(r.bn1.weight.detach().numpy() == 1) and np.all(r.layer1[0].bn2.bias.detach().numpy() == 0)
    v = built["vgg11_bn"]
    lin = v.classifier[3].weight.detach().numpy()
    assert abs(lin.std() / 0.01 - 1) < 0.01 and np.all(v.classifier[3].bias.detach().numpy() == 0)
    assert np.all(v.features[0].bias.detach().numpy() == 0)
    z = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10, zero_init_residual=True)
    assert np.all(z.layer2[0].bn2.weight.detach().numpy() == 0)
    assert np.all(z.layer2[0].bn1.weight.detach().numpy() == 1)
    zb = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10, zero_init_residual=True)
    assert np.all(zb.layer4[0].bn3.weight.detach().numpy() == 0)
    assert np.all(zb.layer4[0].bn2.weight.detach().numpy() == 1)


def test_errors():
    with pytest.raises(ValueError, match=r"resnet18\(weights='IMAGENET1K_V1'\): pretrained weights are not "
                                         r"supported, tritensor downloads nothing"):
        models.resnet18(weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="vgg11_bn"):
        models.vgg11_bn(weights="DEFAULT")
    with pytest.raises(ValueError, match="^BasicBlock only supports groups=1 and base_width=64$"):
        BasicBlock(64, 64, groups=2)
    with pytest.raises(NotImplementedError, match="^Dilation > 1 not supported in BasicBlock$"):
        BasicBlock(64, 64, dilation=2)
    with pytest.raises(ValueError, match="replace_stride_with_dilation should be None or a 3-element tuple"):
        ResNet(Bottleneck, [1, 1, 1, 1], replace_stride_with_dilation=[False])


# ---- NumPy forward (float64) of the same weights, eval mode -------------------------------------------------------

def conv_ref(x, w, b=None, stride=1, padding=0):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x, w.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,ocij->nohw", win, w, optimize=True)
    return out if b is None else out + b[None, :, None, None]


def bn_ref(x, sd, p, eps=1e-5):
    shape = (1, -1, 1, 1)
    return ((x - sd[p + "running_mean"].reshape(shape)) / np.sqrt(sd[p + "running_var"].reshape(shape) + eps)
            * sd[p + "weight"].reshape(shape) + sd[p + "bias"].reshape(shape))


def maxpool_ref(x, k, stride, padding=0):
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=-np.inf)
    return sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::stride, ::stride].max(axis=(4, 5))


def adaptive_avg_ref(x, out):
    h, w = x.shape[2:]
    rows = [(i * h // out, -(-(i + 1) * h // out)) for i in range(out)]
    cols = [(j * w // out, -(-(j + 1) * w // out)) for j in range(out)]
    return np.stack([np.stack([x[:, :, r0:r1, c0:c1].mean(axis=(2, 3)) for c0, c1 in cols], -1)
                     for r0, r1 in rows], -2)


def relu(x):
    return np.maximum(x, 0)


def resnet_ref(sd, x, bottleneck, layers):
    x = maxpool_ref(relu(bn_ref(conv_ref(x, sd["conv1.weight"], stride=2, padding=3), sd, "bn1.")), 3, 2, 1)
    for stage, blocks in enumerate(layers, start=1):
        for i in range(blocks):
            p = f"layer{stage}.{i}."
            stride = 2 if stage > 1 and i == 0 else 1
            if bottleneck:
                out = relu(bn_ref(conv_ref(x, sd[p + "conv1.weight"]), sd, p + "bn1."))
                out = relu(bn_ref(conv_ref(out, sd[p + "conv2.weight"], stride=stride, padding=1), sd, p + "bn2."))
                out = bn_ref(conv_ref(out, sd[p + "conv3.weight"]), sd, p + "bn3.")
            else:
                out = relu(bn_ref(conv_ref(x, sd[p + "conv1.weight"], stride=stride, padding=1), sd, p + "bn1."))
                out = bn_ref(conv_ref(out, sd[p + "conv2.weight"], padding=1), sd, p + "bn2.")
            identity = x
            if p + "downsample.0.weight" in sd:
                identity = bn_ref(conv_ref(x, sd[p + "downsample.0.weight"], stride=stride), sd, p + "downsample.1.")
            x = relu(out + identity)
    x = x.mean(axis=(2, 3))
    return x @ sd["fc.weight"].T + sd["fc.bias"]


def vgg_ref(sd, x, cfg):
    i = 0
    for v in cfg:
        if v == "M":
            x, i = maxpool_ref(x, 2, 2), i + 1
        else:
            x = relu(bn_ref(conv_ref(x, sd[f"features.{i}.weight"], sd[f"features.{i}.bias"], padding=1), sd,
                            f"features.{i + 1}."))
            i += 3
    x = adaptive_avg_ref(x, 7).reshape(x.shape[0], -1)
    for j in (0, 3):
        x = relu(x @ sd[f"classifier.{j}.weight"].T + sd[f"classifier.{j}.bias"])
    return x @ sd["classifier.6.weight"].T + sd["classifier.6.bias"]


def lenet_ref(sd, x):
    x = maxpool_ref(relu(conv_ref(x, sd["conv1.weight"], sd["conv1.bias"])), 2, 2)
    x = maxpool_ref(relu(conv_ref(x, sd["conv2.weight"], sd["conv2.bias"])), 2, 2).reshape(x.shape[0], -1)
    for name in ("fc1", "fc2"):
        x = relu(x @ sd[f"{name}.weight"].T + sd[f"{name}.bias"])
    return x @ sd["fc3.weight"].T + sd["fc3.bias"]


def randomise_batchnorm(model, seed):
    """Non-trivial eval statistics and affine parameters, so the reference checks every BatchNorm."""
    g = np.random.default_rng(seed)
    with tt.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(tt.tensor(g.normal(0, 0.1, c).astype(np.float32)))
                m.running_var.copy_(tt.tensor(g.uniform(0.5, 2.0, c).astype(np.float32)))
                m.weight.copy_(tt.tensor(g.uniform(0.5, 1.5, c).astype(np.float32)))
                m.bias.copy_(tt.tensor(g.normal(0, 0.1, c).astype(np.float32)))


def state64(model):
    return {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}


def assert_close(got, ref):
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("name,bottleneck,layers", [("resnet18", False, [2, 2, 2, 2]),
                                                     ("resnet34", False, [3, 4, 6, 3]),
                                                     ("resnet50", True, [3, 4, 6, 3])])
def test_resnet_forward(built, rng, name, bottleneck, layers):
    m = built[name]
    randomise_batchnorm(m, 1)
    m.eval()
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    with tt.no_grad():
        y = m(tt.tensor(x))
    assert tuple(y.shape) == (1, 1000) and y.dtype == tt.float32
    assert_close(y.numpy(), resnet_ref(state64(m), x.astype(np.float64), bottleneck, layers))


def test_vgg_forward(built, rng):
    m = built["vgg11_bn"]
    randomise_batchnorm(m, 2)
    m.eval()
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    with tt.no_grad():
        y = m(tt.tensor(x))
    assert tuple(y.shape) == (1, 1000)
    assert_close(y.numpy(), vgg_ref(state64(m), x.astype(np.float64), models.vgg.cfgs["A"]))


def test_small_heads(rng):
    x = tt.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    m = models.resnet18(num_classes=10).eval()
    with tt.no_grad():
        assert tuple(m(x).shape) == (2, 10)
    assert tuple(m.fc.weight.shape) == (10, 512)


def test_lenet5_forward_cpu_and_cuda(rng):
    tt.manual_seed(0)
    m = LeNet5()
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    y = m(tt.tensor(x))
    assert tuple(y.shape) == (2, 10)
    assert_close(y.detach().numpy(), lenet_ref(state64(m), x.astype(np.float64)))
    y_cuda = m.to("cuda")(tt.tensor(x[:1], device="cuda"))  # one image: the interpreter is slow
    assert y_cuda.device.type == "cuda"
    np.testing.assert_allclose(y_cuda.detach().cpu().numpy(), y[:1].detach().numpy(), rtol=1e-5, atol=1e-6)


def test_training_step_reaches_every_parameter(rng):
    m = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=4)
    m.train()
    x = tt.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    loss = nn.functional.cross_entropy(m(x), tt.tensor([1, 3]))
    loss.backward()
    for name, p in m.named_parameters():
        assert p.grad is not None and tuple(p.grad.shape) == tuple(p.shape), name
        assert np.isfinite(p.grad.numpy()).all(), name
    assert m.bn1.num_batches_tracked.item() == 1 and m.layer4[0].downsample[1].num_batches_tracked.item() == 1
    assert np.abs(m.fc.weight.grad.numpy()).sum() > 0
