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
# # 04 · Analyse the errors
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/04_analyse_errors.ipynb)
#
# Accuracy is one number; the mistakes behind it tell you more. This notebook loads the run
# that notebook 03 trained and looks at which test images the network gets wrong, which
# classes it mixes up, and how sure it was. It trains nothing, so a CPU is enough.

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

from eraskit import (captions, colab, exercises, metrics, plots, predictions, run_figures,
                     tables)
from eraskit import notebook as nb

colab.show_errors_briefly()  # a problem with your settings prints one line saying what to change
nb.report_unknown_env()  # names a misspelt ERASKIT_* variable, which would change nothing

# %% [markdown]
# ## Parameters
# `RUN_DIR` must be the folder notebook 03 trained into. Each value can also be set from
# outside through an environment variable `ERASKIT_<NAME>`.

# %% tags=["parameters"]
RUN_DIR = nb.from_env("RUN_DIR", "runs/resnet18")  # the run folder notebook 03 wrote
DATA = nb.from_env("DATA", None)  # a CIFAR-10 .npz file; None = the one the run was trained on
DRIVE = nb.from_env("DRIVE", True)  # on Colab, read the run folder from your Google Drive

# %% [markdown]
# ## 1. Load the run
# The settings, the trained weights and the test predictions all come from the run folder;
# the test images come from the data set (with `DATA = None`, the `.npz` file the run was
# trained on, as its `meta.json` records it). If notebook 03 has not trained this run yet,
# the cell stops with one line saying so. A run whose test accuracy is close to chance (10%)
# gets a warning: its mistakes are then mostly noise.

# %%
RUN_DIR = colab.run_folder(RUN_DIR, drive=DRIVE)
run = nb.require_run(RUN_DIR)
results = predictions.load_test_results(run, nb.analysis_data(run, DATA))
print(captions.caption(run))
print(captions.chance_warning(run) or "")

# %% [markdown]
# ## 2. The most confident mistakes
# Ten test images the network got wrong, those it was surest about first, with the true
# class, the predicted class and the probability it gave that prediction. The images are
# denormalised back to their original colours. **Look for:** mistakes a person could make
# too (a small, blurry or cut-off object, an unusual view) and mistakes no person would
# make (the background decided, not the object). Some confident "mistakes" are no mistakes
# at all: CIFAR-10 has label errors, and a few dozen of its test images carry a class they do
# not show (or show two classes). A network that is 99% sure of a "wrong" class is worth a
# second look at the image.

# %%
fig = run_figures.misclassified_gallery(results, count=10)

# %% [markdown]
# ## 3. The numbers behind the figures
# The run folder stores every test image's prediction, and the figures below only count
# them. The confusion matrix adds one to cell (true class, predicted class) for each image;
# its diagonal holds the correct predictions, and the diagonal divided by each row's total
# is each class's accuracy. A few lines of numpy (the kit's `metrics` module computes the
# same):

# %%
labels, preds = results.labels, results.preds
counts = np.zeros((len(results.classes), len(results.classes)), dtype=int)
np.add.at(counts, (labels, preds), 1)  # counts[true, pred] += 1 for every test image
per_class = counts.diagonal() / counts.sum(axis=1)
print(f"{counts.trace()} of {counts.sum()} test images right")
tables.table(["class", "test images", "right", "accuracy"],
             zip(results.classes, counts.sum(axis=1), counts.diagonal(), per_class))

# %% [markdown]
# ## 4. Confusion matrix
# Row = true class, column = predicted class, each cell counts test images. The diagonal
# holds the correct predictions. **Look for:** the largest counts off the diagonal. They
# usually come in pairs that look alike, and the matrix is roughly symmetric: cat and dog,
# automobile and truck, airplane and ship (blue backgrounds), deer and horse.

# %%
fig = plots.plot_confusion(results.labels, results.preds, results.classes, captions.caption(run))

# %% [markdown]
# ## 5. Accuracy per class
# The share of each class's test images classified correctly; the dashed line is the overall
# accuracy. **Look for:** the classes well below the line: the network is not equally good at
# everything, and the overall number hides it (cat is usually the hardest).

# %%
fig = plots.plot_per_class_accuracy(results.labels, results.preds, results.classes,
                                    captions.caption(run))

# %% [markdown]
# ## 6. The most confused pairs
# The five most frequent mistakes, read off the confusion matrix. Notebook 05 shows where
# the network looked when it made them.

# %%
pairs = metrics.confused_pairs(results.labels, results.preds, results.classes, top=5)
tables.table(["true class", "predicted as", "test images"], pairs)

# %% [markdown]
# ## Exercises
# 1. **Precision.** Accuracy per class answers "of the true cats, how many were called
#    cat?". Precision asks the other way round: "of the images called cat, how many were
#    cats?". Compute it for every class from `counts` of section 3 (hint: columns instead of
#    rows), as an array of 10 numbers, and check it:

# %%
ANSWER = None  # the precision of each class: an array of 10 numbers in [0, 1]
exercises.check("precision_per_class", ANSWER, labels, preds, len(results.classes))

# %% [markdown]
# 2. **Label errors.** Look at more of the confident mistakes,
#    `run_figures.misclassified_gallery(results, count=30)`. For which of them would you give the
#    network's answer yourself?
# 3. **Another run's errors.** Set `RUN_DIR` to a run trained with other settings (the
#    command line's `runs/cpu`, or the no-cutout run of notebook 03's exercises) and run this
#    notebook again. Are the same pairs of classes confused?

# %% [markdown]
# ## Next
# Notebook 05 shows where the network looked when it made these mistakes.
