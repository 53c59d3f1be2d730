"""Benchmark of the range test's suggestion rule on short cases it was not tuned on.

For each case (data, width, batch size, optimizer, epochs) the same kit pipeline trains the
run at a grid of peak rates a factor 2 apart, and once more at the peak the rule picks from
the case's own range test. The rule passes a case when its run lands within 1.5 points of the
grid's best and does not collapse.

    python tools/rule_bench.py grid   --data cifar10.npz --out runs/rule-bench
    python tools/rule_bench.py extend --data cifar10.npz --out runs/rule-bench
    python tools/rule_bench.py rule   --data cifar10.npz --out runs/rule-bench
    python tools/rule_bench.py sweep  --set tuning ...  (a range test alone, per case)
    python tools/rule_bench.py table --out runs/rule-bench > results/rule-bench/README.md

Each training run is a run folder under --out. Several processes can share a phase: each
claims a run before training it (a `.TAG.claim` folder; delete the claims of runs that were
killed before starting again). Results are appended to --out/results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eraskit import lr_choice, training_run  # noqa: E402
from eraskit.config import preset  # noqa: E402
from eraskit.data import Cifar10, load_npz  # noqa: E402
from eraskit.errors import EraskitError  # noqa: E402
from eraskit.lr_finder import warm_up_steps  # noqa: E402
from eraskit.runs import RunPaths, load_meta, read_json  # noqa: E402

SGD_GRID = (0.025, 0.05, 0.1, 0.2, 0.4, 0.8)
ADAM_GRID = (2.5e-4, 5e-4, 1e-3, 2e-3, 4e-3, 8e-3)


@dataclass(frozen=True)
class Case:
    name: str
    data: str  # "rebuild", "colour" or "grating"
    settings: dict = field(default_factory=dict)

    @property
    def grid(self) -> tuple[float, ...]:
        if self.settings.get("width", 64) >= 64:  # about 10x the cost of width 16: the middle
            return SGD_GRID[1:5]
        return ADAM_GRID if self.settings.get("optimizer") == "adam" else SGD_GRID


CASES = (
    Case("rebuild-2k-w8-b64-sgd-3ep", "rebuild",
         dict(subset=2000, width=8, batch_size=64, epochs=3)),
    Case("rebuild-3k-w16-b128-sgd-4ep", "rebuild",
         dict(subset=3000, width=16, batch_size=128, epochs=4)),
    Case("rebuild-1k-w8-b64-adam-20ep", "rebuild",
         dict(subset=1000, width=8, batch_size=64, epochs=20, optimizer="adam")),
    Case("rebuild-3k-w16-b256-adam-5ep", "rebuild",
         dict(subset=3000, width=16, batch_size=256, epochs=5, optimizer="adam")),
    Case("rebuild-4k-w8-b512-sgd-5ep", "rebuild",
         dict(subset=4000, width=8, batch_size=512, epochs=5)),
    Case("rebuild-1k-w64-b128-sgd-2ep", "rebuild",
         dict(subset=1000, test_subset=500, width=64, batch_size=128, epochs=2)),
    Case("colour-4k-w16-b512-sgd-3ep", "colour",
         dict(width=16, batch_size=512, epochs=3)),
    Case("colour-4k-w8-b128-adam-3ep", "colour",
         dict(width=8, batch_size=128, epochs=3, optimizer="adam")),
    Case("grating-4k-w8-b64-sgd-4ep", "grating",
         dict(width=8, batch_size=64, epochs=4)),
    Case("grating-2k-w8-b256-adam-8ep", "grating",
         dict(subset=2000, width=8, batch_size=256, epochs=8, optimizer="adam")),
)

# Cases added after the first round, to test the safe peak's warm-up scaling (chosen on the
# first round's misses) on short runs with large batches that nobody tuned on.
ROUND2 = (
    Case("grating-4k-w16-b512-sgd-3ep", "grating",
         dict(width=16, batch_size=512, epochs=3)),
    Case("rebuild-2k-w16-b512-sgd-6ep", "rebuild",
         dict(subset=2000, width=16, batch_size=512, epochs=6)),
    Case("rebuild-4k-w8-b256-sgd-3ep", "rebuild",
         dict(subset=4000, width=8, batch_size=256, epochs=3)),
    Case("colour-2k-w8-b256-adam-4ep", "colour",
         dict(subset=2000, width=8, batch_size=256, epochs=4, optimizer="adam")),
)

# Cases the rule's constants were chosen on (with the recorded 20-epoch runs in results/);
# the benchmark above is kept apart from them.
TUNING = (
    Case("tune-rebuild-2k-w8-b128-sgd-4ep", "rebuild",
         dict(subset=2000, width=8, batch_size=128, epochs=4)),
    Case("tune-colour-4k-w8-b64-sgd-2ep", "colour",
         dict(width=8, batch_size=64, epochs=2)),
    Case("tune-rebuild-2k-w8-b128-adam-4ep", "rebuild",
         dict(subset=2000, width=8, batch_size=128, epochs=4, optimizer="adam")),
)


def colour_task(n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> Cifar10:
    """Easy: each class is one of 10 hues tinting a random grey texture. The mean colour of an
    image alone separates the classes, so a linear model reaches about 100%."""
    rng = np.random.default_rng(seed)
    hues = np.array([[230, 40, 40], [40, 200, 40], [40, 60, 230], [230, 220, 40],
                     [220, 40, 220], [40, 210, 210], [240, 140, 30], [140, 60, 200],
                     [120, 120, 120], [150, 90, 40]], dtype=np.float64) / 255

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % 10)
        texture = rng.uniform(0.4, 1.0, (n, 32, 32, 1))
        rgb = texture * hues[labels][:, None, None, :] + rng.normal(0, 0.08, (n, 32, 32, 3))
        return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), labels

    return _task(split, n_train, n_test, "synthetic: colour", [f"hue {i}" for i in range(10)])


def grating_task(n_train: int = 4000, n_test: int = 1000, seed: int = 0) -> Cifar10:
    """Harder: class = stripes of 2-6 cycles per image, horizontal or vertical, with random
    phase, contrast and tint under strong pixel noise. Flips, crops and holes keep the class;
    the noise makes some images ambiguous, so accuracy stays below 100%."""
    rng = np.random.default_rng(seed)
    grid = np.arange(32) / 32

    def split(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.permutation(np.arange(n) % 10)
        cycles, vertical = 2 + labels % 5, labels >= 5
        phase = rng.uniform(0, 2 * np.pi, n)
        wave = np.sin(2 * np.pi * cycles[:, None] * grid[None] + phase[:, None])  # (n, 32)
        stripes = np.where(vertical[:, None, None], wave[:, None, :], wave[:, :, None])
        contrast = rng.uniform(0.1, 0.3, (n, 1, 1, 1))
        tint = rng.uniform(0.3, 0.7, (n, 1, 1, 3))
        rgb = tint + contrast * stripes[..., None] + rng.normal(0, 0.25, (n, 32, 32, 3))
        return (np.clip(rgb, 0, 1) * 255).round().astype(np.uint8), labels

    names = [f"{c} cycles {'vertical' if v else 'horizontal'}" for v in (0, 1) for c in range(2, 7)]
    return _task(split, n_train, n_test, "synthetic: grating", names)


def _task(split, n_train: int, n_test: int, source: str, classes: list[str]) -> Cifar10:
    (x_train, y_train), (x_test, y_test) = split(n_train), split(n_test)
    return Cifar10(x_train, y_train.astype(np.int64), x_test, y_test.astype(np.int64),
                   tuple(classes), source)


def load_data(kind: str, npz: str) -> Cifar10:
    if kind == "rebuild":
        return load_npz(npz)
    return {"colour": colour_task, "grating": grating_task}[kind]()


def case_config(case: Case, **changes):
    test_subset = 1000 if case.data == "rebuild" else None  # synthetic tasks: 1,000 made
    return preset("full", **{"test_subset": test_subset, "workers": 0, "device": "cpu",
                             **case.settings, **changes})


def train(case: Case, data: Cifar10, out: Path, max_lr: float | None, tag: str,
          seed: int = 1) -> dict:
    """One run of the case at `max_lr` (None: the rule's pick from the case's range test)."""
    folder = out / case.name / tag
    config = case_config(case, max_lr=max_lr, seed=seed)
    start = time.perf_counter()
    row = {"case": case.name, "tag": tag, "seed": seed}
    try:
        run = training_run.fit(config, data, folder, resume=True, progress=False, log=lambda *a: None)
        row.update(max_lr=run.meta.max_lr, test_acc=run.history[-1]["test_acc"],
                   train_loss=run.history[-1]["train_loss"])
    except EraskitError as err:
        row.update(max_lr=max_lr, test_acc=None, error=str(err))
    row["seconds"] = round(time.perf_counter() - start, 1)
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)
    return row


def latest(out: Path) -> dict[tuple[str, str], dict]:
    """The last result of each (case, tag) in results.jsonl."""
    rows = {}
    path = out / "results.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        row = json.loads(line)
        rows[row["case"], row["tag"]] = row
    return rows


def grid_results(out: Path, case: Case) -> dict[float, float]:
    """Peak rate -> final test accuracy (0 for a run that failed) of the case's grid runs."""
    return {row["max_lr"]: row["test_acc"] or 0.0 for (name, tag), row in latest(out).items()
            if name == case.name and tag.startswith("peak-") and "-seed" not in tag}


def edge_extension(out: Path, case: Case) -> float | None:
    """A peak a factor 2 beyond the grid's edge when the grid's best sits on that edge."""
    grid = grid_results(out, case)
    if len(grid) < 2:
        return None
    best = max(grid, key=grid.get)
    if best == min(grid):
        return best / 2
    if best == max(grid):
        return best * 2
    return None


def table(out: Path, cases) -> str:
    """The benchmark's Markdown table: each case, the rule's pick, its accuracy and the grid's."""
    rows = latest(out)
    lines = ["| case | warm-up steps | sweep steps | rule's peak (evidence) | rule's acc | "
             "grid's best (peak) | gap, points | grid (peak: acc) | collapsed | within 1.5 |",
             "|" + " --- |" * 10]
    for case in cases:
        grid, rule = grid_results(out, case), rows.get((case.name, "rule"))
        if not grid or not rule or rule.get("max_lr") is None:
            why = rule.get("error", "failed") if rule else "not run"
            lines.append(f"| {case.name} | | | {why} | | | | | | |")
            continue
        paths = RunPaths(out / case.name / "rule")
        sweep = read_json(paths.lr_finder) if paths.lr_finder.is_file() else \
            {"lrs": [], "evidence": "run too short", "warm_up_steps": warm_up_steps(
                case_config(case), load_meta(paths).steps_per_epoch)}
        best = max(grid, key=grid.get)
        acc = rule["test_acc"] or 0.0
        gap = 100 * (grid[best] - acc)
        history = json.loads((out / case.name / "rule" / "history.json").read_text()) \
            if (out / case.name / "rule" / "history.json").is_file() else []
        collapsed = bool(history and history[-1].get("collapsed")) or rule["test_acc"] is None
        cells = ", ".join(f"{lr:g}: {grid[lr]:.1%}" for lr in sorted(grid))
        lines.append(
            f"| {case.name} | {sweep['warm_up_steps']} | {len(sweep['lrs'])} | "
            f"{rule['max_lr']:.3g} ({sweep['evidence']}) | {acc:.1%} | {grid[best]:.1%} "
            f"({best:g}) | {gap:+.1f} | {cells} | {'yes' if collapsed else 'no'} | "
            f"{'yes' if gap <= 1.5 and not collapsed else 'NO'} |")
    extra = [row for (name, tag), row in rows.items()
             if ("-seed" in tag or "first-pass" in tag or tag.startswith("rule-v1"))
             and any(c.name == name for c in cases)]
    if extra:
        lines += ["", "Other runs of these cases (another seed, or an earlier version of the rule: "
                  "`first-pass`, then `rule-v1` before the safe peak's warm-up scaling):",
                  "", "| case | run | peak | final test acc |", "| --- | --- | --- | --- |"]
        lines += [f"| {row['case']} | {row['tag']} | {row['max_lr']:.3g} | "
                  f"{(row['test_acc'] or 0):.1%} |" for row in extra]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=("sweep", "grid", "extend", "rule", "table"))
    parser.add_argument("--set", choices=("bench", "round2", "tuning"), default="bench")
    parser.add_argument("--data", default=os.environ.get("ERASKIT_DATA"))
    parser.add_argument("--out", type=Path, default=Path("runs/rule-bench"))
    parser.add_argument("--cases", nargs="*", help="only these cases")
    parser.add_argument("--seed", type=int, default=1, help="another seed: weights, batches, "
                        "augmentation and the range test (tags end in -seedN)")
    parser.add_argument("--peaks", type=float, nargs="*", help="grid: only these peak rates")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    chosen = {"bench": CASES, "round2": ROUND2, "tuning": TUNING}[args.set]
    cases = [c for c in chosen if not args.cases or c.name in args.cases]
    if args.phase == "table":
        print(table(args.out, cases))
        return
    if args.phase == "sweep":
        for case in cases:
            data = load_data(case.data, args.data)
            lr_choice.find_lr(case_config(case), data, args.out / case.name / "sweep",
                             progress=False)
        return
    if args.phase == "grid":
        work = [(c, lr) for c in cases for lr in (args.peaks or c.grid)]
    elif args.phase == "extend":  # one more point past a grid's best when it sits at an edge
        work = [(c, lr) for c in cases for lr in [edge_extension(args.out, c)] if lr]
    else:
        work = [(c, None) for c in cases]
    cache: dict[str, Cifar10] = {}
    for case, lr in work:
        tag = (f"peak-{lr:g}" if lr else "rule") + (f"-seed{args.seed}" if args.seed != 1 else "")
        try:  # the first process to claim a run trains it; any number can share the queue
            (args.out / case.name).mkdir(parents=True, exist_ok=True)
            (args.out / case.name / f".{tag}.claim").mkdir()
        except FileExistsError:
            continue
        data = cache.setdefault(case.data, load_data(case.data, args.data))
        train(case, data, args.out, lr, tag, args.seed)


if __name__ == "__main__":
    main()
