"""The CIFAR variant of ResNet-18: a 3x3 stem, no max-pool, four stages of two basic blocks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import Config
from .hardware import use_channels_last


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut; the shortcut is a 1x1 convolution when the shape changes."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """(N, 3, 32, 32) normalised images -> (N, num_classes) logits.

    Stage outputs on 32x32 inputs: layer1 32x32, layer2 16x16, layer3 8x8, layer4 4x4.
    """

    def __init__(self, width: int = 64, num_classes: int = 10):
        super().__init__()
        self.width, self.num_classes = width, num_classes
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        channels = [width, 2 * width, 4 * width, 8 * width]
        self.layer1 = self._stage(width, channels[0], stride=1)
        self.layer2 = self._stage(channels[0], channels[1], stride=2)
        self.layer3 = self._stage(channels[1], channels[2], stride=2)
        self.layer4 = self._stage(channels[2], channels[3], stride=2)
        self.linear = nn.Linear(channels[3], num_classes)

    @staticmethod
    def _stage(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_channels, out_channels, stride),
                             BasicBlock(out_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def build_model(config: Config, num_classes: int, device: torch.device) -> "ResNet18":
    """A freshly initialised ResNet-18 of the config's width on `device`, in NHWC memory where
    the config and device use it; the config's seed fixes the initial weights."""
    torch.manual_seed(config.seed)
    model = ResNet18(config.width, num_classes).to(device)
    nhwc = use_channels_last(config, device)
    return model.to(memory_format=torch.channels_last) if nhwc else model


def count_parameters(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def summarize(model: nn.Module, input_size: tuple[int, ...] = (1, 3, 32, 32)) -> str:
    """A table of each stage's output shape and parameter count, and the total."""
    rows, hooks = [], []
    for name, module in model.named_children():
        def record(mod, inputs, output, name=name):
            rows.append((name, type(mod).__name__, tuple(output.shape[1:]),
                         sum(p.numel() for p in mod.parameters())))
        hooks.append(module.register_forward_hook(record))
    was_training = model.training
    try:
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(input_size, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    lines = [f"{'layer':<8}{'type':<14}{'output (C, H, W)':<20}{'parameters':>12}"]
    lines += [f"{n:<8}{t:<14}{str(s):<20}{p:>12,}" for n, t, s, p in rows]
    lines.append(f"{'total':<42}{count_parameters(model):>12,}")
    return "\n".join(lines)
