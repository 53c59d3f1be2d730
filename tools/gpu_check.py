"""The GPU check: throughput, the default run end to end, the original recipe and variants of
the kit's recipe, all in one results folder, in at most 8 minutes on one H100 or H200 (16 cores).

    python tools/gpu_check.py --data cifar10.npz --out results/h200-DATE [--archive check.tar.gz]
    python tools/gpu_check.py --data cifar10.npz --out /tmp/check --tiny     # a CPU rehearsal
    python tools/gpu_check.py --data cifar10.npz --out /tmp/check --dry-run  # the commands only

What --out holds afterwards:

- env.json: GPU, torch, CPU cores;
- augment-throughput.jsonl: albumentations images/s with 0, 1, 4 and 15 DataLoader workers;
- bench.jsonl: `python -m eraskit bench` at widths 16 and 64, albumentations and batch
  augmentation (run one at a time, before the training runs, so that nothing shares the GPU);
- one run folder per training run, trained side by side (the GPU has room for all of them);
- compare.md: `python -m eraskit compare` over every run;
- check.log: each command, its exit code and duration; logs/NAME.log: each command's output.

The training runs share 16 cores, so each albumentations run gets 2 workers and
--gpu-augment off: what auto picks for a run alone on such a machine. Neither changes the
numbers (each image's augmentation is a function of seed, epoch and index), only the speed.
Runs still going at the deadline (--minutes) are interrupted, which keeps their last
checkpoint; compare.md then shows how many epochs they finished.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ERASKIT = [sys.executable, "-m", "eraskit"]

# The original submission's recipe (results/README.md, width-16 comparison), at any width.
ORIGINAL = ["--optimizer", "adam", "--max-lr", "0.00183", "--momentum", "0.95",
            "--weight-decay", "0.001", "--decay-norm-and-bias", "--label-smoothing", "0",
            "--pct-start", "0.25", "--div-factor", "100", "--final-div-factor", "100",
            "--anneal", "linear", "--no-flip-tta", "--precision", "fp32"]
SHARED = ["--workers", "2", "--gpu-augment", "off"]  # see the module docstring
# A few steps of a width-8 network on a small subset: every command runs, nothing learns.
TINY = ["--width", "8", "--subset", "128", "--test-subset", "100", "--batch-size", "32",
        "--epochs", "2", "--lr-iters", "20", "--eval-batch-size", "100", "--workers", "0"]


def training_runs(tiny: bool) -> dict[str, list[str]]:
    """Each training run's name and its eraskit command line (without --data and --out)."""
    width = ["--width", "64", "--epochs", "20"]
    runs = {
        # the kit's default, end to end: range test, its rule, training and every figure
        "default": ["run", *width, *SHARED],
        "original": ["train", *width, *ORIGINAL, *SHARED],
        "batch-augment": ["train", *width, "--gpu-augment", "on"],
        "fp16": ["train", *width, "--precision", "fp16", *SHARED],
        # what the recorded runs point to: no cutout was best at width 64, and 0.4 beat 0.2
        "no-cutout": ["train", *width, "--cutout", "0", *SHARED],
        "lr0.8": ["train", *width, "--max-lr", "0.8", *SHARED],
    }
    extra = TINY + ["--quiet"] if tiny else ["--quiet"]
    return {name: argv + extra for name, argv in runs.items()}


def bench_commands(tiny: bool) -> dict[str, list[str]]:
    """Each benchmark's name and its eraskit command line (without --data)."""
    steps = ["--steps", "1", "--batch-size", "16", "--workers", "0"] if tiny else ["--steps", "30"]
    return {f"bench-w{width}-{'batch' if augment == 'on' else 'albumentations'}":
            ["bench", "--width", str(4 if tiny else width), "--gpu-augment", augment, *steps]
            for width in (16, 64) for augment in ("off", "on")}


class Check:
    """The results folder and its log of commands."""

    def __init__(self, out: Path, data: str, dry_run: bool):
        self.out, self.data, self.dry_run = out, data, dry_run
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
        self.env.setdefault("OMP_NUM_THREADS", "1")  # many processes share the cores
        self.env.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
        if not dry_run:
            (out / "logs").mkdir(parents=True, exist_ok=True)

    def note(self, line: str) -> None:
        print(line, flush=True)
        if not self.dry_run:
            with open(self.out / "check.log", "a") as log:
                log.write(line + "\n")

    def start(self, name: str, argv: list[str], stdout=None) -> subprocess.Popen | None:
        self.note(f"start {name}: {shlex.join(argv)}")
        if self.dry_run:
            return None
        log = open(self.out / "logs" / f"{name}.log", "w")
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=stdout or log, stderr=log,
                                start_new_session=True)

    def run(self, name: str, argv: list[str], stdout_to: Path | None = None) -> None:
        """Run one command to its end; its stdout is appended to `stdout_to` if given."""
        began = time.monotonic()
        with open(stdout_to, "a") if stdout_to and not self.dry_run else open(os.devnull, "w") as f:
            proc = self.start(name, argv, stdout=f if stdout_to else None)
            if proc:
                self.note(f"done  {name}: exit {proc.wait()}, {time.monotonic() - began:.0f}s")

    def run_together(self, jobs: dict[str, list[str]], deadline: float) -> None:
        """Run the commands side by side; interrupt those still going at `deadline`."""
        began = time.monotonic()
        procs = {name: self.start(name, argv) for name, argv in jobs.items()}
        if self.dry_run:
            return
        while any(p.poll() is None for p in procs.values()):
            if time.monotonic() > deadline:
                for name, p in procs.items():
                    if p.poll() is None:
                        self.note(f"interrupting {name}: the check's time is up")
                        os.killpg(p.pid, signal.SIGINT)  # the kit keeps its last checkpoint
                for p in procs.values():
                    try:
                        p.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
                break
            time.sleep(1)
        for name, p in procs.items():
            self.note(f"done  {name}: exit {p.wait()}, {time.monotonic() - began:.0f}s")


def record_environment(out: Path) -> None:
    import torch

    env = {"torch": torch.__version__, "python": sys.version.split()[0],
           "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
           else os.cpu_count(), "cuda": torch.cuda.is_available(),
           "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["capability"] = list(torch.cuda.get_device_capability(0))
    (out / "env.json").write_text(json.dumps(env, indent=2) + "\n")


def archive(out: Path, target: Path) -> None:
    """The results folder as one .tar.gz, without the checkpoints (45 MB each at width 64)."""
    with tarfile.open(target, "w:gz") as tar:
        tar.add(out, arcname=out.name, filter=lambda m: None if m.name.endswith(".pt") else m)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the CIFAR-10 .npz to train on")
    parser.add_argument("--out", required=True, help="the results folder to write")
    parser.add_argument("--tiny", action="store_true",
                        help="width 8, 640 images, 2 epochs: checks every step on a CPU")
    parser.add_argument("--minutes", type=float, default=7.5,
                        help="interrupt training runs still going after this long")
    parser.add_argument("--archive", help="also write the folder, checkpoints left out, here")
    parser.add_argument("--dry-run", action="store_true", help="print the commands only")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    if not args.dry_run and out.exists() and any(out.iterdir()):
        parser.error(f"{out} is not empty: give a new --out")
    deadline = time.monotonic() + 60 * args.minutes
    check = Check(out, args.data, args.dry_run)
    if not args.dry_run:
        out.mkdir(parents=True, exist_ok=True)
        record_environment(out)
    data = ["--data", args.data]

    workers = ["0", "1"] if args.tiny else ["0", "1", "4", "15"]
    images = ["--images", "512"] if args.tiny else []
    check.run("augment-throughput", [sys.executable, str(ROOT / "tools" / "augment_throughput.py"),
                                     *data, *images, "--workers", *workers],
              stdout_to=out / "augment-throughput.jsonl")
    for name, argv in bench_commands(args.tiny).items():
        check.run(name, ERASKIT + [*argv, *data],
                  stdout_to=out / "bench.jsonl")
    runs = training_runs(args.tiny)
    check.run_together({name: ERASKIT + [*argv, *data, "--out", str(out / name)]
                        for name, argv in runs.items()}, deadline)
    check.run("compare", ERASKIT + ["compare", *(str(out / name) for name in runs)],
              stdout_to=out / "compare.md")
    if args.archive and not args.dry_run:
        archive(out, Path(args.archive))
        check.note(f"archive: {args.archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
