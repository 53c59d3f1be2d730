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
# # 05 · Grad-CAM: where does the network look?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/05_gradcam_gallery.ipynb)
#
# **Grad-CAM** draws, over an image, which regions raised the score of one class. It takes
# the activations of a layer (a stack of small feature maps), weighs each map by how much
# the class score changes when that map changes (its gradient, averaged over the map), adds
# the weighted maps, keeps the positive part and scales the result up to the image size.
# Red means "evidence for this class", blue means none. This notebook loads the run that
# notebook 03 trained; it trains nothing.

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
from eraskit import report
from eraskit import notebook as nb
from eraskit.data import load_cifar10

nb.show_errors_briefly()  # a problem with your settings prints one line saying what to change

# %% [markdown]
# ## Parameters
# `RUN_DIR` must be the folder notebook 03 trained into. Each value can also be set from
# outside through an environment variable `ERASKIT_<NAME>`.

# %% tags=["parameters"]
RUN_DIR = nb.from_env("RUN_DIR", "runs/resnet18")  # the run folder notebook 03 wrote
DATA = nb.from_env("DATA", None)  # a CIFAR-10 .npz file; None = download the official files
DRIVE = nb.from_env("DRIVE", True)  # on Colab, read the run folder from your Google Drive

# %% [markdown]
# ## 1. Load the run
# If notebook 03 has not trained this run yet, the cell stops with one line saying so.

# %%
RUN_DIR = nb.run_folder(RUN_DIR, drive=DRIVE)
run = nb.require_run(RUN_DIR)
results = report.load_test_results(RUN_DIR, load_cifar10(DATA))
print(report.caption(run))

# %% [markdown]
# ## 2. The gallery: ten confident mistakes
# Each mistake in three panels: the image, the evidence for the class the network predicted,
# and the evidence for the true class. The maps come from `layer3`, whose 8x8 grid shows
# more detail than layer4's 4x4 (section 3 measures which of the two is more faithful to
# what the network uses; the explorer shows both). **Look for:** whether the
# predicted class's evidence lies on the object or on the background (water under a
# "ship", sky around an "airplane"), and whether the true class had evidence in the right
# place that simply lost.

# %%
fig = report.gradcam_gallery(results, count=10)

# %% [markdown]
# ## 3. Can these maps be trusted?
# Two checks on the gallery's images (the scores are also saved as `trust.json` in the run
# folder):
#
# - **Randomisation.** The same architecture with random weights gets its own maps. If the
#   trained network's maps looked like those, they would show the image's edges and colours,
#   not what the network learned. Spearman's rank correlation measures the likeness: 1 is the
#   same map, near 0 unrelated. **Look for:** a low mean, and middle rows unlike bottom rows.
# - **Faithfulness (ROAD).** Blur away the pixels a map calls relevant, then the irrelevant
#   ones: if the map is faithful, the predicted class's probability falls more in the first
#   case. The score is half the difference, in probability units; random maps give the
#   baseline. **Look for:** both layers above the random maps, and which layer scores higher.

# %%
fig, trust = report.trust_check(results, count=10)
nb.table(["check", "value"], [("Spearman rho, trained vs random maps", trust["mean_spearman"]),
                              ("ROAD, layer3 maps", trust["layer3"]),
                              ("ROAD, layer4 maps", trust["layer4"]),
                              ("ROAD, random maps", trust["random_maps"])])

# %% [markdown]
# ## 4. Explore
# Pick an image (the mistakes, most confident first, or any test image), the class whose
# evidence to draw, the layer and the method; the figure redraws after each change. Try:
#
# - **layer**: layer1 (32x32) shows edges and colours, layer4 (4x4) whole objects, coarsely.
# - **target**: the same image with different classes; the maps of wrong classes are often
#   weak or sit on a part that looks like that class.
# - **method**: Grad-CAM's relatives weigh the maps differently (gradcam++ and layercam use
#   positive gradients, eigencam uses no class at all); where they agree you can trust the map.
#
# The widgets need a running kernel: a saved or static copy of the notebook does not show them.

# %%
nb.gradcam_explorer(results)
