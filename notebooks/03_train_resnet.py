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
# # 03 · Train a ResNet-18 on CIFAR-10
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/03_train_resnet.ipynb)
#
# Train a ResNet-18 for 20 epochs with augmented images and a OneCycle learning-rate
# schedule, then read its learning curves. The run folder this notebook writes (settings,
# checkpoint, history, test predictions) is what notebooks 04 and 05 analyse.
#
# First the notebook builds the loop's pieces with the kit's own functions and takes a few
# training steps by hand; then it trains the real run with the epoch loop written out in
# section 7, the same loop that `python -m eraskit train` runs.
#
# On Colab, pick a GPU first (Runtime > Change runtime type > GPU): 20 epochs take minutes
# there. On a CPU, set `PRESET = "cpu"` below (a narrow network on a fifth of the data, under
# an hour on two cores) or `"smoke"` (a one-minute check that every step runs).

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
import inspect
from pathlib import Path

from IPython.display import Code

from eraskit import (captions, colab, exercises, hardware, plots, run_figures, runs, tables,
                     train, training_run)
from eraskit import notebook as nb
from eraskit.config import preset
from eraskit.data import load_cifar10, take_subset
from eraskit.gpu_augment import make_train_loader
from eraskit.lr_choice import choose_max_lr
from eraskit.model import build_model, summarize

colab.show_errors_briefly()  # a problem with your settings prints one line saying what to change
nb.report_unknown_env()  # names a misspelt ERASKIT_* variable, which would change nothing

# %% [markdown]
# ## Parameters
# The settings of the run, the same as in notebook 02. `PRESET` picks a whole set of them, as
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
# Every hyperparameter lives in one `Config`. The table lists them all: the preset's values
# with yours on top. The run saves it as `config.json`, so notebooks 04 and 05 rebuild the
# same model without repeating any setting.

# %%
config = preset(PRESET, epochs=EPOCHS, width=WIDTH, subset=SUBSET, test_subset=TEST_SUBSET,
                batch_size=BATCH_SIZE, max_lr=MAX_LR, lr_iters=LR_ITERS)
data = load_cifar10(DATA)
RUN_DIR = colab.run_folder(RUN_DIR, drive=DRIVE)
tables.table(["setting", "value"], config.to_dict().items())

# %% [markdown]
# ## 2. The pieces of the loop
# Training needs five things, and the kit builds each with one function, the same ones
# `training_run.start` calls in section 7. First the device (a GPU if there is one), the training images
# (the config's class-balanced subset) and the loader that serves them in shuffled,
# augmented batches.

# %%
device = hardware.resolve_device(config.device)
kept, _ = take_subset(config, data)
loader = make_train_loader(kept.x_train, kept.y_train, config, device)
print(f"{len(kept.x_train):,} training images in {len(loader)} batches of {config.batch_size}, "
      f"on {device}")

# %% [markdown]
# Then the model: the CIFAR version of ResNet-18, a 3x3 first convolution and no max-pool,
# because the images are only 32x32, then four stages of two residual blocks each.
# **Look for:** each stage halves the height and width and doubles the channels, and almost
# all parameters sit in the last two stages.

# %%
model = build_model(config, len(data.classes), device)
print(summarize(model))

# %% [markdown]
# ## 3. Optimizer, schedule and loss
# The optimizer is SGD with Nesterov momentum; its two parameter groups show that the
# convolution and linear weights get weight decay and the BatchNorm parameters and biases do
# not. The scheduler is OneCycle: it sets the optimizer's rate at every step, warming up from
# `max_lr / 25` to `max_lr` over the first quarter of training, then annealing along a cosine
# to almost zero. Warming up lets the untrained network reach a high rate without diverging;
# the long, slow end lets it settle into a good minimum. `max_lr` is `MAX_LR` if you set it,
# else the suggestion notebook 02 saved (if notebook 02 was skipped, the LR range test runs
# here first); a run already trained in `RUN_DIR` keeps its own, and a setting or data changed
# since it was trained stops this cell with one line naming it. The loss is cross-entropy with
# label smoothing.

# %%
max_lr, max_lr_source = choose_max_lr(config, data, RUN_DIR, len(loader))
optimizer = train.make_optimizer(model, config, lr=max_lr / config.div_factor)
scheduler = train.make_scheduler(optimizer, config, max_lr, len(loader))
criterion = train.make_criterion(config)
print(f"max_lr {max_lr:.3g} ({max_lr_source})", optimizer, criterion, sep="\n")

# %% [markdown]
# The rate of every step of the run, computed with the same function and settings. **Look
# for:** the peak at `max_lr` after a quarter of the steps (the dotted line).

# %%
rates = train.lr_schedule(config, max_lr, len(loader))
caption = captions.setup_caption(config, data, device)
fig = plots.plot_lr_schedule(rates, len(loader), caption, max_lr)

# %% [markdown]
# ## 4. A few training steps by hand
# One step of training is six lines: the forward pass, the loss, clearing the old gradients,
# backpropagation, the optimizer's step, and the scheduler's step, which sets the rate of the
# next step. The rate is read before the scheduler moves it, so it is the rate this step used.
# **Look for:** batches of shape (batch, 3, 32, 32), a first loss near ln(10) = 2.3 (ten
# classes, no idea yet), and the rate creeping up: this is the start of the warm-up.

# %%
used_lrs = []
for step, (images, labels) in zip(range(1, 6), loader):
    images, labels = images.to(device), labels.to(device)
    used_lrs.append(optimizer.param_groups[0]["lr"])  # the rate this step uses
    loss = criterion(model(images), labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
    print(f"step {step}: images {tuple(images.shape)}, loss {loss.item():.3f}, "
          f"lr {used_lrs[-1]:.3e}")

# %% [markdown]
# ## 5. The classic check: can the loop overfit one batch?
# A correct loop and model can memorise a handful of images: train a fresh network on the
# same 32 images over and over, and the loss must fall towards zero within a few dozen
# steps. (Plain cross-entropy here: with label smoothing the loss could not go below about
# 0.5.) If it stays high, something is broken before any question of hyperparameters:
# labels that do not match their images, a missing `zero_grad` or `optimizer.step`, a model
# left in eval mode, or a rate far too small or too large. The check takes seconds, and a
# bug it catches would otherwise cost a whole run.

# %%
images, labels = next(iter(loader))
images, labels = images[:32].to(device), labels[:32].to(device)
probe = build_model(config, len(data.classes), device)
probe_optimizer = train.make_optimizer(probe, config, lr=0.05)  # a fixed, moderate rate
plain_loss = train.make_criterion(config.replace(label_smoothing=0.0))

# %%
for step in range(1, 41):
    loss = plain_loss(probe(images), labels)
    probe_optimizer.zero_grad()
    loss.backward()
    probe_optimizer.step()
    if step % 10 == 0 or step == 1:
        print(f"step {step}: loss {loss.item():.3f}")

# %% [markdown]
# ## 6. One epoch of training, one evaluation
# An epoch of training is `train.train_epoch`, shown here from the installed kit itself. It
# is the loop of section 4 plus what a long run needs: the forward pass under autocast (bf16
# on a recent GPU), a gradient scaler (used only with fp16, which skips a step whose gradients
# overflowed while the schedule moves on), a progress bar, a stop with a clear message if the
# loss becomes NaN, and running sums for the epoch's mean loss and accuracy.

# %%
Code(inspect.getsource(train.train_epoch), language="python")

# %% [markdown]
# Evaluation runs the model on every test batch in eval mode (BatchNorm uses its running
# statistics, no dropout of anything) under `torch.inference_mode()` (no gradients kept), then
# computes the mean loss and the accuracy from the logits. The logits are kept: they are the
# test predictions that notebooks 04 and 05 analyse.

# %%
Code(inspect.getsource(train.evaluate_epoch) + "\n\n" + inspect.getsource(train.predict),
     language="python")

# %% [markdown]
# ## 7. Train
# The whole run is the loop below: for each epoch, train, evaluate on the test set, save.
#
# - `training_run.start` builds the pieces of sections 2 and 3 afresh (the steps above trained a
#   throwaway model): device and precision, data, loaders, model, `max_lr`, optimizer,
#   schedule. It holds the run folder's lock until the loop ends, so that no second notebook
#   or command trains into the same folder.
# - `set_epoch` gives each epoch its own shuffle and augmentation (a function of the seed and
#   the epoch, so a resumed run sees the images an uninterrupted one would).
# - `training.save_epoch` adds the epoch's time and a check that the network has not collapsed
#   onto one class to its row, saves the checkpoint, the history and the test predictions as
#   one set (a kill mid-save leaves the previous epoch whole), and prints one line.
#
# With `resume=True`, running this cell again (after a Colab disconnect, or after stopping it)
# starts the loop after the last saved epoch instead of from the beginning; once all epochs
# are done, it only loads the run (also from a folder it cannot write, such as a shared Drive
# folder). `python -m eraskit train` runs this same loop
# (`training_run.fit`).

# %%
with training_run.start(config, data, RUN_DIR, resume=True) as training:
    for epoch in training.epochs_left():  # after an interrupt: from the last saved epoch on
        training.train_loader.sampler.set_epoch(epoch)
        row = train.train_epoch(training.state, training.train_loader, epoch)
        test_row, logits, labels = train.evaluate_epoch(training.state, training.test_loader,
                                                        config.flip_tta)
        training.save_epoch(epoch, {**row, **test_row}, logits, labels)
run = runs.load_run(RUN_DIR)

# %% [markdown]
# ## 8. Learning curves
# Loss and accuracy per epoch, on the training and the test set. **Look for:** both losses
# falling together. Training accuracy is measured on augmented images, so it can stay
# below test accuracy until the end; a test loss that rises while the training loss keeps
# falling would mean overfitting. Accuracy climbs fastest as the rate decays in the last
# epochs.

# %%
fig = plots.plot_history(run.history, captions.caption(run))

# %% [markdown]
# The schedule the run used, read back from the run folder: it should match the preview.

# %%
fig = run_figures.schedule_figure(run)

# %% [markdown]
# ## 9. The run folder
# Everything notebooks 04 and 05 need is here; they load it and never retrain.

# %%
print(f"run folder: {Path(RUN_DIR).resolve()}")
sorted(path.name for path in run.paths.root.iterdir())

# %% [markdown]
# ## Exercises
# 1. **The ends of the schedule.** Which rate does the run's first step use, and its last?
#    Work them out from `max_lr` and the config's `div_factor` and `final_div_factor` (see
#    `help(train.make_scheduler)`), put them in `ANSWER` as `[first, last]` and run the cell:
#    it says whether they match the schedule of section 3.

# %%
ANSWER = None  # [first rate, last rate]
exercises.check("first_and_last_rate", ANSWER, rates)

# %% [markdown]
# 2. **Break the loop on purpose.** In the cell of section 5, delete the line
#    `probe_optimizer.zero_grad()` and run the two cells again. Gradients now pile up from
#    step to step: does the loss still fall to zero? Put the line back afterwards.
# 3. **What does cutout buy?** Train the same run without the 16x16 hole, into a run folder
#    of its own, and compare the two runs, in a new cell:
#
#    ```python
#    training_run.fit(config.replace(cutout=0), data, "runs/no-cutout")
#    print(tables.comparison_table([RUN_DIR, "runs/no-cutout"]))
#    ```
#
#    (the same table as `python -m eraskit compare runs/resnet18 runs/no-cutout` on the
#    command line, in this folder). `PRESET = "cpu"` trains both in under two hours on a CPU.
#    Which final test accuracy is higher? Which run reaches the higher *training* accuracy,
#    and why is that no contradiction?

# %% [markdown]
# ## Next
# Notebook 04 looks at the mistakes of this network, notebook 05 at where it looks.
