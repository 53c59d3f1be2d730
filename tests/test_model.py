import pytest
import torch

from eraskit.model import ResNet18, count_parameters, summarize


def test_logits_shape():
    model = ResNet18(width=4).eval()
    with torch.no_grad():
        assert model(torch.randn(5, 3, 32, 32)).shape == (5, 10)
    assert ResNet18(width=4, num_classes=3)(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def test_standard_width_has_the_resnet18_parameter_count():
    assert count_parameters(ResNet18(width=64)) == 11_173_962


def test_stage_resolutions_on_32x32_input():
    model = ResNet18(width=4).eval()
    shapes = {}
    for name in ("layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(
            lambda mod, inputs, output, name=name: shapes.__setitem__(name, tuple(output.shape)))
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32))
    assert shapes == {"layer1": (2, 4, 32, 32), "layer2": (2, 8, 16, 16),
                      "layer3": (2, 16, 8, 8), "layer4": (2, 32, 4, 4)}


def test_summarize_lists_every_stage_and_the_total():
    model = ResNet18(width=8)
    model.train()
    text = summarize(model)
    assert f"{count_parameters(model):,}" in text.splitlines()[-1]
    assert text.splitlines()[-1].startswith("total")
    for name, shape in (("layer3", "(32, 8, 8)"), ("layer4", "(64, 4, 4)"), ("linear", "(10,)")):
        assert any(line.startswith(name) and shape in line for line in text.splitlines())
    assert model.training, "summarize must restore training mode"
    assert all(not m._forward_hooks for m in model.modules()), "hooks left behind"


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_channels_last_gives_the_same_logits(memory_format):
    torch.manual_seed(0)
    model = ResNet18(width=8).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
        model = model.to(memory_format=memory_format)
        got = model(x.contiguous(memory_format=memory_format))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
