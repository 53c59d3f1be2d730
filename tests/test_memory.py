"""Memory must not creep up from epoch to epoch (the original loop kept every step's loss
tensor, and with it the step's graph, alive for the whole run)."""

import gc
import os
import re
import resource

from eraskit import training_run
from helpers import tiny_config

EPOCHS = 5
GROWTH_MB = 15  # allowed from epoch 2 to the last; one step's graph kept per epoch adds ~10 MB


def resident_mb() -> float:
    """This process's resident memory now (Linux /proc), in MiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_memory_does_not_grow_across_epochs(tmp_path, data):
    after_epoch = []

    def log(message: str) -> None:
        if re.match(r"epoch +\d+/", message):  # an epoch's line, not the estimate's update
            gc.collect()
            after_epoch.append(resident_mb())

    run = training_run.fit(tiny_config(epochs=EPOCHS), data, tmp_path / "run", progress=False,
                           log=log)
    assert len(after_epoch) == EPOCHS
    growth = after_epoch[-1] - after_epoch[1]
    assert growth < GROWTH_MB, f"resident memory grew {growth:.1f} MB: {after_epoch}"
    # The recorded peak (ru_maxrss) never falls and stays within the same bound.
    peaks = [row["peak_memory_mb"] for row in run.history]
    assert peaks == sorted(peaks) and peaks[-1] - peaks[1] < GROWTH_MB
    assert peaks[-1] <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
