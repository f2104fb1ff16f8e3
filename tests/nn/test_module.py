"""nn.Module semantics (PyTorch's): attribute routing, registration errors, naming, state_dict round trips and
strict errors, hooks, train/eval, zero_grad, apply, device/dtype moves, repr; nn.Parameter; the containers."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import tritensor as tt
import tritensor.nn as nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(tt.ones(4))
        self.register_buffer("running", tt.zeros(4))
        self.register_buffer("scratch", tt.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.25))
        self.blocks = nn.ModuleList([nn.Linear(8, 8) for _ in range(3)])
        self.head = nn.ModuleDict({"out": nn.Linear(8, 2, bias=False), "act": nn.GELU(approximate="tanh")})
        self.softmax = nn.LogSoftmax(dim=1)
        self.register_buffer("steps", tt.zeros(()))

    def forward(self, x):
        x = self.features(x)
        for b in self.blocks:
            x = b(x)
        return self.softmax(self.head["out"](self.head["act"](x)))


# ---------------------------------------------------------------- Parameter
def test_parameter_is_a_flagged_leaf_sharing_memory():
    data = tt.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, tt.Tensor) and issubclass(nn.Parameter, tt.Tensor)
    assert not isinstance(data, nn.Parameter) and not isinstance(3, nn.Parameter)
    assert p.requires_grad and p.is_leaf and p.grad_fn is None
    data[0] = 5.0
    assert p.tolist() == [5.0, 2.0]  # shares data's memory
    assert repr(p) == "Parameter containing:\ntensor([5., 2.], requires_grad=True)"
    assert str(nn.Parameter(tt.zeros(1), requires_grad=False)) == "Parameter containing:\ntensor([0.])"
    derived = [p.detach(), p.data, p * 2, p + 0]
    assert not any(isinstance(t, nn.Parameter) for t in derived)
    assert repr(p.detach()) == "tensor([5., 2.])"
    (p * p).sum().backward()
    assert p.grad.tolist() == [10.0, 4.0]
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        nn.Parameter(tt.tensor([1, 2]))
    assert not nn.Parameter(tt.tensor([1, 2]), requires_grad=False).requires_grad
    assert isinstance(nn.Parameter(p * 2), nn.Parameter) and nn.Parameter(p * 2).is_leaf


# ---------------------------------------------------------------- attribute routing
def test_attribute_routing_and_deletion():
    m = Block()
    assert list(m._parameters) == ["scale"] and list(m._modules) == ["fc"]
    assert list(m._buffers) == ["running", "scratch"]
    assert m.scale is m._parameters["scale"] and m.running is m._buffers["running"] and m.fc is m._modules["fc"]
    m.running = tt.ones(4)  # a tensor assigned to a buffer name stays a buffer
    assert m._buffers["running"].tolist() == [1.0] * 4
    m.plain = tt.ones(2)  # any other tensor is an ordinary attribute
    assert "plain" in m.__dict__ and "plain" not in m._buffers
    m.scale = None
    assert m._parameters["scale"] is None and m.scale is None and list(m.parameters())[-1] is m.fc.bias
    m.scale = nn.Parameter(tt.ones(4))
    m.fc = nn.Identity()  # a module replaces a module
    assert isinstance(m._modules["fc"], nn.Identity)
    m.running = nn.Parameter(tt.zeros(4))  # a parameter takes a buffer's name: the buffer goes
    assert "running" in m._parameters and "running" not in m._buffers
    del m.running, m.scratch, m.fc
    assert "running" not in m._parameters and "scratch" not in m._buffers and "fc" not in m._modules
    assert "scratch" not in m._non_persistent_buffers_set
    del m.plain
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'fc'"):
        m.fc  # noqa: B018
    assert {"scale", "forward", "train"} <= set(dir(m))


def test_registration_errors():
    m = Block()
    with pytest.raises(TypeError, match=r"cannot assign 'torch.FloatTensor' as parameter 'scale' \(torch.nn.Parameter "
                                        r"or None expected\)"):
        m.scale = tt.ones(4)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'fc'"):
        m.fc = 3
    with pytest.raises(TypeError, match="cannot assign 'str' as buffer 'running'"):
        m.running = "x"
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' object to parameter 'w'"):
        m.register_parameter("w", tt.ones(1))
    with pytest.raises(KeyError, match="parameter name can.+t contain"):
        m.register_parameter("a.b", nn.Parameter(tt.ones(1)))
    with pytest.raises(KeyError, match="parameter name can.+t be empty string"):
        m.register_parameter("", None)
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        m.register_buffer("forward", tt.ones(1))
    with pytest.raises(TypeError, match="buffer name should be a string. Got int"):
        m.register_buffer(1, tt.ones(1))
    with pytest.raises(TypeError, match="cannot assign 'int' object to buffer 'b'"):
        m.register_buffer("b", 3)
    with pytest.raises(KeyError, match="module name can.+t contain .+, got: a.b"):
        m.add_module("a.b", nn.ReLU())
    with pytest.raises(TypeError, match="int is not a Module subclass"):
        m.add_module("x", 1)
    with pytest.raises(ValueError, match="Cannot assign non-leaf Tensor to parameter 'w'"):
        m.register_parameter("w", _non_leaf_parameter(nn.Parameter(tt.ones(2))))

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(tt.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Early()
    with pytest.raises(TypeError, match=r"Module.__init__\(\) got an unexpected keyword argument 'foo'"):
        nn.Module(foo=1)
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward" function'):
        nn.Module()(1)


def _non_leaf_parameter(leaf):
    """A flagged tensor with history (what `Parameter` itself never makes): register_parameter refuses it."""
    from tritensor.nn.parameter import mark_parameter

    return mark_parameter(leaf * 2)


# ---------------------------------------------------------------- traversal and naming
def test_named_members_prefixes_and_shared_parameters():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["features.0.weight", "features.0.bias", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
                     "blocks.1.bias", "blocks.2.weight", "blocks.2.bias", "head.out.weight"]
    assert [n for n, _ in net.named_parameters(prefix="model")][0] == "model.features.0.weight"
    assert list(net.named_parameters(recurse=False)) == []
    assert [n for n, _ in net.named_buffers()] == ["steps"]
    assert [n for n, _ in net.named_children()] == ["features", "blocks", "head", "softmax"]
    assert [n for n, _ in net.named_modules()][:4] == ["", "features", "features.0", "features.1"]
    assert len(list(net.modules())) == 13
    net.blocks[1].weight = net.blocks[0].weight  # tied weights count once
    assert len(list(net.parameters())) == 8
    assert len(list(net.named_parameters(remove_duplicate=False))) == 9
    shared = nn.Linear(2, 2)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.parameters())) == 2 and len(list(seq.children())) == 2
    assert net.get_submodule("head.out") is net.head["out"] and net.get_parameter("blocks.2.bias") is net.blocks[2].bias
    assert net.get_buffer("steps") is net.steps
    with pytest.raises(AttributeError, match="`softmax` is not a buffer"):
        net.get_buffer("softmax")


# ---------------------------------------------------------------- state_dict
def test_state_dict_round_trip():
    tt.manual_seed(0)
    a = Block()
    sd = a.state_dict()
    assert list(sd) == ["scale", "running", "fc.weight", "fc.bias"]  # own members first, persistent buffers only
    assert not any(v.requires_grad for v in sd.values()) and not isinstance(sd["scale"], nn.Parameter)
    assert sd["fc.weight"].data_ptr() == a.fc.weight.data_ptr()  # detached views, not copies
    assert a.state_dict(keep_vars=True)["scale"] is a.scale
    b = Block()
    with tt.no_grad():
        a.running.fill_(3.0)
    result = b.load_state_dict(a.state_dict())
    assert repr(result) == "<All keys matched successfully>" and result.missing_keys == []
    for k, v in a.state_dict().items():
        np.testing.assert_array_equal(b.state_dict()[k].numpy(), v.numpy())
    assert isinstance(b.fc.weight, nn.Parameter) and b.fc.weight.requires_grad  # loaded in place
    net = Net()
    net2 = Net()
    net2.load_state_dict(net.state_dict())
    x = tt.randn(5, 4)
    net.eval()
    net2.eval()
    np.testing.assert_allclose(net(x).detach().numpy(), net2(x).detach().numpy(), rtol=1e-6)


def test_load_state_dict_strict_errors():
    m = Block()
    sd = m.state_dict()
    sd.pop("fc.bias")
    sd["fc.extra"] = tt.zeros(1)
    sd["other.weight"] = tt.zeros(1)
    with pytest.raises(RuntimeError) as e:
        m.load_state_dict(sd)
    assert str(e.value) == ('Error(s) in loading state_dict for Block:\n\tMissing key(s) in state_dict: "fc.bias". '
                            '\n\tUnexpected key(s) in state_dict: "other.weight", "fc.extra". ')
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["fc.bias"] and result.unexpected_keys == ["other.weight", "fc.extra"]
    assert repr(result) == ("_IncompatibleKeys(missing_keys=['fc.bias'], unexpected_keys=['other.weight', "
                            "'fc.extra'])")
    bad = m.state_dict()
    bad["fc.weight"] = tt.zeros(3, 4)
    for strict in (True, False):
        with pytest.raises(RuntimeError) as e:
            m.load_state_dict(bad, strict=strict)
        assert str(e.value) == ("Error(s) in loading state_dict for Block:\n\tsize mismatch for fc.weight: copying a "
                                "param with shape tritensor.Size([3, 4]) from checkpoint, the shape in current model "
                                "is tritensor.Size([4, 3]).")
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        m.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match="Missing key"):
        m.load_state_dict({}, True)


def test_load_state_dict_assign_and_across_devices():
    m = nn.Linear(2, 3)
    src = {"weight": tt.ones(3, 2), "bias": tt.zeros(3)}
    m.load_state_dict(src, assign=True)
    assert m.weight.tolist() == [[1.0, 1.0]] * 3 and isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    cuda_model = nn.Linear(2, 3).cuda()
    cuda_model.load_state_dict(m.state_dict())  # copy_ moves the cpu checkpoint onto the model's device
    assert cuda_model.weight.device.type == "cuda" and cuda_model.weight.cpu().tolist() == [[1.0, 1.0]] * 3


# ---------------------------------------------------------------- hooks
def test_forward_hooks_and_handles():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
    h3 = m.register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    y = m(tt.ones(1, 2))
    np.testing.assert_allclose(y.detach().numpy(), m.bias.detach().numpy()[None] + 1, rtol=1e-6)
    assert calls == ["first"]
    h1.remove()
    h2.remove()
    h3.remove()
    h3.remove()  # removing twice is harmless
    np.testing.assert_allclose(m(tt.ones(1, 2)).detach().numpy(), F_linear_np(m, np.ones((1, 2))), rtol=1e-6)
    seen = {}

    def pre_kw(mod, args, kwargs):
        seen["kwargs"] = dict(kwargs)
        return args, {}

    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    s = Scale()
    s.register_forward_pre_hook(pre_kw, with_kwargs=True)
    s.register_forward_hook(lambda mod, args, kwargs, out: out * 10, with_kwargs=True)
    assert s(tt.ones(1), factor=3.0).tolist() == [10.0] and seen["kwargs"] == {"factor": 3.0}
    with s.register_forward_hook(lambda mod, args, out: out * 0):
        assert s(tt.ones(1)).tolist() == [0.0]
    assert s(tt.ones(1)).tolist() == [10.0]
    failing = []
    s.register_forward_hook(lambda mod, args, out: failing.append(out), always_call=True)
    with pytest.raises(TypeError):
        s("bad", factor=tt.ones(1), extra=1)
    assert failing == [None]


def F_linear_np(m, x):  # noqa: N802
    return x @ m.weight.detach().numpy().T + m.bias.detach().numpy()


# ---------------------------------------------------------------- modes, grads, apply
def test_train_eval_zero_grad_apply_requires_grad():
    net = Net()
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert net.features[2].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(tt.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    grads = [p.grad for p in net.parameters()]
    net.zero_grad(set_to_none=False)
    assert all(p.grad is g and not g.numpy().any() for p, g in zip(net.parameters(), grads))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    order = []
    assert net.apply(lambda m: order.append(type(m).__name__)) is net
    assert order[:4] == ["Linear", "ReLU", "Dropout", "Sequential"] and order[-1] == "Net"
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_dtype_and_device_keep_parameter_identity(rng):
    m = Block()
    m.register_buffer("count", tt.tensor([3]))
    m(tt.randn(2, 3)).sum().backward()
    params = list(m.parameters())
    weight = m.fc.weight.detach().numpy().copy()
    assert m.double() is m
    assert list(m.parameters()) == params and all(p.dtype is tt.float64 for p in params)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in params)
    assert m.fc.weight.grad.dtype is tt.float64 and m.running.dtype is tt.float64 and m.count.dtype is tt.int64
    m.half()
    assert m.fc.weight.dtype is tt.float16
    m.float().cuda()
    assert list(m.parameters()) == params
    assert all(p.device.type == "cuda" for p in params) and m.running.device.type == "cuda"
    assert m.count.device.type == "cuda" and m.fc.weight.grad.device.type == "cuda"
    y = m(tt.randn(2, 3, device="cuda"))
    assert y.device.type == "cuda"
    m.to("cpu", tt.float64)
    np.testing.assert_allclose(m.fc.weight.detach().numpy(), weight, rtol=1e-3)  # through fp16 and back
    m.to(tt.zeros(1, dtype=tt.float32))
    assert m.fc.weight.dtype is tt.float32 and m.fc.weight.device.type == "cpu"
    with pytest.raises(TypeError, match="nn.Module.to only accepts floating point or complex dtypes"):
        m.to(tt.int32)


def test_deepcopy_and_pickle_keep_parameters():
    m = Block()
    m.scale.grad = tt.ones(4)
    for c in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert all(isinstance(p, nn.Parameter) for p in c.parameters())
        assert [n for n, _ in c.named_parameters()] == [n for n, _ in m.named_parameters()]
        assert c.fc.weight is not m.fc.weight
        np.testing.assert_array_equal(c.fc.weight.detach().numpy(), m.fc.weight.detach().numpy())
        with tt.no_grad():
            c.fc.weight.fill_(0)
        assert m.fc.weight.detach().numpy().any()
    assert copy.deepcopy(m).scale.grad.tolist() == [1.0] * 4


# ---------------------------------------------------------------- repr
def test_repr_matches_pytorch_format():
    net = Net()
    assert repr(net) == """Net(
  (features): Sequential(
    (0): Linear(in_features=4, out_features=8, bias=True)
    (1): ReLU()
    (2): Dropout(p=0.25, inplace=False)
  )
  (blocks): ModuleList(
    (0-2): 3 x Linear(in_features=8, out_features=8, bias=True)
  )
  (head): ModuleDict(
    (out): Linear(in_features=8, out_features=2, bias=False)
    (act): GELU(approximate='tanh')
  )
  (softmax): LogSoftmax(dim=1)
)"""
    mixed = nn.ModuleList([nn.ReLU(), nn.ReLU(inplace=True), nn.ReLU(inplace=True), nn.Sequential(nn.Tanh())])
    assert repr(mixed) == """ModuleList(
  (0): ReLU()
  (1-2): 2 x ReLU(inplace=True)
  (3): Sequential(
    (0): Tanh()
  )
)"""
    assert repr(nn.ModuleList()) == "ModuleList()" and repr(nn.Sequential()) == "Sequential()"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 3))) == "Unflatten(dim=1, unflattened_size=(2, 3))"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()" and repr(nn.Softmax()) == "Softmax(dim=None)"
    plist = nn.ParameterList([nn.Parameter(tt.zeros(2, 3)), tt.zeros(4)])
    assert repr(plist) == """ParameterList(
    (0): Parameter containing: [tritensor.float32 of size 2x3]
    (1): Parameter containing: [tritensor.float32 of size 4]
)"""

    class Multi(nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"

    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n)"


# ---------------------------------------------------------------- containers
def test_sequential():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub._modules) == ["1", "2"] and sub[0] is b
    x = tt.randn(4, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), c(b(a(x))).detach().numpy(), rtol=1e-6)
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert named.fc is a and [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]
    seq.append(nn.Tanh())
    seq.insert(0, nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "Linear", "ReLU", "Linear", "Tanh"]
    del seq[0]
    assert list(seq._modules) == ["0", "1", "2", "3"] and seq[0] is a
    seq[1] = nn.GELU()
    assert isinstance(seq[1], nn.GELU)
    assert seq.pop(3).__class__ is nn.Tanh and len(seq) == 3
    assert len(seq + nn.Sequential(nn.ReLU())) == 4
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]  # noqa: B018


def test_module_list_dict_and_parameter_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(1, nn.Identity())
    assert [type(m).__name__ for m in layers] == ["Linear", "Identity", "Linear", "ReLU", "Tanh"]
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[1]
    assert list(layers._modules) == ["0", "1", "2", "3"] and len(list(layers.parameters())) == 4
    layers += [nn.SiLU()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.SiLU)
    d = nn.ModuleDict([("a", nn.ReLU()), ("b", nn.Linear(1, 1))])
    assert list(d) == ["a", "b"] and "b" in d and len(d) == 2 and d["a"].__class__ is nn.ReLU
    d["c"] = nn.Tanh()
    assert list(d.keys()) == ["a", "b", "c"] and d.pop("a").__class__ is nn.ReLU and len(d) == 2
    assert [n for n, _ in d.named_parameters()] == ["b.weight", "b.bias"]
    d.update({"z": nn.Identity()})
    assert list(d.keys()) == ["b", "c", "z"]
    d.clear()
    assert len(d) == 0
    plist = nn.ParameterList([nn.Parameter(tt.ones(2)), tt.zeros(3)])
    plist.append(tt.ones(1))
    assert len(plist) == 3 and all(isinstance(p, nn.Parameter) for p in plist)
    assert [n for n, _ in plist.named_parameters()] == ["0", "1", "2"]
    assert plist[-1].tolist() == [1.0] and isinstance(plist[:2], nn.ParameterList)
    holder = nn.Module()
    holder.params = plist
    assert [n for n, _ in holder.named_parameters()] == ["params.0", "params.1", "params.2"]
