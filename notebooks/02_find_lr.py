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
# seconds there and minutes on a CPU.

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
from eraskit import lr_finder, pipeline, plots, report
from eraskit import notebook as nb
from eraskit.config import Config
from eraskit.data import load_cifar10

nb.show_errors_briefly()  # a problem with your settings prints one line saying what to change

# %% [markdown]
# ## Parameters
# These are the settings of the run, the same as in notebook 03: the rate found here suits
# these settings only, and a run folder keeps the settings it was started with. To change
# one, change it here and in notebook 03 alike, or use a new `RUN_DIR`. Each value can also
# be set from outside through an environment variable `ERASKIT_<NAME>` (the tests run a small
# version of every notebook that way).

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
# Every hyperparameter lives in one `Config`; the fields not set here keep their defaults
# (SGD with Nesterov momentum, weight decay 5e-4, label smoothing 0.1). On Colab the run
# folder goes to Google Drive (it asks for permission once), because each Colab notebook
# runs on its own machine and only Drive is shared between them.

# %%
config = Config(epochs=EPOCHS, width=WIDTH, subset=SUBSET, test_subset=TEST_SUBSET,
                batch_size=BATCH_SIZE, max_lr=MAX_LR, lr_iters=LR_ITERS)
data = load_cifar10(DATA)
RUN_DIR = nb.run_folder(RUN_DIR, drive=DRIVE)

# %% [markdown]
# ## 2. Run the LR range test
# `pipeline.find_lr` builds the model and the augmented training batches exactly as training
# will, sweeps the rate over `LR_ITERS` steps and saves the curve and its suggestion in the
# run folder as `lr_finder.json`.

# %%
result = pipeline.find_lr(config, data, RUN_DIR)

# %% [markdown]
# ## 3. Read the curve
# The plot shows the smoothed loss against the rate, on a log scale. **Look for** three
# parts: on the left the rate is too small to change anything and the curve is flat; in the
# middle the loss falls; on the right it turns up and shoots off, because the steps are so
# large that training diverges. The dashed lines mark the suggested max LR and the points of
# the curve it is read from; the legend gives their values.

# %%
fig = plots.plot_lr_finder(result, report.setup_caption(config, data))

# %% [markdown]
# ## 4. The suggestion rule
# The kit's peak is 10 times the rate at the loss minimum. Why not the minimum itself? The
# sweep pushes an untrained network through a few dozen steps, and past the minimum that
# network breaks down; OneCycle instead reaches its peak after several epochs of warm-up, when
# the network tolerates much larger steps. On CIFAR-10, peaks 5-12 times the minimum's rate
# trained 1.5-2.5 points better than the minimum itself. The rule lives in
# `lr_finder.suggest`; its docstring gives the measurements:

# %%
help(lr_finder.suggest)

# %% [markdown]
# Notebook 03 uses `suggested_lr` as the peak (max LR) of its OneCycle schedule, unless you
# set `MAX_LR` there. To try another rate, set `MAX_LR` in notebook 03 rather than editing
# `lr_finder.json`.

# %%
print(f"suggested max LR {result['suggested_lr']:.3g} ({result['rule']}); "
      f"steepest descent at {result['steepest_lr']:.3g}")

# %% [markdown]
# ## Next
# Notebook 03 trains the ResNet-18 with this rate. Keep `RUN_DIR` the same there.
