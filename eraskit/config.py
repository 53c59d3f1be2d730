"""Every hyperparameter in one frozen, typed dataclass, plus named presets."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from typing import Any, Optional

from .errors import EraskitError

CHOICES = {
    "optimizer": ("sgd", "adam"),
    "anneal": ("cos", "linear"),
    "device": ("auto", "cpu", "cuda", "mps"),
    "cam_method": ("gradcam", "gradcam++", "hirescam", "xgradcam", "layercam", "eigencam"),
    "cam_layer": ("layer1", "layer2", "layer3", "layer4"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
    "gpu_augment": ("auto", "on", "off"),
}


def _field(default: Any, help: str) -> Any:
    """A Config field with its one-line help (the command line's --help shows it)."""
    return dataclasses.field(default=default, metadata={"help": help})


def field_help(name: str) -> str:
    """A Config field's one-line help."""
    return next(f.metadata["help"] for f in fields(Config) if f.name == name)


@dataclass(frozen=True)
class Config:
    """A run's settings. Saved as config.json inside the run and read back, never repeated."""

    # data
    subset: Optional[int] = _field(None, "training images to use (class-balanced, "
                                         "seeded; all = 50,000)")
    test_subset: Optional[int] = _field(None, "test images to use (all = 10,000)")
    # model
    width: int = _field(64, "channels of the first stage; 64 is the standard ResNet-18 "
                            "(11.2M parameters); 16 needs 16x fewer operations")
    # optimisation
    epochs: int = _field(20, "passes over the training images")
    batch_size: int = _field(512, "images per training step")
    optimizer: str = _field("sgd", "sgd (Nesterov momentum) or adam")
    max_lr: Optional[float] = _field(None, "OneCycle's peak rate (range test = the LR "
                                           "range test's suggestion)")
    momentum: float = _field(0.9, "SGD momentum (Adam's beta1); OneCycle lowers it to "
                                  "0.85, if above, while the rate rises")
    weight_decay: float = _field(5e-4, "L2 penalty on conv and linear weights (BatchNorm "
                                       "parameters and biases get none)")
    decay_norm_and_bias: bool = _field(False, "decay every parameter, as the original "
                                              "submission did")
    label_smoothing: float = _field(0.1, "share of each target spread over all classes")
    pct_start: float = _field(0.25, "share of the steps spent warming up (5 of 20 epochs)")
    div_factor: float = _field(25.0, "OneCycle starts at max_lr / div_factor")
    final_div_factor: float = _field(1e3, "OneCycle ends at max_lr / div_factor / "
                                                    "final_div_factor")
    anneal: str = _field("cos", "shape of OneCycle's curves: cos or linear")
    # augmentation (albumentations; sizes in pixels)
    pad: int = _field(4, "reflect-pad each side by this, then random-crop back to 32x32")
    cutout: int = _field(16, "side of the one square hole (p = 0.5), filled with the dataset "
                             "mean; 0 = off")
    flip_tta: bool = _field(True, "test on each image and its mirror image, averaging logits")
    gpu_augment: str = _field("auto", "crop, flip and hole on whole batches on the device: on, "
                                      "off, or auto = on for a GPU with 4 CPU cores or fewer")
    # LR range test (torch-lr-finder)
    lr_start: Optional[float] = _field(None, "the range test's first rate (default: 1e-4 "
                                             "for SGD, 1e-6 for Adam)")
    lr_end: Optional[float] = _field(None, "the range test's last rate, reached exponentially "
                                           "(default: 10 for SGD, 1 for Adam)")
    lr_iters: Optional[int] = _field(None, "training steps of the range test (default: a "
                                           "quarter of the run's steps, 20 to 100, at most "
                                           "half of them)")
    lr_factor: Optional[float] = _field(None, "max LR = this x the rate where the range "
                                              "test's loss reached its floor (default: grows "
                                              "with OneCycle's warm-up)")
    # execution
    device: str = _field("auto", "auto picks cuda, then mps, then cpu")
    precision: str = _field("auto", "auto = bf16 autocast where native, fp16 with loss scaling "
                                    "on CUDA before Ampere, else fp32; or fp32, bf16, fp16")
    channels_last: bool = _field(True, "NHWC memory layout: faster convolutions on CPUs and "
                                       "tensor cores")
    compile: bool = _field(False, "torch.compile the model (slow first epoch)")
    workers: int = _field(-1, "DataLoader worker processes; -1 = every spare core on CUDA, "
                              "1 on a CPU")
    eval_batch_size: int = _field(1024, "images per evaluation step")
    seed: int = _field(1, "seeds the weights, the shuffling and every augmentation")
    # Grad-CAM
    cam_method: str = _field("gradcam", "how the class activation maps are computed")
    cam_layer: str = _field("layer3", "the layer whose activations are mapped: layer3 gives "
                                      "8x8 maps, layer4 only 4x4")

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
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise EraskitError(f"unknown config field(s): {', '.join(unknown)}")
        return cls(**values)

    def to_json(self) -> str:
        """The settings as indented JSON, as config.json holds them."""
        return json.dumps(self.to_dict(), indent=2)


def upgrade(values: dict) -> dict:
    """A config.json written by an older kit in today's terms: `amp` true/false became
    precision auto/fp32, and gpu_augment true/false became on/off."""
    values = dict(values)
    if "amp" in values and "precision" not in values:
        amp = values.pop("amp")
        values["precision"] = "auto" if amp is True else "fp32" if amp is False else amp
    if isinstance(values.get("gpu_augment"), bool):
        values["gpu_augment"] = "on" if values["gpu_augment"] else "off"
    return values


# The fields by topic, in the order the command line's --help lists them.
SECTIONS = {
    "data": ("subset", "test_subset"),
    "model": ("width",),
    "optimisation": ("epochs", "batch_size", "optimizer", "max_lr", "momentum", "weight_decay",
                     "decay_norm_and_bias", "label_smoothing", "pct_start", "div_factor",
                     "final_div_factor", "anneal"),
    "augmentation and test-time flip": ("pad", "cutout", "flip_tta", "gpu_augment"),
    "LR range test": ("lr_start", "lr_end", "lr_iters", "lr_factor"),
    "execution": ("device", "precision", "channels_last", "compile", "workers", "eval_batch_size",
                  "seed"),
    "Grad-CAM": ("cam_method", "cam_layer"),
}


# Fields that only say how to run, not what is trained: they may differ when a run is resumed.
RUNTIME_FIELDS = ("device", "workers", "compile", "channels_last", "eval_batch_size")


# Fields the LR range test does not depend on: a saved sweep stays valid when only these change.
# (epochs among them: with lr_iters unset they set the sweep's length, but a saved sweep of
# another length still reads the same curve; the rule itself is rescored for the run.)
# (gpu_augment among them: the range test always augments with albumentations.)
SCHEDULE_FIELDS = ("epochs", "max_lr", "pct_start", "div_factor", "final_div_factor", "anneal",
                   "flip_tta", "test_subset", "lr_factor", "gpu_augment", "cam_method",
                   "cam_layer")


def same_training(a: Config, b: Config) -> bool:
    """Whether two configs train the same run (runtime fields aside)."""
    keep = {name: getattr(a, name) for name in RUNTIME_FIELDS}
    return b.replace(**keep) == a


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


def field_type(name: str) -> tuple[type, bool]:
    """A Config field's type (int, float, str or bool) and whether it may be None."""
    annotation = str(next(f.type for f in fields(Config) if f.name == name))
    kind = annotation.replace("Optional[", "").rstrip("]")
    return {"int": int, "float": float, "str": str, "bool": bool}[kind], annotation != kind


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise EraskitError(message)


def validate(config: Config) -> None:
    """Raise EraskitError naming the first field whose type or value is unusable."""
    for f in fields(config):
        value = getattr(config, f.name)
        kind, optional = field_type(f.name)
        if value is None:
            _check(optional, f"{f.name} must not be None")
        elif kind is bool:
            _check(isinstance(value, bool), f"{f.name} must be true or false, got {value!r}")
        elif kind is int:
            _check(isinstance(value, int) and not isinstance(value, bool),
                   f"{f.name} must be a whole number, got {value!r}")
        elif kind is float:
            _check(isinstance(value, (int, float)) and not isinstance(value, bool)
                   and value == value and abs(value) != float("inf"),
                   f"{f.name} must be a finite number, got {value!r}")
        else:
            _check(isinstance(value, str), f"{f.name} must be a string, got {value!r}")
    for name, allowed in CHOICES.items():
        _check(getattr(config, name) in allowed,
               f"{name} must be one of {', '.join(allowed)}, got {getattr(config, name)!r}")
    positive = ["width", "epochs", "batch_size", "eval_batch_size", "div_factor",
                "final_div_factor"]
    for name in positive:
        _check(getattr(config, name) > 0, f"{name} must be positive, got {getattr(config, name)}")
    for name in ("subset", "test_subset", "max_lr", "lr_start", "lr_end", "lr_factor"):
        value = getattr(config, name)
        _check(value is None or value > 0, f"{name} must be positive, got {value}")
    for name in ("weight_decay", "pad", "cutout", "seed"):
        _check(getattr(config, name) >= 0, f"{name} must not be negative, got {getattr(config, name)}")
    _check(0 <= config.momentum < 1, f"momentum must be in [0, 1), got {config.momentum}")
    _check(0 <= config.label_smoothing < 1,
           f"label_smoothing must be in [0, 1), got {config.label_smoothing}")
    _check(0 < config.pct_start < 1, f"pct_start must be in (0, 1), got {config.pct_start}")
    if config.lr_start is not None and config.lr_end is not None:
        _check(config.lr_start < config.lr_end, "lr_start must be below lr_end")
    _check(config.lr_iters is None or config.lr_iters >= 10,
           f"lr_iters must be at least 10 (too few points to read a curve), got {config.lr_iters}")
    _check(config.workers >= -1, f"workers must be -1 (auto) or at least 0, got {config.workers}")
    _check(config.cutout <= 32, f"cutout must be at most 32 pixels, got {config.cutout}")
