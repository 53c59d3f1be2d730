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
# trains a copy, so the network that notebook 03 trains starts from scratch. You will read its
# curve by hand with three rules (torch-lr-finder's, fastai's and this kit's) and see which
# one the training uses, and why.
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
import numpy as np

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
# ## 3. Three rules, by hand
# The sweep recorded the rate of every step (`result["lrs"]`) and its loss
# (`result["raw_losses"]`), noisy because every step sees another batch. The rules below read
# a smoothed copy, `result["losses"]`: each step's loss averaged with its neighbours on both
# sides (`lr_finder.smooth`), so that, unlike torch-lr-finder's running average, it does not
# trail behind the curve. Three rules turn that curve into one rate: you will meet the first
# two elsewhere; the third is this kit's, and the run uses it (section 5 says why).

# %%
losses = np.array(result["losses"])  # the smoothed loss of each step
lrs = np.array(result["lrs"])[:len(losses)]  # a step that diverged has no smoothed loss

# %% [markdown]
# **(a) Steepest descent**, torch-lr-finder's suggestion (`LRFinder.plot(suggest_lr=True)`):
# the rate where the loss falls fastest. `np.gradient` gives how much the loss changes from
# one step to the next (the steps are equal on the log scale), so the most negative value is
# the steepest fall. torch-lr-finder searches its whole curve except the first 10 and last 5
# steps; here the search stops at the lowest point, because past it a loss that blew up can
# fall back just as steeply (section 4's figure may show one).

# %%
slope = np.gradient(losses)  # the change of the loss per sweep step
lowest = np.argmin(losses)  # the step with the lowest loss
steepest = lrs[np.argmin(slope[:lowest + 1])]  # the steepest fall before the lowest point
print(f"steepest descent (torch-lr-finder): {steepest:.3g}")

# %% [markdown]
# **(b) Minimum / 10**, fastai's `lr_find` suggestion `minimum`: the rate at the lowest loss,
# divided by 10 to stay clear of where the loss turns up.

# %%
tenth = lrs[lowest] / 10
print(f"lowest loss at {lrs[lowest]:.3g}; / 10 (fastai): {tenth:.3g}")

# %% [markdown]
# **(c) Floor x factor**, this kit's rule: the rate where the descent reached its *floor*
# (the first rate at which the smoothed loss comes within noise of its lowest value; `suggest`
# found it, section 5), times a factor that grows with OneCycle's warm-up
# (`lr_finder.warm_up_factor`, for this run's warm-up in steps). The last line says what the
# run will use: this product, unless the sweep carried no evidence for it (section 5).

# %%
floor = result["floor_lr"] or float("nan")  # nan: a sweep that diverged before 10 steps
factor = lr_finder.warm_up_factor(result["warm_up_steps"], config.optimizer)
print(f"floor x factor (this kit): {factor:.3g} x {floor:.3g} = {factor * floor:.3g}")
print(f"the run will use {result['max_lr']:.3g}: {result['rule']}")

# %% [markdown]
# ## 4. The three rates on the curve
# Grey: the loss of each step. Blue: its centred average, which all three rules read. The
# thick red line is the peak rate the run will use: the floor (orange, dashed, where the
# falling stretch shaded green ends) times the factor given in the title. The thin lines are
# the two other rules: steepest descent (purple, dash-dot) and a tenth of the rate at the
# lowest point (brown, dotted); the triangle marks the lowest point itself, which on a long
# flat floor is chance. **Look for** three parts of the curve: on the left the rate is too
# small to change anything and the curve is flat; then the loss falls; then it stops falling,
# bumps or shoots up, because steps that large shake the untrained network. The steepest
# point lies inside the fall, the floor at its end, the lowest point after it; the red line
# lies far to the right of all of them (section 7 says why that is safe). A sweep that
# carries no evidence looks different: no green stretch and no orange line, a title that says
# why (for example "the loss never fell clearly, so a safe peak"), and a red line at the safe
# peak of section 5. Small runs, such as the smoke preset's, often give such a sweep; the
# three rules of section 3 still read a rate off it, but it means little.

# %%
fig = plots.plot_lr_finder(result, captions.setup_caption(config, data, result["device"]))

# %% [markdown]
# ## 5. Which rule the run uses, and why
# The run uses the kit's floor x factor. What the three rules pick on the range tests of the
# recorded 20-epoch runs (`results/` in the repository; the data is `cifar10-rebuild.npz`, a
# near-copy of CIFAR-10 whose images were mostly JPEG-compressed; ResNet-18, SGD, seed 1),
# and the final test accuracy of every peak that was trained on the same setting:
#
# | range test of | steepest descent | minimum / 10 | floor x factor | peaks trained: final test accuracy |
# |---|---|---|---|---|
# | width 64, all 50,000 images, batch 512, H100 (bf16) | 0.0041 | 0.0017 | 0.36 | 0.0335: 88.19%, 0.2: 89.66%, 0.4: 90.09% |
# | width 16, all 50,000 images, batch 512, H100 (bf16) | 0.010 | 0.0042 | 1.3 | 0.085: 84.25%, 0.4: 86.43%, 0.8: 86.74% |
# | width 16, all 50,000 images, batch 512, 2-core CPU (fp32) | 0.010 | 0.0030 | 1.03 | 1.07: 86.56% |
# | the same, run again | 0.010 | 0.0042 | 1.16 | 1.16: 86.71% |
# | width 16, 10,000 images, batch 256, 2-core CPU (fp32) | 0.037 | 0.0049 | 1.25 | 1.19: 77.42% |
#
# No run was ever trained at the steepest point or at the minimum / 10: on the full data both
# lie 8-28 times below the lowest peak that was trained (0.0335 at width 64, 0.085 at width
# 16), and each peak trained lower did worse (width 64: 0.4, 0.2, 0.0335 gave 90.09%, 89.66%,
# 88.19%; width 16: 0.8, 0.4, 0.085 gave 86.74%, 86.43%, 84.25%). How they would end is not
# measured; the trend points lower still. The floor x factor lands where the best trained
# peaks were: 0.36 beside 0.4 at width 64, and 1.03-1.16 at width 16, where 1.07 and 1.16
# were trained (86.56% and 86.71%, on the CPU; on the H100 nobody tried above 0.8).
# torch-lr-finder's own `plot(suggest_lr=True)` reads its lagging average over the whole
# curve, and prints other numbers: 0.19 at width 64, where its curve falls back after a
# blow-up past its lowest point (beside the 0.2 that gave 89.66%: a good peak, read off the
# wrong part of the curve), and 0.019-0.027 at width 16, never trained.
#
# Two cautions. The factor's constants were chosen on these same runs, so its agreement with
# them is how the rule was made, not a test of it. On short runs it was not chosen on
# (`results/rule-bench/`: 14 cases of 2-20 epochs on small subsets, on a CPU) it came within
# 1.5 points of the best of a grid of peaks in 7; on two short Adam runs on synthetic images
# its pick was 4-6 times above the best peak (79.3% and 72.7% against 99.9% and 99.8%),
# while the steepest point fell just below the best, between it and a peak half as large
# (neither rate itself was trained).
#
# The factor for SGD is `4 x (warm-up steps / 15) ** 0.72`, between 1 and 50; Adam, which
# scales each step by the size of its gradients, gets 2.5 at any warm-up. Some sweeps carry
# no evidence for a peak, and the kit then says so in one line and uses a safe peak for the
# optimizer instead of guessing: a *flat* sweep, whose loss never fell clearly; one whose
# loss was *still falling* at its last rate; one that *diverged* before 10 steps; and a run
# too short for a sweep at all. The safe peak for Adam is 1e-3 x the root of batch / 128. For
# SGD it is 0.05 per 128 images of the batch (the linear scaling rule) once the warm-up lasts
# 20 steps; after a shorter warm-up a large batch earns only part of that share, because big
# steps need a gradual start (`lr_finder.safe_peak`). A sweep that fell and then diverged
# before 10 steps gives a tenth of the rate at its lowest loss instead (rule (b)), if that is
# lower. The step where a sweep diverged is left out, and the peak never exceeds the last
# rate the sweep survived. The rule lives in `lr_finder.suggest`; the factor's docstring
# gives the measurements it was chosen on.

# %%
help(lr_finder.warm_up_factor)

# %% [markdown]
# What the rule made of this sweep, in one line (the same line `find_lr` printed). Notebook
# 03 uses `max_lr` as the peak (max LR) of its OneCycle schedule, unless you set
# `MAX_LR` there. To try another rate, the steepest point or the minimum / 10 for instance,
# set `MAX_LR` in notebook 03 rather than editing `lr_finder.json`.

# %%
print(lr_choice.describe_suggestion(result))

# %% [markdown]
# ## 6. The range test in the open
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
from torch_lr_finder import LRFinder

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
fig = plots.plot_range_tests(curves, captions.setup_caption(config, data, device))

# %% [markdown]
# ## 7. Why a range test is not the schedule
# The range test and OneCycle use the rate very differently. The test pushes an *untrained*
# network through a few dozen steps at ever larger rates; past a point that network breaks
# down. OneCycle instead starts at `max_lr / 25` and climbs to its peak over the first quarter
# of training (5 of 20 epochs, hundreds of steps). During that warm-up the weights grow into
# a region where the loss is smoother and the BatchNorm statistics settle, so by the time
# OneCycle reaches its peak the network tolerates rates that would have wrecked it on the
# first step. That is why the kit reads the peak far to the right of the curve's own marks,
# and why a very short run (a short warm-up) gets a smaller factor than a long one.

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
# 3. **The steepest point of torch-lr-finder's curve.** `history["loss"]` (section 6) is
#    torch-lr-finder's running average of the loss of its own sweep, `history["lr"]` its
#    rates. Find the rate where that curve falls fastest before its lowest point, as section
#    3 did on the kit's curve (`np.array` turns a list into an array), and check it; one step
#    of the sweep off counts as wrong. Then compare it with section 3's `steepest`: on which
#    side does it sit, and why? (The running average trails the loss by about 20 steps.)

# %%
ANSWER = None  # the rate where torch-lr-finder's smoothed loss falls fastest
exercises.check("steepest_lr", ANSWER, history["lr"], history["loss"])

# %% [markdown]
# ## Next
# Notebook 03 trains the ResNet-18 with this rate. Keep `RUN_DIR` the same there.
