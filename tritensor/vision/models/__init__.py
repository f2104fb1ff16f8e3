"""torchvision.models for tritensor: LeNet5, ResNet (resnet18/34/50) and VGG (vgg11 ... vgg19_bn), built with
torchvision's module names so state_dict keys and shapes equal torchvision's. No pretrained weights are downloaded:
`weights=None` only; load a state_dict you have with `model.load_state_dict(...)`."""

from .lenet import LeNet5
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["LeNet5", "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "VGG", "vgg11",
           "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]
