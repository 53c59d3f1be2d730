"""Images per second that the albumentations training pipeline delivers on this machine's CPU.

    python tools/augment_throughput.py --data cifar10.npz [--images 10240] [--workers 0 1 2]

Times `augment.train_loader` (pad + crop, flip, hole, normalise, collate) over the first
`--images` training images for each worker count, after one warm-up batch, and prints one JSON
line per count. With 0 workers the main process augments: that figure is one core's rate.
The rule in `hardware.batch_augment_reason` is derived from these numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, uninstalled

import torch  # noqa: E402

from eraskit import augment  # noqa: E402
from eraskit.config import Config  # noqa: E402
from eraskit.data import load_cifar10  # noqa: E402


def images_per_second(pixels, labels, workers: int, batch_size: int) -> float:
    """Augmented images a second out of the DataLoader, warm-up batch excluded."""
    config = Config(workers=workers, batch_size=batch_size)
    loader = augment.train_loader(pixels, labels, config, torch.device("cpu"))
    loader.sampler.set_epoch(1)
    batches = iter(loader)
    next(batches)  # warm-up: worker start, first prefetch
    start, count = time.perf_counter(), 0
    for x, _ in batches:
        count += len(x)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a CIFAR-10 .npz")
    parser.add_argument("--images", type=int, default=10240, help="images to augment per count")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_cifar10(args.data)
    pixels, labels = data.x_train[:args.images], data.y_train[:args.images]
    for workers in args.workers:
        rate = images_per_second(pixels, labels, workers, args.batch_size)
        print(json.dumps({"workers": workers, "images": len(pixels), "img_per_s": round(rate, 1),
                          "cpu": platform.processor() or platform.machine(),
                          "cores": len(os.sched_getaffinity(0)), "torch": torch.__version__}),
              flush=True)


if __name__ == "__main__":
    main()
