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
# Red means "evidence for this class", blue means none. Section 2 does this arithmetic by
# hand on one image, then checks it against the pytorch-grad-cam library, which draws the
# gallery. This notebook loads the run that notebook 03 trained; it trains nothing.

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
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch.nn import functional as F

from eraskit import captions, colab, exercises, gradcam, plots, predictions, run_figures, tables
from eraskit import notebook as nb
from eraskit.gradcam_explorer import gradcam_explorer

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
# If notebook 03 has not trained this run yet, the cell stops with one line saying so. With
# `DATA = None` the test images come from the `.npz` file the run was trained on. A run whose
# test accuracy is close to chance gets a warning: its maps then explain a network that has
# learned next to nothing, and mean nothing.

# %%
RUN_DIR = colab.run_folder(RUN_DIR, drive=DRIVE)
run = nb.require_run(RUN_DIR)
results = predictions.load_test_results(run, nb.analysis_data(run, DATA))
print(captions.caption(run))
print(captions.chance_warning(run) or "")

# %% [markdown]
# ## 2. Grad-CAM by hand
# One image, the network's most confident mistake, and one class, the one it predicted.
# Grad-CAM needs two things from a layer: its **activations** (for `layer3`, C feature maps
# of 8x8) and their **gradients**: how much the class score changes when each activation
# changes.

# %%
model = results.model
position = int(predictions.mistakes(results, 1)[0])  # the most confident mistake
class_idx = int(results.preds[position])  # the class it predicted
input_tensor = results.normalized([position])  # (1, 3, 32, 32), as the network sees it
rgb = plots.denormalize(input_tensor)[0]  # (32, 32, 3) float in [0, 1], for the picture

# %% [markdown]
# PyTorch hands both out through **hooks**, functions it calls during a pass.
# `gradcam.record_layer` hooks into a layer for the length of a `with` block: it keeps the
# layer's output on the forward pass and that output's gradient on the backward pass, and
# takes the hook off when the block ends. The score to explain is the logit of `class_idx`,
# so that is what `.backward()` starts from. Gradients must be on: this cannot run under
# `torch.no_grad()`.

# %%
with gradcam.record_layer(model.layer3) as record:  # the hook lives inside the block only
    logits = model(input_tensor)  # forward: keeps layer3's output
    logits[0, class_idx].backward()  # backward: keeps d logit / d layer3's output
activations, gradients = record.activations[0], record.gradients[0]  # (C, 8, 8) each
print(f"activations {tuple(activations.shape)}, gradients {tuple(gradients.shape)}")

# %% [markdown]
# The arithmetic, one line a step:
# 1. each channel's **weight** is its gradient averaged over the 8x8 positions: how much the
#    class score grows, on average, when that feature map grows;
# 2. the **map** is the weighted sum of the channels, with its negative part (evidence
#    *against* the class) cut off by a ReLU;
# 3. the 8x8 map is **upsampled** to the image's 32x32 (bilinear, as the library does with
#    `cv2.resize`) and **scaled** to [0, 1]: its lowest value becomes 0, its highest 1. A map
#    with no positive value at all stays zero: "no positive evidence" for that class.

# %%
weights = gradients.mean(dim=(1, 2))  # (C,): one weight per channel
cam = torch.relu((weights[:, None, None] * activations).sum(dim=0))  # (8, 8)
cam = F.interpolate(cam[None, None], size=(32, 32), mode="bilinear",
                    align_corners=False)[0, 0]  # (32, 32), pixel centres as in cv2.resize
cam = cam - cam.min()  # the lowest value becomes 0 ...
cam_by_hand = (cam / cam.max() if cam.max() > 0 else cam).numpy()  # ... the highest 1

# %% [markdown]
# ### The same map from the library
# pytorch-grad-cam does all of the above in one call. `GradCAM` hooks into the layer for the
# length of its `with` block; `ClassifierOutputTarget(c)` says that the score to explain is
# the logit of class `c`; calling the object runs both passes and returns one map per image.
# (Beware: its `with` block catches an IndexError, from a class number out of range say,
# prints it and carries on without a map.) **Look for:** a difference of about 1e-6, which
# is rounding: the two maps are the same.

# %%
with GradCAM(model=model, target_layers=[model.layer3]) as grad_cam:
    cam_from_library = grad_cam(input_tensor=input_tensor,
                                targets=[ClassifierOutputTarget(class_idx)])[0]
print(f"largest difference, by hand against the library: "
      f"{np.abs(cam_by_hand - cam_from_library).max():.1e}")

# %% [markdown]
# `show_cam_on_image` draws a map over the picture: it wants the picture as float RGB in
# [0, 1], height x width x channels (hence the denormalisation), and `use_rgb=True` because
# it is RGB, not OpenCV's BGR.

# %%
pictures = [show_cam_on_image(rgb, cam, use_rgb=True) / 255  # uint8 (32, 32, 3) -> [0, 1]
            for cam in (cam_by_hand, cam_from_library)]
fig = plots.plot_image_grid(
    np.stack([rgb, *pictures]),
    [f"true {results.classes[results.labels[position]]}",
     f"by hand: evidence\nfor {results.classes[class_idx]}",
     f"library: evidence\nfor {results.classes[class_idx]}"], columns=3, size=2.6,
    caption=captions.analysis_caption(results), title="Grad-CAM at layer3")

# %% [markdown]
# ## 3. The gallery: ten confident mistakes
# Each mistake in three panels: the image, the evidence for the class the network predicted,
# and the evidence for the true class, computed as above (the first row holds the image of
# section 2). The maps come from `layer3`, whose 8x8 grid shows
# more detail than layer4's 4x4 (section 4 measures which of the two is more faithful to
# what the network uses; the explorer shows both). **Look for:** whether the
# predicted class's evidence lies on the object or on the background (water under a
# "ship", sky around an "airplane"), and whether the true class had evidence in the right
# place that simply lost.
#
# What the colours hide: each map is scaled to its own maximum, so red is the strongest
# evidence *within that map*, and a weak map looks as red as a strong one; compare where the
# evidence lies, not how much of it there is (the probabilities say that). A map that is
# blue all over is labelled "no positive evidence": nothing in the layer raised that class's
# score, which is common for classes the network found very unlikely.

# %%
fig = run_figures.gradcam_gallery(results, count=10)

# %% [markdown]
# ## 4. Can these maps be trusted?
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
fig, trust = run_figures.trust_check(results, count=10)
run_figures.save_trust(results, trust)  # kept in the run folder as trust.json
tables.table(["check", "value"],
             [("Spearman rho, trained vs random maps", trust["mean_spearman"]),
              ("ROAD, layer3 maps", trust["layer3"]),
              ("ROAD, layer4 maps", trust["layer4"]),
              ("ROAD, random maps", trust["random_maps"])])

# %% [markdown]
# ## 5. Explore
# Pick an image (the mistakes, most confident first, or any test image), the class whose
# evidence to draw, the layer and the method; the figure redraws after each change. Try:
#
# - **layer**: layer1 (32x32) shows edges and colours, layer4 (4x4) whole objects, coarsely.
# - **target**: the same image with different classes; the maps of wrong classes are often
#   weak or sit on a part that looks like that class.
# - **method**: Grad-CAM's relatives weigh the maps differently (gradcam++ and layercam use
#   positive gradients); where they agree you can trust the map more. eigencam uses no
#   class at all: it draws the main component of the layer's activations, the same map for
#   every target, and its panels say so.
#
# The widgets need a running kernel: a saved or static copy of the notebook does not show them.
# Where they cannot show (a front end without widgets, or no ipywidgets installed), the cell
# shows one figure and a line under it: then change the values in the call below (`number`
# counts within `selection`, "mistakes" or "all"; `target` is "true", "pred" or a class
# number) and run the cell again.

# %%
gradcam_explorer(results, selection="mistakes", number=0, target="true", layer="layer3",
                 method="gradcam")

# %% [markdown]
# ## Exercises
# 1. **A map at layer2.** Compute the Grad-CAM map of the same image and class as in
#    section 2, but at `layer2` (16x16 activations): by hand as there, with the hook on
#    `model.layer2`, then with `GradCAM` if you like, and check it against the kit's:

# %%
ANSWER = None  # the (32, 32) map at layer2 of input_tensor for class_idx
exercises.check("layer2_map", ANSWER, model, input_tensor, class_idx)

# %% [markdown]
# 2. **The true class's evidence.** In section 2, set `class_idx` to the true class
#    (`results.labels[position]`) instead of the predicted one and rerun its cells. Where does
#    the network see the true class, and is that evidence weaker, or just elsewhere?
# 3. **Methods that agree.** In the explorer, pick one mistake and switch between gradcam,
#    gradcam++ and layercam at layer3. Where they agree the map is more trustworthy; then
#    pick eigencam and change the target: why does the map not move?
