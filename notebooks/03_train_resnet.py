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
# On Colab, pick a GPU first (Runtime > Change runtime type > GPU): 20 epochs take minutes
# there. On a CPU, try the `cpu` preset's values below: `WIDTH = 16`, `SUBSET = 10000`,
# `BATCH_SIZE = 256`.

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
from pathlib import Path

from eraskit import pipeline, plots, report, train
from eraskit import notebook as nb
from eraskit.config import Config
from eraskit.data import load_cifar10
from eraskit.model import ResNet18, summarize

nb.show_errors_briefly()  # a problem with your settings prints one line saying what to change

# %% [markdown]
# ## Parameters
# The settings of the run, the same as in notebook 02. A run folder keeps the settings it
# was started with: to change one, change it in notebook 02 too, or use a new `RUN_DIR`. Each
# value can also be set from outside through an environment variable `ERASKIT_<NAME>` (the
# tests run a small version of every notebook that way).

# %% tags=["parameters"]
EPOCHS = nb.from_env("EPOCHS", 20)  # passes over the training set
WIDTH = nb.from_env("WIDTH", 64)  # channels of the first stage; 64 is the standard ResNet-18
SUBSET = nb.from_env("SUBSET", None)  # training images; None = all 50,000
TEST_SUBSET = nb.from_env("TEST_SUBSET", None)  # test images; None = all 10,000
BATCH_SIZE = nb.from_env("BATCH_SIZE", 512)  # images per training step
MAX_LR = nb.from_env("MAX_LR", None)  # OneCycle's peak rate; None = the LR range test's choice
LR_ITERS = nb.from_env("LR_ITERS", 100)  # training steps of the LR range test (at least 17)
RUN_DIR = nb.from_env("RUN_DIR", "runs/resnet18")  # the run folder notebooks 02-05 share
DATA = nb.from_env("DATA", None)  # a CIFAR-10 .npz file; None = download the official files
DRIVE = nb.from_env("DRIVE", True)  # on Colab, keep the run folder in your Google Drive

# %% [markdown]
# ## 1. Settings and data
# Every hyperparameter lives in one `Config`. The table lists them all, with the defaults
# for the ones not set above; the run saves it as `config.json`, so notebooks 04 and 05
# rebuild the same model without repeating any setting.

# %%
config = Config(epochs=EPOCHS, width=WIDTH, subset=SUBSET, test_subset=TEST_SUBSET,
                batch_size=BATCH_SIZE, max_lr=MAX_LR, lr_iters=LR_ITERS)
data = load_cifar10(DATA)
RUN_DIR = nb.run_folder(RUN_DIR, drive=DRIVE)
nb.table(["setting", "value"], config.to_dict().items())

# %% [markdown]
# ## 2. The model
# The CIFAR version of ResNet-18: a 3x3 first convolution and no max-pool, because the
# images are only 32x32, then four stages of two residual blocks each. **Look for:** each
# stage halves the height and width and doubles the channels, and almost all parameters
# sit in the last two stages.

# %%
print(summarize(ResNet18(config.width)))

# %% [markdown]
# ## 3. The OneCycle schedule
# The learning rate changes at every step: it warms up from `max_lr / 25` to `max_lr` over
# the first quarter of training, then anneals along a cosine to almost zero. Warming up
# lets the untrained network reach a high rate without diverging; the long, slow end lets
# it settle into a good minimum. `max_lr` is `MAX_LR` if you set it, else the suggestion
# notebook 02 saved (if notebook 02 was skipped, the LR range test runs here first).

# %%
max_lr = nb.peak_lr(config, data, RUN_DIR)
steps = nb.steps_per_epoch(config, data)
fig = plots.plot_lr_schedule(train.lr_schedule(config, max_lr, steps), steps,
                             report.setup_caption(config, data))

# %% [markdown]
# ## 4. Train
# `pipeline.fit` runs the plain PyTorch loop of `eraskit/train.py`: for each batch, forward,
# loss, backward, optimizer step, scheduler step. After every epoch it evaluates on the test
# set and saves a checkpoint in the run folder. With `resume=True`, running this cell again
# (after a Colab disconnect, or after stopping it) continues from the last finished epoch
# instead of starting over; once all epochs are done it just loads the run.

# %%
run = pipeline.fit(config, data, RUN_DIR, resume=True)

# %% [markdown]
# ## 5. Learning curves
# Loss and accuracy per epoch, on the training and the test set. **Look for:** both losses
# falling together. Training accuracy is measured on augmented images, so it can stay
# below test accuracy until the end; a test loss that rises while the training loss keeps
# falling would mean overfitting. Accuracy climbs fastest as the rate decays in the last
# epochs.

# %%
fig = plots.plot_history(run.history, report.caption(run))

# %% [markdown]
# The schedule the run used, read back from the run folder: it should match the preview.

# %%
fig = report.schedule_figure(run)

# %% [markdown]
# ## 6. The run folder
# Everything notebooks 04 and 05 need is here; they load it and never retrain.

# %%
print(f"run folder: {Path(RUN_DIR).resolve()}")
sorted(path.name for path in run.paths.root.iterdir())

# %% [markdown]
# ## Next
# Notebook 04 looks at the mistakes of this network, notebook 05 at where it looks.
