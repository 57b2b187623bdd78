"""The paper's CIFAR-10 models (HetConv, Section 4.2-4.4), at 32x32 input.

* ``vgg16_cifar``: the VGG-16 of Li et al. (the paper's ref. [20]) that Table 1 uses: 13 conv
  layers, each followed by BN and ReLU, and a classifier 512 -> 512 -> 10 with BN.
* ``resnet56_cifar``: He et al.'s CIFAR ResNet, stages of 16-32-64 channels with 9 basic blocks
  each, identity (option A, zero-padded) shortcuts, as in Table 3.
* ``mobilenet_cifar``: MobileNet v1 for 32x32 input (first conv stride 1), as in Table 4.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

VGG16_LAYERS = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
                512, 512, 512, "M")


class VGGCifar(nn.Module):
    def __init__(self, layers=VGG16_LAYERS, num_classes: int = 10) -> None:
        super().__init__()
        features: list[nn.Module] = []
        channels = 3
        for item in layers:
            if item == "M":
                features.append(nn.MaxPool2d(2, 2))
            else:
                features += [nn.Conv2d(channels, item, 3, padding=1, bias=False),
                             nn.BatchNorm2d(item), nn.ReLU(inplace=True)]
                channels = item
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Linear(channels, 512), nn.BatchNorm1d(512), nn.ReLU(inplace=True),
            nn.Linear(512, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class _ShortcutA(nn.Module):
    """Option A shortcut: subsample by 2 and zero-pad the new channels (no parameters)."""

    def __init__(self, extra: int) -> None:
        super().__init__()
        self.extra = extra

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.extra // 2
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, half, self.extra - half))


class _BasicBlock(nn.Module):
    def __init__(self, inp: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.shortcut: nn.Module = (
            _ShortcutA(out - inp) if stride != 1 or inp != out else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, depth: int = 56, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        blocks = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        stages: list[nn.Module] = []
        inp = 16
        for i, width in enumerate((16, 32, 64)):
            layer = []
            for b in range(blocks):
                layer.append(_BasicBlock(inp, width, 2 if (i > 0 and b == 0) else 1))
                inp = width
            stages.append(nn.Sequential(*layer))
        self.layer1, self.layer2, self.layer3 = stages
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# (output channels, stride) of MobileNet v1's 13 depthwise-separable blocks, CIFAR strides.
MOBILENET_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
                    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))


class MobileNetCifar(nn.Module):
    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32),
                                   nn.ReLU(inplace=True)]
        inp = 32
        for out, stride in MOBILENET_BLOCKS:
            layers += [
                nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False),
                nn.BatchNorm2d(inp), nn.ReLU(inplace=True),
                nn.Conv2d(inp, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(inplace=True),
            ]
            inp = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(inp, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def vgg16_cifar() -> nn.Module:
    return VGGCifar()


def resnet56_cifar() -> nn.Module:
    return ResNetCifar(56)


def mobilenet_cifar() -> nn.Module:
    return MobileNetCifar()
