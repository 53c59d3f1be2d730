import json
import math
from dataclasses import fields

import pytest

from eraskit.config import PRESETS, Config, field_help, not_the_assignment, preset, same_training
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


def test_same_training_ignores_runtime_fields_only():
    a = preset("smoke")
    assert same_training(a, a.replace(device="cpu", workers=3, compile=True, channels_last=False,
                                      eval_batch_size=64))
    assert not same_training(a, a.replace(epochs=a.epochs + 1))
    assert not same_training(a, a.replace(seed=2))


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
