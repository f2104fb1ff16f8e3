"""LeNet-5 (LeCun et al., 1998) in the form PyTorch's tutorial gives it: two 5x5 convolutions, each followed by ReLU
and 2x2 max pooling, then three linear layers; 61,706 parameters for 1x32x32 inputs and 10 classes."""

from __future__ import annotations

from ...nn import Conv2d, Linear, MaxPool2d, Module, ReLU
from ...tensor import Tensor

__all__ = ["LeNet5"]


class LeNet5(Module):
    """LeNet-5 for in_channels x 32 x 32 images (28x28 MNIST images need 2 pixels of padding or a resize to 32).

    Modules conv1, conv2, fc1, fc2, fc3 (the state_dict keys of PyTorch's tutorial network).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        self.conv1 = Conv2d(in_channels, 6, 5)
        self.conv2 = Conv2d(6, 16, 5)
        self.fc1 = Linear(16 * 5 * 5, 120)
        self.fc2 = Linear(120, 84)
        self.fc3 = Linear(84, num_classes)
        self.relu = ReLU()
        self.pool = MaxPool2d(2, 2)

    def forward(self, x: Tensor) -> Tensor:
        """Logits (N, num_classes) of images (N, in_channels, 32, 32)."""
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = x.flatten(1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
