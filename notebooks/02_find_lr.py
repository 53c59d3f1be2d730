# ---
# jupyter:
#   jupytext:
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Find the learning rate
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/02_find_lr.ipynb)
#
# The learning rate (LR) is the most important setting of training: too small and the
# network learns slowly, too large and the loss blows up. The **LR range test** measures it
# instead of guessing: train a fresh network for a few steps while the rate rises
# exponentially from tiny (1e-4) to huge (10), and record the loss at each step. The test
# trains a copy, so the network that notebook 03 trains starts from scratch.
#
# On Colab, pick a GPU first (Runtime > Change runtime type > GPU): the full test takes
# seconds there. On a CPU the full preset's 100 steps at batch 512 and width 64 take about
# half an hour (two cores): set `PRESET = "cpu"` below for a narrow network on a fifth of the
# data, whose test takes a few minutes.

# %% [markdown]
# ## Setup
# On Colab this installs the kit with the libraries Colab lacks (grad-cam, torch-lr-finder);
# elsewhere it does nothing, because the kit is already installed.

# %%
import subprocess
import sys

if "google.colab" in sys.modules:  # Colab lacks the kit, grad-cam and torch-lr-finder
    subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                    "eraskit @ git+https://github.com/eraskit/eraskit"], check=True)

# %%
from torch_lr_finder import LRFinder

from eraskit import (augment, captions, colab, exercises, hardware, lr_choice, lr_finder, plots,
                     train)
from eraskit import notebook as nb
from eraskit.config import check_warm_up, preset, steps_per_epoch
from eraskit.data import load_cifar10, take_subset
from eraskit.model import build_model

colab.show_errors_briefly()  # a problem with your settings prints one line saying what to change
nb.report_unknown_env()  # names a misspelt ERASKIT_* variable, which would change nothing

# %% [markdown]
# ## Parameters
# The settings of the run, the same as in notebook 03: the rate found here suits these
# settings only. `PRESET` picks a whole set of them, as
# `--preset` does on the command line: `"full"` is the assignment (20 epochs, width 64, all
# 50,000 images, batch 512), `"cpu"` trains width 16 on 10,000 images in batches of 256, and
# `"smoke"` only checks that every step runs. A setting left at `None` takes the preset's
# value; give it a value to change just that one. A run folder keeps the settings it was
# started with: to change one, change it in notebook 02 too, or use a new `RUN_DIR`. Each
# value can also be set from outside through an environment variable `ERASKIT_<NAME>`; the
# cell then prints which values came from there (the tests run every notebook small that way).

# %% tags=["parameters"]
PRESET = nb.from_env("PRESET", "full")  # "full" (the assignment), "cpu" or "smoke"
EPOCHS = nb.from_env("EPOCHS", None)  # passes over the training set; None = the preset's
WIDTH = nb.from_env("WIDTH", None)  # channels of the first stage (64 = the standard ResNet-18)
SUBSET = nb.from_env("SUBSET", None)  # training images; None = the preset's (full: all 50,000)
TEST_SUBSET = nb.from_env("TEST_SUBSET", None)  # test images; None = the preset's
BATCH_SIZE = nb.from_env("BATCH_SIZE", None)  # images per training step; None = the preset's
MAX_LR = nb.from_env("MAX_LR", None)  # OneCycle's peak rate; None = the LR range test's choice
LR_ITERS = nb.from_env("LR_ITERS", None)  # steps of the LR range test; None = a quarter of the run's
RUN_DIR = nb.from_env("RUN_DIR", "runs/resnet18")  # the run folder notebooks 02-05 share
DATA = nb.from_env("DATA", None)  # a CIFAR-10 .npz file; None = download the official files
DRIVE = nb.from_env("DRIVE", True)  # on Colab, keep the run folder in your Google Drive

# %% [markdown]
# ## 1. Settings and data
# Every hyperparameter lives in one `Config`; the fields not set here keep their defaults
# (SGD with Nesterov momentum, weight decay 5e-4, label smoothing 0.1). On Colab the run
# folder goes to Google Drive (it asks for permission once), because each Colab notebook
# runs on its own machine and only Drive is shared between them.

# %%
config = preset(PRESET, epochs=EPOCHS, width=WIDTH, subset=SUBSET, test_subset=TEST_SUBSET,
                batch_size=BATCH_SIZE, max_lr=MAX_LR, lr_iters=LR_ITERS)
data = load_cifar10(DATA)
RUN_DIR = colab.run_folder(RUN_DIR, drive=DRIVE)

# %% [markdown]
# Before spending minutes on the range test, check that these settings can train at all:
# OneCycle needs a warm-up of more than one step (a tiny subset with a large batch and few
# epochs has too few steps). Notebook 03 would refuse such settings after the test had run.

# %%
kept, _ = take_subset(config, data)  # the training images of these settings
check_warm_up(config, steps_per_epoch(config, len(kept.x_train)))

# %% [markdown]
# ## 2. Run the LR range test
# `lr_choice.find_lr` builds the model and the augmented training batches exactly as training
# will, then sweeps the rate exponentially (SGD: from 1e-4 to 10; Adam: from 1e-6 to 1) and
# records the loss of every step. The sweep is sized to the run: a quarter of the run's own
# training steps, at least 20 and at most 100, never more than half of them (`LR_ITERS` sets
# it by hand), and its first line says what it costs. It saves the curve and its suggestion in the run folder as
# `lr_finder.json`.

# %%
result = lr_choice.find_lr(config, data, RUN_DIR)

# %% [markdown]
# ## 3. Read the curve
# Grey: the loss of each step, noisy because every step sees another batch. Blue: its
# centred average, which the rule reads. **Look for** three parts: on the left the rate is
# too small to change anything and the curve is flat; then the loss falls (shaded green);
# then it stops falling, bumps or shoots up, because steps that large shake the untrained
# network. The orange line marks where the descent reached its *floor*; the red line is the
# peak rate the run will use, the floor times a factor given in the title; the dotted line
# is the lowest point of the average, which on a long flat floor is chance and so is not
# used. A sweep that carries no evidence looks different: no green stretch and no orange
# line, a title that says why (for example "the loss never fell clearly, so a safe peak"),
# and a red line at the safe peak of section 4. Small runs, such as the smoke preset's, often
# give such a sweep.

# %%
fig = plots.plot_lr_finder(result, captions.setup_caption(config, data))

# %% [markdown]
# ## 4. The suggestion rule
# The peak is **the rate where the loss reached its floor, times a factor that grows with
# OneCycle's warm-up** (for SGD): `4 x (warm-up steps / 15) ** 0.72`, between 1 and 50.
# Adam, which scales each step by the size of its gradients, gets 2.5 at any warm-up.
# Why so far above the floor? The sweep pushes an *untrained* network through a few dozen
# steps; OneCycle reaches its peak only after its warm-up, when the network tolerates much
# larger steps (section 6). After the 485-step warm-up of the full assignment the best
# measured peaks were about 50 times the floor; after warm-ups of 15-23 steps a few times.
# Some sweeps carry no such evidence, and the kit then says so in one line and uses a safe
# peak for the optimizer instead of guessing: a *flat* sweep, whose loss never fell clearly;
# one whose loss was *still falling* at its last rate; one that *diverged* before 10 steps;
# and a run too short for a sweep at all. The safe peak for Adam is 1e-3 x the root of
# batch / 128. For SGD it is 0.05 per 128 images of the batch (the linear scaling rule) once
# the warm-up lasts 20 steps; after a shorter warm-up a large batch earns only part of that
# share, because big steps need a gradual start (`lr_finder.safe_peak`). A sweep that fell
# and then diverged before 10 steps gives a tenth of the rate at its lowest loss instead, if
# that is lower. The step where a sweep diverged is left out, and the peak never exceeds the
# last rate the sweep survived. The rule lives in `lr_finder.suggest`; the
# factor's docstring gives the measurements it was chosen on, and `results/rule-bench/` how
# it fares on cases it was not chosen on (within 1.5 points of the best peak in 7 of 14).

# %%
help(lr_finder.warm_up_factor)

# %% [markdown]
# What the rule made of this sweep, in one line (the same line `find_lr` printed). Notebook
# 03 uses `suggested_lr` as the peak (max LR) of its OneCycle schedule, unless you set
# `MAX_LR` there. To try another rate, set `MAX_LR` in notebook 03 rather than editing
# `lr_finder.json`.

# %%
print(lr_choice.describe_suggestion(result))

# %% [markdown]
# ## 5. The range test in the open
# `lr_choice.find_lr` is a thin layer over torch-lr-finder. Here is the library itself, on a
# fresh network built the same way: `LRFinder` wraps the model, optimizer and loss;
# `range_test` trains for `num_iter` steps while the rate rises exponentially (`step_mode=
# "exp"`) from `start_lr` to `end_lr`, stopping early if the loss explodes; `history` holds
# the rate and the loss of every step; `reset` puts the model and optimizer back as they were
# before the test (the test trains both). The sweep covers the rates the kit's test covered.

# %%
device = hardware.resolve_device(config.device)
loader = augment.train_loader(kept.x_train, kept.y_train, config, device)  # as find_lr's
model = build_model(config, len(data.classes), device)
optimizer = train.make_optimizer(model, config, lr=result["lrs"][0])

# %%
finder = LRFinder(model, optimizer, train.make_criterion(config), device=device)
finder.range_test(loader, start_lr=result["lrs"][0], end_lr=result["lrs"][-1],
                  num_iter=len(result["lrs"]), step_mode="exp")
history = finder.history  # {"lr": [...], "loss": [...]}, one entry per step
finder.reset()  # the model and optimizer as they were before the test

# %% [markdown]
# The two curves on one plot. **Look for:** the same shape, falling then shooting up at
# about the same rate. They differ in detail because torch-lr-finder smooths the loss
# (`smooth_f=0.05`, an exponential average over about 20 steps, which lags behind the raw
# loss and shifts its minimum to the right) and because the kit's test ran under the
# precision of the run (bf16 on a recent GPU) where this one runs in fp32.

# %%
curves = {"lr_choice.find_lr (raw loss)": (result["lrs"], result["raw_losses"]),
          "LRFinder (smoothed loss)": (history["lr"], history["loss"])}
fig = plots.plot_range_tests(curves, captions.setup_caption(config, data))

# %% [markdown]
# ## 6. Why a range test is not the schedule
# The range test and OneCycle use the rate very differently. The test pushes an *untrained*
# network through a few dozen steps at ever larger rates; past a point that network breaks
# down. OneCycle instead starts at `max_lr / 25` and climbs to its peak over the first quarter
# of training (5 of 20 epochs, hundreds of steps). During that warm-up the weights grow into
# a region where the loss is smoother and the BatchNorm statistics settle, so by the time
# OneCycle reaches its peak the network tolerates rates that would have wrecked it on the
# first step. That is why the peak is read from the curve with a margin, not taken at the
# point where the untrained network diverged, and why a very short run (a short warm-up)
# deserves a lower peak than a long one.

# %% [markdown]
# ## Exercises
# 1. **The exponential sweep.** The test's rate rises by the same factor at every step,
#    from `start_lr` at step 0 to `end_lr` at step `num_iter - 1`. Compute the rate of step
#    9 (the tenth) from `result["lrs"][0]` (the start), `result["lrs"][-1]` and
#    `len(result["lrs"])`, without reading `result["lrs"][9]`, and check it:

# %%
ANSWER = None  # the rate of step 9
exercises.check("sweep_rate", ANSWER, history["lr"], 9)

# %% [markdown]
# 2. **The batch size moves the rate.** Set `BATCH_SIZE = 128` and a new `RUN_DIR` (say
#    `"runs/batch128"`) in the parameters, and run the notebook again. Does the suggested
#    peak go up or down? Larger batches average the gradient over more images, so its noise
#    is smaller and a larger step is safe; the usual rule of thumb scales the rate with the
#    batch size.
# 3. **Read the curve yourself.** `history["loss"]` is a plain list: find the rate where
#    torch-lr-finder's smoothed loss is lowest (`history["lr"][int(np.argmin(history["loss"]))]`,
#    after `import numpy as np`), and compare it with the floor and the dotted lowest point
#    in the figure of section 3. Why does the smoothed curve's minimum sit further right?

# %% [markdown]
# ## Next
# Notebook 03 trains the ResNet-18 with this rate. Keep `RUN_DIR` the same there.
