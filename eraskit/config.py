"""Every hyperparameter in one frozen, typed dataclass, plus named presets.

Each field carries its own one-line help, its --help section and, where it has them, its
choices and its range (see `_field`): the command line, the notebooks' ERASKIT_<NAME>
variables and `validate` all read them from here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import typing
from dataclasses import dataclass, fields
from typing import Any, Optional

from .errors import EraskitError

# The --help sections, in the order the fields list them.
DATA, MODEL, OPTIMISATION = "data", "model", "optimisation"
AUGMENTATION, RANGE_TEST = "augmentation and test-time flip", "LR range test"
EXECUTION, GRADCAM = "execution", "Grad-CAM"

# The ranges a number may be in: name -> (test, how the error message says it).
RANGES = {
    "positive": (lambda x: x > 0, "must be positive"),
    "not negative": (lambda x: x >= 0, "must not be negative"),
    "[0, 1)": (lambda x: 0 <= x < 1, "must be in [0, 1)"),
    "(0, 1)": (lambda x: 0 < x < 1, "must be in (0, 1)"),
    "[0, 1]": (lambda x: 0 <= x <= 1, "must be in [0, 1]"),
    "above 1": (lambda x: x > 1, "must be above 1"),
}


def _field(default: Any, help: str, section: str, choices: tuple[str, ...] = (),
           within: str = "", none: str = "") -> Any:
    """A Config field with its one-line help (--help shows it), its --help section, the
    values it may take (`choices`), the range of a number (`within`, a key of RANGES;
    None, where allowed, is always in range) and, for a field that may be None, what None
    (`none` on the command line) chooses, in words."""
    assert not within or within in RANGES, within
    return dataclasses.field(default=default, metadata={
        "help": help, "section": section, "choices": choices, "within": within, "none": none})


@dataclass(frozen=True)
class Config:
    """A run's settings. Saved as config.json inside the run and read back, never repeated."""

    # data
    subset: Optional[int] = _field(None, "training images to use, class-balanced and seeded",
                                   DATA, within="positive", none="all 50,000")
    test_subset: Optional[int] = _field(None, "test images to use", DATA, within="positive",
                                        none="all 10,000")
    # model
    width: int = _field(64, "channels of the first stage; 64 is the standard ResNet-18 "
                            "(11.2M parameters); 16 needs 16x fewer operations", MODEL,
                        within="positive")
    # optimisation
    epochs: int = _field(20, "passes over the training images", OPTIMISATION, within="positive")
    batch_size: int = _field(512, "images per training step", OPTIMISATION, within="positive")
    optimizer: str = _field("sgd", "sgd (Nesterov momentum) or adam", OPTIMISATION,
                            choices=("sgd", "adam"))
    max_lr: Optional[float] = _field(None, "OneCycle's peak rate", OPTIMISATION,
                                     within="positive", none="the LR range test's suggestion")
    momentum: float = _field(0.9, "SGD momentum (Adam's beta1); OneCycle lowers it to "
                                  "base_momentum, if above, while the rate rises", OPTIMISATION,
                             within="[0, 1)")
    # 0.85, OneCycle's usual floor: momentum and rate move in opposite directions.
    base_momentum: float = _field(0.85, "OneCycle's momentum at the peak rate (never above "
                                        "momentum)", OPTIMISATION, within="[0, 1)")
    weight_decay: float = _field(5e-4, "L2 penalty on conv and linear weights (BatchNorm "
                                       "parameters and biases get none)", OPTIMISATION,
                                 within="not negative")
    decay_norm_and_bias: bool = _field(False, "decay every parameter, as the original "
                                              "submission did", OPTIMISATION)
    label_smoothing: float = _field(0.1, "share of each target spread over all classes",
                                    OPTIMISATION, within="[0, 1)")
    pct_start: float = _field(0.25, "share of the steps spent warming up (5 of 20 epochs)",
                              OPTIMISATION, within="(0, 1)")
    div_factor: float = _field(25.0, "OneCycle starts at max_lr / div_factor", OPTIMISATION,
                               within="positive")
    final_div_factor: float = _field(1e3, "OneCycle ends at max_lr / div_factor / "
                                          "final_div_factor", OPTIMISATION, within="positive")
    anneal: str = _field("cos", "shape of OneCycle's curves: cos or linear", OPTIMISATION,
                         choices=("cos", "linear"))
    # augmentation (albumentations; sizes in pixels, probabilities per training image)
    pad: int = _field(4, "reflect-pad each side by this, then random-crop back to 32x32",
                      AUGMENTATION, within="not negative")
    flip_p: float = _field(0.5, "share of training images mirrored left-right", AUGMENTATION,
                           within="[0, 1]")
    cutout: int = _field(16, "side of the one square hole (see cutout_p), filled with the "
                             "dataset mean; 0 = off", AUGMENTATION, within="not negative")
    cutout_p: float = _field(0.5, "share of training images that get the hole", AUGMENTATION,
                             within="[0, 1]")
    flip_tta: bool = _field(True, "test on each image and its mirror image, averaging logits",
                            AUGMENTATION)
    gpu_augment: str = _field("auto", "crop, flip and hole on whole batches on the device: on, "
                                      "off, or auto = on for a GPU with 4 CPU cores or fewer",
                              AUGMENTATION, choices=("auto", "on", "off"))
    # LR range test (torch-lr-finder)
    lr_start: Optional[float] = _field(None, "the range test's first rate", RANGE_TEST,
                                       within="positive", none="1e-4 for SGD, 1e-6 for Adam")
    lr_end: Optional[float] = _field(None, "the range test's last rate, reached exponentially",
                                     RANGE_TEST, within="positive",
                                     none="10 for SGD, 1 for Adam")
    lr_iters: Optional[int] = _field(None, "training steps of the range test", RANGE_TEST,
                                     none="a quarter of the run's steps, 20 to 100, at most "
                                          "half of them")
    lr_factor: Optional[float] = _field(None, "max LR = this x the rate where the range test's "
                                              "loss reached its floor", RANGE_TEST,
                                        within="positive", none="grows with OneCycle's warm-up")
    # 5, torch-lr-finder's own default: past it the curve says nothing.
    lr_diverge_at: float = _field(5.0, "the range test stops once a loss exceeds this multiple "
                                       "of the lowest so far", RANGE_TEST, within="above 1")
    # execution
    device: str = _field("auto", "auto picks cuda, then mps, then cpu", EXECUTION,
                         choices=("auto", "cpu", "cuda", "mps"))
    precision: str = _field("auto", "auto = bf16 autocast where native, fp16 with loss scaling "
                                    "on CUDA before Ampere, else fp32; or fp32, bf16, fp16",
                            EXECUTION, choices=("auto", "fp32", "bf16", "fp16"))
    channels_last: bool = _field(True, "NHWC memory layout: faster convolutions on CPUs and "
                                       "tensor cores", EXECUTION)
    compile: bool = _field(False, "torch.compile the model (slow first epoch)", EXECUTION)
    workers: int = _field(-1, "DataLoader worker processes; -1 = every spare core on CUDA, "
                              "1 on a CPU", EXECUTION)
    eval_batch_size: int = _field(1024, "images per evaluation step", EXECUTION,
                                  within="positive")
    seed: int = _field(1, "seeds the weights, the shuffling and every augmentation", EXECUTION,
                       within="not negative")
    # Grad-CAM
    cam_method: str = _field("gradcam", "how the class activation maps are computed", GRADCAM,
                             choices=("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam",
                                      "eigencam"))
    cam_layer: str = _field("layer3", "the layer whose activations are mapped: layer3 gives "
                                      "8x8 maps, layer4 only 4x4", GRADCAM,
                            choices=("layer1", "layer2", "layer3", "layer4"))

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "Config":
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Config":
        """Rebuild a Config from a dict; unknown keys are an error, missing keys take defaults."""
        values = upgrade(values)
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise EraskitError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**values)

    def to_json(self) -> str:
        """The settings as indented JSON, as config.json holds them."""
        return json.dumps(self.to_dict(), indent=2)


FIELDS = {f.name: f for f in fields(Config)}  # every field by name, in the class's order
# The values each field with choices may take: CHOICES["cam_layer"] = ("layer1", ...).
CHOICES = {name: f.metadata["choices"] for name, f in FIELDS.items() if f.metadata["choices"]}


def field_help(name: str) -> str:
    """A Config field's one-line help."""
    return FIELDS[name].metadata["help"]


def none_means(name: str) -> str:
    """What None (`none` on the command line) chooses for a field, in words ("" for a field
    that cannot be None)."""
    return FIELDS[name].metadata["none"]


def sections() -> dict[str, list[str]]:
    """The fields by --help section, in the order the class lists them."""
    grouped: dict[str, list[str]] = {}
    for name, f in FIELDS.items():
        grouped.setdefault(f.metadata["section"], []).append(name)
    return grouped


@functools.cache
def field_type(name: str) -> tuple[type, bool]:
    """A Config field's type (int, float, str or bool) and whether it may be None, read from
    the class's annotations."""
    hint = typing.get_type_hints(Config)[name]
    kinds = [t for t in typing.get_args(hint) if t is not type(None)] or [hint]
    return kinds[0], len(kinds) < len(typing.get_args(hint))


SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False}


def parse_text(text: str, kind: type, optional: bool = False) -> Any:
    """`text` as a value of type `kind`: "none" or "" gives None where `optional`; a bool is
    on/off, true/false, yes/no or 1/0. Raises ValueError when the text is no such value."""
    word = text.strip()
    if optional and word.lower() in ("", "none"):
        return None
    if kind is bool:
        if word.lower() not in SWITCH_WORDS:
            raise ValueError(f"not a bool: {text!r}")
        return SWITCH_WORDS[word.lower()]
    return kind(word)


def parse_value(name: str, text: str) -> Any:
    """The value of the field `name` from text, as a command-line flag or the notebooks'
    ERASKIT_<NAME> variable spells it (parse_text with the field's type). Not validated:
    the Config built from it is."""
    return parse_text(text, *field_type(name))


def upgrade(values: dict) -> dict:
    """A config.json written by an older kit in today's terms: `amp` true/false became
    precision auto/fp32, and gpu_augment true/false became on/off. (Fields added since take
    their defaults, which are what the older kit did.)"""
    values = dict(values)
    if "amp" in values and "precision" not in values:
        amp = values.pop("amp")
        values["precision"] = "auto" if amp is True else "fp32" if amp is False else amp
    if isinstance(values.get("gpu_augment"), bool):
        values["gpu_augment"] = "on" if values["gpu_augment"] else "off"
    return values


# Fields that only say how to run, not what is trained: they may differ when a run is resumed.
RUNTIME_FIELDS = ("device", "workers", "compile", "channels_last", "eval_batch_size")
# OneCycle's schedule after the range test: the peak, its warm-up and its shape.
SCHEDULE_SHAPE_FIELDS = ("epochs", "max_lr", "pct_start", "div_factor", "final_div_factor",
                         "anneal", "base_momentum")
EVALUATION_FIELDS = ("test_subset", "flip_tta")  # how the test set is scored
GRADCAM_FIELDS = ("cam_method", "cam_layer")  # what the analysis maps; a trained run may change

# Fields the LR range test does not depend on: a saved sweep stays valid when only these change.
# (epochs among them: with lr_iters unset they set the sweep's length, but a saved sweep of
# another length still reads the same curve; the rule, and lr_factor with it, is rescored for
# the run. gpu_augment among them: the range test always augments with albumentations.)
RANGE_TEST_IGNORES = (SCHEDULE_SHAPE_FIELDS + EVALUATION_FIELDS + GRADCAM_FIELDS
                      + ("lr_factor", "gpu_augment"))


def changed_fields(a: Config, b: Config, ignore: tuple[str, ...] = RUNTIME_FIELDS) -> list[str]:
    """The fields outside `ignore` (by default, the training settings) that differ between two
    configs, in the class's order."""
    return [name for name in FIELDS if name not in ignore and getattr(a, name) != getattr(b, name)]


def differences(a: Config, b: Config, a_name: str, b_name: str,
                ignore: tuple[str, ...] = RUNTIME_FIELDS) -> str:
    """changed_fields in words ("" if none): "epochs: 3 in the checkpoint, 5 in config.json"."""
    return "; ".join(f"{name}: {getattr(a, name)!r} in {a_name}, {getattr(b, name)!r} in {b_name}"
                     for name in changed_fields(a, b, ignore))


PRESETS: dict[str, dict] = {
    # The assignment: full width, all data, 20 epochs.
    "full": {},
    # Under a minute on 2 CPU cores: checks that every step runs; reaches 30-40%, not more.
    # Its 23-step sweep usually comes out flat: the safe SGD peak for batch 64 (0.025) decides.
    "smoke": dict(width=8, epochs=3, subset=2000, test_subset=500, batch_size=64,
                  eval_batch_size=500),
    # 20 epochs on 2 CPU cores in well under an hour: a narrow network on a fifth of the data.
    "cpu": dict(width=16, subset=10000, batch_size=256),
}


def preset(name: str, **overrides: Any) -> Config:
    """The named preset with some fields overridden; None values are ignored."""
    if name not in PRESETS:
        raise EraskitError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    values = {**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}}
    return Config.from_dict(values)


CIFAR10_SIZES = (50_000, 10_000)  # training and test images of the whole data set


def not_the_assignment(config: Config, epochs_done: Optional[int] = None,
                       train_images: Optional[int] = None,
                       test_images: Optional[int] = None) -> str:
    """Why a run is not a complete run of the full assignment, in words ("" when it is): the
    full preset's width and epochs, all of CIFAR-10, every epoch done. Counts not known yet
    (before training) are left unchecked."""
    full, problems = preset("full"), []
    for name in ("width", "epochs"):
        if getattr(config, name) != getattr(full, name):
            problems.append(f"{name} {getattr(config, name)}, not {getattr(full, name)}")
    for split, used, size, whole in (("training", train_images, config.subset, CIFAR10_SIZES[0]),
                                     ("test", test_images, config.test_subset, CIFAR10_SIZES[1])):
        count = used if used is not None else size
        if count is not None and count < whole:
            problems.append(f"{count:,} {split} images, not {whole:,}")
    if epochs_done is not None and epochs_done < config.epochs:
        problems.append(f"{epochs_done} of {config.epochs} epochs done")
    return "; ".join(problems)


def steps_per_epoch(config: Config, train_images: int) -> int:
    """Training steps in one epoch over `train_images` images: whole batches only (the
    training loader drops a last partial one), one when the images make exactly one."""
    return max(1, train_images // config.batch_size)


def check_warm_up(config: Config, steps_per_epoch: int) -> None:
    """Refuse a schedule whose warm-up would be a single step (or none)."""
    total = config.epochs * steps_per_epoch
    if config.pct_start * total <= 1:
        raise EraskitError(f"{total} training step{'s' * (total != 1)} leave{'s' * (total == 1)} "
                           f"OneCycle no warm-up: use more epochs, "
                           f"more data or a smaller batch size")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise EraskitError(message)


def _type_problem(value: Any, kind: type) -> str:
    """Why `value` is not of the field type `kind` ("" when it is)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is bool and not isinstance(value, bool):
        return "must be true or false"
    if kind is int and not (number and isinstance(value, int)):
        return "must be a whole number"
    if kind is float and not (number and math.isfinite(value)):
        return "must be a finite number"
    if kind is str and not isinstance(value, str):
        return "must be a string"
    return ""


def _check_field(name: str, value: Any) -> None:
    """The field's type, choices and range, as its annotation and metadata give them."""
    kind, optional = field_type(name)
    if value is None:
        _check(optional, f"{name} must not be None")
        return
    problem = _type_problem(value, kind)
    _check(not problem, f"{name} {problem}, got {value!r}")
    allowed, within = FIELDS[name].metadata["choices"], FIELDS[name].metadata["within"]
    _check(not allowed or value in allowed,
           f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    if within:
        test, words = RANGES[within]
        _check(test(value), f"{name} {words}, got {value}")


def validate(config: Config) -> None:
    """Raise EraskitError naming the first field whose type or value is unusable, then the
    first combination of fields that is."""
    for name in FIELDS:
        _check_field(name, getattr(config, name))
    if config.lr_start is not None and config.lr_end is not None:
        _check(config.lr_start < config.lr_end, "lr_start must be below lr_end")
    _check(config.lr_iters is None or config.lr_iters >= 10,
           f"lr_iters must be at least 10 (too few points to read a curve), got {config.lr_iters}")
    _check(config.workers >= -1, f"workers must be -1 (auto) or at least 0, got {config.workers}")
    _check(config.cutout <= 32, f"cutout must be at most 32 pixels, got {config.cutout}")
