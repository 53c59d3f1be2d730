"""eraskit: train a ResNet-18 on CIFAR-10 and show what it learned."""

__version__ = "0.1.0"
