"""VGG (Simonyan & Zisserman, 2014) with torchvision's module structure: `features` (a Sequential of conv[, bn],
relu and max-pool layers, numbered as torchvision's) and `classifier` (linear, relu, dropout x2, linear), so
state_dict keys (features.0.weight, features.1.running_mean, ..., classifier.6.bias) equal torchvision's."""

from __future__ import annotations

from typing import Any

from ...nn import AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU, Sequential, init
from ...tensor import Tensor
from ._weights import check_weights

__all__ = ["VGG", "make_layers", "cfgs", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn"]

# Convolution widths per stage, "M" a 2x2 max pool (configurations A, B, D, E of the paper).
cfgs: dict[str, list[str | int]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGG(Module):
    """features -> 7x7 adaptive average pool -> classifier (25088 -> 4096 -> 4096 -> num_classes)."""

    def __init__(self, features: Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        init.constant_(m.bias, 0)
                elif isinstance(m, BatchNorm2d):
                    init.constant_(m.weight, 1)
                    init.constant_(m.bias, 0)
                elif isinstance(m, Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.constant_(m.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, 3, H, W), H and W >= 32 (five 2x2 poolings)."""
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def make_layers(cfg: list[str | int], batch_norm: bool = False) -> Sequential:
    """The `features` Sequential of a configuration: 3x3 convolutions (padding 1) [+ BatchNorm] + ReLU, and max
    pools at "M"."""
    layers: list[Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(kernel_size=2, stride=2))
        else:
            conv2d = Conv2d(in_channels, int(v), kernel_size=3, padding=1)
            layers += [conv2d, BatchNorm2d(int(v)), ReLU(inplace=True)] if batch_norm else [conv2d, ReLU(inplace=True)]
            in_channels = int(v)
    return Sequential(*layers)


def _vgg(name: str, cfg: str, batch_norm: bool, weights: Any, kwargs: dict[str, Any]) -> VGG:
    check_weights(name, weights)
    return VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), **kwargs)


def vgg11(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 (configuration A); kwargs go to VGG (num_classes, init_weights, dropout). weights must be None."""
    return _vgg("vgg11", "A", False, weights, kwargs)


def vgg11_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm (132,868,840 parameters with 1000 classes); kwargs go to VGG. weights must be None."""
    return _vgg("vgg11_bn", "A", True, weights, kwargs)


def vgg13(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 (configuration B); kwargs go to VGG. weights must be None."""
    return _vgg("vgg13", "B", False, weights, kwargs)


def vgg13_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm; kwargs go to VGG. weights must be None."""
    return _vgg("vgg13_bn", "B", True, weights, kwargs)


def vgg16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 (configuration D); kwargs go to VGG. weights must be None."""
    return _vgg("vgg16", "D", False, weights, kwargs)


def vgg16_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm; kwargs go to VGG. weights must be None."""
    return _vgg("vgg16_bn", "D", True, weights, kwargs)


def vgg19(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 (configuration E); kwargs go to VGG. weights must be None."""
    return _vgg("vgg19", "E", False, weights, kwargs)


def vgg19_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm; kwargs go to VGG. weights must be None."""
    return _vgg("vgg19_bn", "E", True, weights, kwargs)
