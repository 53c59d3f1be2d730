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
# # 01 · Explore CIFAR-10
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/eraskit/eraskit/blob/main/notebooks/01_explore_data.ipynb)
#
# Before training a network, look at what it will learn from: how many images each class
# has, what the ten classes look like, what augmentation does to one image, and the
# numbers used to normalise every image. Nothing here trains; it runs in a minute on a CPU.

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

from eraskit import augment, captions, colab, exercises, plots, tables
from eraskit import notebook as nb
from eraskit.config import Config
from eraskit.data import MEAN, STD, channel_stats, load_cifar10, take_subset

colab.show_errors_briefly()  # a problem with your settings prints one line saying what to change
nb.report_unknown_env()  # names a misspelt ERASKIT_* variable, which would change nothing

# %% [markdown]
# ## Parameters
# Change the values here. Each one can also be set from outside through an environment
# variable `ERASKIT_<NAME>` (for example `ERASKIT_SUBSET=1000`): the tests run a small version
# of every notebook that way.

# %% tags=["parameters"]
DATA = nb.from_env("DATA", None)  # a CIFAR-10 .npz file; None = download the official files
SUBSET = nb.from_env("SUBSET", None)  # training images to look at; None = all 50,000
TEST_SUBSET = nb.from_env("TEST_SUBSET", None)  # test images; None = all 10,000
IMAGE = nb.from_env("IMAGE", 0)  # which training image to augment in step 4

# %% [markdown]
# ## 1. Load the data
# `take_subset` keeps the same class-balanced subset that training will use, so what you
# see here is what the network sees. The images are stored as pixels: `uint8` arrays of shape
# (N, 32, 32, 3), RGB; labels are integers 0-9 that index `data.classes`.

# %%
config = Config(subset=SUBSET, test_subset=TEST_SUBSET)
data, _ = take_subset(config, load_cifar10(DATA))
print(f"source: {data.source}")
print(f"train: {data.x_train.shape} {data.x_train.dtype}, test: {data.x_test.shape}")
print(f"classes: {', '.join(data.classes)}")

# %% [markdown]
# ## 2. Class balance
# Count the images of each class. **Look for:** bars of equal height. CIFAR-10 has 5,000
# training and 1,000 test images per class, so plain accuracy is a fair score and a network
# that always guesses one class gets only 10%.

# %%
source = captions.data_name(data.source)
train_caption = f"{len(data.y_train):,} training images of {source}"
test_caption = f"{len(data.y_test):,} test images of {source}"
train_fig = plots.plot_class_balance(data.y_train, data.classes, "Training images per class",
                                     train_caption)
test_fig = plots.plot_class_balance(data.y_test, data.classes, "Test images per class",
                                    test_caption)

# %% [markdown]
# ## 3. What the classes look like
# Eight random training images per class, one row each. **Look for:** how small 32x32 is,
# objects cut off at the border, odd viewpoints, and pairs that look alike (cat and dog,
# automobile and truck, deer and horse). Notebook 04 shows that the network confuses the
# same pairs.

# %%
fig = plots.plot_samples_per_class(data.x_train, data.y_train, data.classes, per_class=8,
                                   caption=train_caption)

# %% [markdown]
# ## 4. Augmentation: one image, many versions
# Each time training draws an image it changes it at random: pad 4 pixels (mirroring the
# edge) and crop a random 32x32 window, flip left-right half the time, and half the time
# cover one 16x16 square with the mean colour (cutout). The network never sees exactly the
# same picture twice, so it cannot memorise pixels and has to learn what a class looks like.
# **Look for:** shifted, mirrored and partly hidden copies that still clearly show the object.
# (`normalize=False` skips the final normalisation so the pictures stay viewable.)

# %%
transform = augment.train_transform(config, normalize=False)
image, label = data.x_train[IMAGE], data.y_train[IMAGE]
versions = [image] + [transform(image=image)["image"] for _ in range(9)]
titles = [f"original {data.classes[label]}"] + [f"augmented {i}" for i in range(1, 10)]
fig = plots.plot_image_grid(np.stack(versions) / 255, titles,
                            caption=f"training image {IMAGE} of {train_caption}")

# %% [markdown]
# ## 5. The numbers used for normalisation
# Before an image enters the network each channel is normalised: `(pixel / 255 - MEAN) / STD`,
# which centres the inputs near 0 with spread 1, where training works best. The kit uses
# fixed constants measured on the official training set, so training and test images get
# exactly the same treatment. **Look for:** the statistics of these images agree with the
# constants to about two decimal places; a subset, or a rebuilt copy of the data, differs a
# little, which does not matter.

# %%
mean, std = channel_stats(data.x_train)
tables.table(["channel", "mean of these images", "MEAN (constant)", "std of these images",
              "STD (constant)"], zip("RGB", mean, MEAN, std, STD))

# %% [markdown]
# ## Exercises
# 1. **Normalise one image yourself.** Take training image `IMAGE` (`data.x_train[IMAGE]`,
#    uint8, height x width x channels), apply `(pixel / 255 - MEAN) / STD` per channel with
#    numpy, and move the channels first (`.transpose(2, 0, 1)`), which is the (3, 32, 32)
#    layout the network reads. Check it against the kit's test-time transform:

# %%
ANSWER = None  # image IMAGE, normalised, as a (3, 32, 32) array
exercises.check("normalized_image", ANSWER, data, IMAGE)

# %% [markdown]
# 2. **Which class is brightest?** Compute the mean pixel value of each class's training
#    images, in [0, 1] (`data.x_train[data.y_train == c]` holds class `c`'s images), as an
#    array of 10 numbers, and check it. Does the brightest class surprise you?

# %%
ANSWER = None  # the mean brightness of each class: an array of 10 numbers in [0, 1]
exercises.check("brightness_per_class", ANSWER, data)

# %% [markdown]
# 3. **Augmentation without the hole.** Build the transform of step 4 from
#    `config.replace(cutout=0)` and draw the ten versions again. Notebook 03's exercises
#    measure what the hole is worth.

# %% [markdown]
# ## Next
# Notebook 02 finds a good learning rate for training.
