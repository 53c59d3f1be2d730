import json
import math
from dataclasses import fields

import numpy as np
import pytest

from eraskit import config as cfg
from eraskit.config import PRESETS, Config, field_help, not_the_assignment, preset
from eraskit.errors import EraskitError


def test_defaults_are_the_assignment():
    c = Config()
    assert (c.epochs, c.width, c.batch_size) == (20, 64, 512)
    assert c.optimizer == "sgd" and c.max_lr is None  # the LR range test picks the peak
    assert (c.pad, c.cutout) == (4, 16)
    assert preset("full") == c


def test_presets_apply_their_values_and_overrides():
    smoke = preset("smoke")
    for name, value in PRESETS["smoke"].items():
        assert getattr(smoke, name) == value
    assert preset("cpu", epochs=3, max_lr=None).epochs == 3  # None means "keep the preset's"
    assert preset("cpu", max_lr=None).max_lr is None


def test_unknown_preset_names_the_choices():
    with pytest.raises(EraskitError, match="unknown preset 'fast'.*full, smoke, cpu"):
        preset("fast")


def test_json_round_trip():
    c = preset("smoke", max_lr=0.3, cam_method="layercam", seed=7)
    again = Config.from_dict(json.loads(c.to_json()))
    assert again == c and again.to_dict() == c.to_dict()


def test_missing_keys_take_defaults():
    assert Config.from_dict({"epochs": 3}) == Config(epochs=3)


def test_unknown_keys_are_rejected():
    with pytest.raises(EraskitError, match="unknown config field.*learning_rate"):
        Config.from_dict({"epochs": 3, "learning_rate": 0.1})


def test_config_is_frozen_and_replace_validates():
    c = Config()
    with pytest.raises(AttributeError):
        c.epochs = 3
    assert c.replace(epochs=3).epochs == 3
    with pytest.raises(EraskitError, match="epochs"):
        c.replace(epochs=0)


@pytest.mark.parametrize("field, value", [
    ("epochs", 0),
    ("epochs", -3),
    ("max_lr", -1.0),
    ("max_lr", 0.0),
    ("batch_size", 0),
    ("width", 0),
    ("device", "tpu"),
    ("optimizer", "rmsprop"),
    ("anneal", "step"),
    ("cam_layer", "layer5"),
    ("epochs", "20"),  # a string where a whole number belongs
    ("epochs", 2.5),
    ("epochs", True),  # bool is an int subclass in Python: still not a count
    ("width", None),
    ("channels_last", 1),  # an int where a bool belongs
    ("precision", "fp8"),
    ("gpu_augment", "yes"),
    ("flip_tta", "yes"),
    ("max_lr", math.nan),
    ("momentum", math.inf),
    ("max_lr", True),
    ("device", 0),
    ("momentum", 1.0),
    ("label_smoothing", -0.1),
    ("pct_start", 0.0),
    ("weight_decay", -1e-4),
    ("cutout", 40),
    ("seed", -1),
    ("workers", -2),
    ("lr_iters", 9),
    ("lr_factor", 0.0),
    ("subset", 0),
    ("base_momentum", 1.0),
    ("flip_p", 1.5),
    ("cutout_p", -0.1),
    ("lr_diverge_at", 1.0),
])
def test_bad_values_raise_naming_the_field(field, value):
    with pytest.raises(EraskitError) as caught:
        Config(**{field: value})
    assert field in str(caught.value)
    assert "\n" not in str(caught.value)


def test_lr_bounds_must_rise():
    with pytest.raises(EraskitError, match="lr_start"):
        Config(lr_start=1.0, lr_end=0.1)


def test_ints_are_accepted_where_floats_belong():
    assert Config(max_lr=1, div_factor=10).max_lr == 1


def test_every_field_has_a_one_line_help():
    for f in fields(Config):
        text = field_help(f.name)
        assert text and "\n" not in text and len(text) < 120, f.name


def test_only_a_complete_full_run_is_the_assignment():
    full = preset("full")
    assert not_the_assignment(full) == ""  # before training: nothing says otherwise yet
    assert not_the_assignment(full, 20, 50_000, 10_000) == ""
    assert not_the_assignment(full, 19, 50_000, 10_000) == "19 of 20 epochs done"
    # subset None on a smaller .npz: the counts the run recorded decide
    assert not_the_assignment(full, 20, 3_000, 10_000) == "3,000 training images, not 50,000"
    assert not_the_assignment(preset("cpu")) == ("width 16, not 64; 10,000 training images, "
                                                 "not 50,000")
    assert not_the_assignment(preset("smoke"), 1) == (
        "width 8, not 64; epochs 3, not 20; 2,000 training images, not 50,000; 500 test images, "
        "not 10,000; 1 of 3 epochs done")


def test_field_types_come_from_the_annotations():
    assert cfg.field_type("epochs") == (int, False)
    assert cfg.field_type("max_lr") == (float, True)
    assert cfg.field_type("flip_tta") == (bool, False)
    assert cfg.field_type("cam_layer") == (str, False)
    for f in fields(Config):  # every default is of its own field's type
        kind, optional = cfg.field_type(f.name)
        assert (f.default is None and optional) or isinstance(f.default, kind), f.name


def test_every_field_has_a_section_and_choices_hold_the_default():
    listed = [name for names in cfg.sections().values() for name in names]
    assert listed == [f.name for f in fields(Config)]  # each once, in the class's order
    assert list(cfg.sections())[:2] == ["data", "model"]
    assert cfg.CHOICES["optimizer"] == ("sgd", "adam")
    for name, allowed in cfg.CHOICES.items():
        assert getattr(Config(), name) in allowed, name


@pytest.mark.parametrize("name, text, value", [
    ("epochs", " 7 ", 7),
    ("max_lr", "0.4", 0.4),
    ("max_lr", "none", None),
    ("max_lr", "", None),
    ("subset", "None", None),
    ("flip_tta", "off", False),
    ("channels_last", "YES", True),
    ("compile", "1", True),
    ("optimizer", "adam", "adam"),
])
def test_text_is_read_as_the_fields_type(name, text, value):
    assert cfg.parse_value(name, text) == value


@pytest.mark.parametrize("name, text", [
    ("epochs", "1.5"), ("epochs", "none"), ("max_lr", "fast"), ("flip_tta", "maybe"),
])
def test_text_that_is_not_the_fields_type_is_a_value_error(name, text):
    with pytest.raises(ValueError):
        cfg.parse_value(name, text)


def test_a_config_json_of_an_older_kit_still_loads():
    old = Config().to_dict()
    for added in ("base_momentum", "flip_p", "cutout_p", "lr_diverge_at"):
        old.pop(added)  # fields that older config.json files lack
    old.pop("precision")
    old.update(amp=False, gpu_augment=True)
    loaded = Config.from_dict(old)
    assert loaded == Config(precision="fp32", gpu_augment="on")
    assert (loaded.base_momentum, loaded.flip_p, loaded.cutout_p, loaded.lr_diverge_at) == (
        0.85, 0.5, 0.5, 5.0)  # what those kits did


def test_a_warm_up_of_one_step_is_refused_before_any_data():
    config = preset("smoke", subset=64, batch_size=64)
    assert cfg.steps_per_epoch(config, 64) == 1 and cfg.steps_per_epoch(config, 127) == 1
    with pytest.raises(EraskitError, match="3 training steps leave OneCycle no warm-up"):
        cfg.check_warm_up(config, cfg.steps_per_epoch(config, 64))
    cfg.check_warm_up(config, cfg.steps_per_epoch(config, 128))  # 6 steps: 1.5 to warm up


def test_the_augmentation_probabilities_are_the_configs():
    import torch
    from eraskit.augment import train_transform
    from eraskit.gpu_augment import BatchAugment

    image = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    for flip_p, expected in ((1.0, image[:, ::-1]), (0.0, image)):
        config = Config(pad=0, cutout=0, flip_p=flip_p)
        np.testing.assert_array_equal(train_transform(config, normalize=False)(image=image)
                                      ["image"], expected)
        batch = BatchAugment(config, torch.device("cpu"))(torch.as_tensor(image[None]),
                                                         torch.Generator().manual_seed(0))
        unflipped = BatchAugment(Config(pad=0, cutout=0, flip_p=0.0), torch.device("cpu"))(
            torch.as_tensor(expected[None].copy()), torch.Generator().manual_seed(0))
        torch.testing.assert_close(batch, unflipped)
    holes = Config(pad=0, cutout=8, cutout_p=0.0, flip_p=0.0)
    np.testing.assert_array_equal(train_transform(holes, normalize=False)(image=image)["image"],
                                  image)


def test_onecycle_falls_to_the_configs_base_momentum():
    import torch
    from eraskit.train import make_scheduler

    config = Config(epochs=2, base_momentum=0.6, momentum=0.95)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.95)
    scheduler = make_scheduler(optimizer, config, max_lr=0.1, steps_per_epoch=10)
    used = []
    for _ in range(20):
        used.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        scheduler.step()
    assert max(used) == pytest.approx(0.95) and min(used) == pytest.approx(0.6)


def test_the_range_tests_divergence_threshold_is_the_configs():
    from eraskit.lr_finder import rescore

    lrs = list(np.geomspace(1e-4, 1.0, 30))
    raw = list(np.linspace(2.3, 1.0, 29)) + [4.0]  # the last step: 4x the lowest loss
    sweep = {"lrs": lrs, "raw_losses": raw}
    kept = rescore(sweep, Config(), steps_per_epoch=50)  # 4x is below the default 5x
    dropped = rescore(sweep, Config(lr_diverge_at=3.0), steps_per_epoch=50)
    assert len(kept["losses"]) == 30 and len(dropped["losses"]) == 29
