"""A run folder's identity: whether the kit wrote it (it writes only into an empty folder or
a run of its own, `check_kit_folder`) and the data its run was trained on (`check_trained_on`:
the arrays' fingerprint that meta.json records, not only a path)."""

from __future__ import annotations

from pathlib import Path

from . import advice
from .data import OFFICIAL, Cifar10, describe_data, npz_path
from .errors import EraskitError
from .records import Meta
from .runs import RunPaths, read_json_object

KIT_META_KEYS = ("started", "data_source", "max_lr_source")  # in every meta.json it writes
# Every lr_finder.json holds the rates and their losses: raw, smoothed, or both.
KIT_RANGE_TEST_RATES, KIT_RANGE_TEST_LOSSES = "lrs", ("losses", "raw_losses")


def written_by_kit(paths: RunPaths) -> bool:
    """Whether the folder holds a run of the kit's: a checkpoint, or a meta.json or
    lr_finder.json with the fields the kit writes (notebook 02 leaves only the latter)."""
    return (paths.checkpoint.is_file()
            or all(k in read_json_object(paths.meta) for k in KIT_META_KEYS)
            or range_test_of_kit(read_json_object(paths.lr_finder)))


def range_test_of_kit(values: dict) -> bool:
    """Whether an lr_finder.json's fields are those of a range test the kit saved."""
    return KIT_RANGE_TEST_RATES in values and any(k in values for k in KIT_RANGE_TEST_LOSSES)


def foreign_files(paths: RunPaths) -> list[str]:
    """What the folder holds if the kit did not write it: its visible entries when none of
    them is a run of the kit's ([] for a missing or empty folder, or a run's)."""
    if not paths.root.is_dir():
        return []
    names = sorted(p.name for p in paths.root.iterdir() if not p.name.startswith("."))
    return [] if not names or written_by_kit(paths) else names


def check_kit_folder(paths: RunPaths) -> None:
    """Refuse, before anything is written, a folder of files the kit did not write (someone's
    config.json, a notebook's own folder): a run goes only into an empty folder or its own."""
    found = foreign_files(paths)
    if found:
        listed = ", ".join(found[:6]) + (f", ... ({len(found)} in all)" if len(found) > 6 else "")
        raise EraskitError(f"{paths.root} holds files the kit did not write ({listed}) and no "
                           f"run of its own (no checkpoint.pt, nor its meta.json or "
                           f"lr_finder.json): nothing was written there; "
                           f"{advice.another_folder()}")


def check_trained_on(root: Path, meta: Meta, data: Cifar10) -> None:
    """Refuse `data` for the run in `root` when it is not the data the run was trained on, as
    its meta.json records it (arrays, not only a path; a run of an older kit records none)."""
    recorded_as = meta.data_fingerprint
    if not recorded_as or recorded_as == data.fingerprint:
        return
    recorded = npz_path(meta.data_source)
    if recorded and recorded == npz_path(data.source):
        raise EraskitError(f"{root} was trained on {describe_data(meta.data_source, recorded_as)} "
                           f"as it was then; that file now holds other arrays "
                           f"({data.fingerprint[:8]}): put the original back, or "
                           f"{advice.another_folder()}")
    fix = (advice.use_data(recorded) if recorded or meta.data_source == OFFICIAL else
           "use the data it was trained on")
    raise EraskitError(f"{root} was trained on {describe_data(meta.data_source, recorded_as)}, "
                       f"not on {describe_data(data.source, data.fingerprint)}: {fix}, or "
                       f"{advice.another_folder()}")
