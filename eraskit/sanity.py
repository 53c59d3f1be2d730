"""Can the Grad-CAM maps be trusted? Two checks.

- Model randomisation ("Sanity Checks for Saliency Maps", Adebayo et al. 2018): maps that
  explain a trained network must differ from the maps of the same architecture with random
  weights. If they look alike, the map shows the image's edges, not what the network learned.
- Faithfulness (ROAD, Rong et al. 2022): blur away the pixels a map calls relevant and the
  class probability should fall more than when the irrelevant pixels go. The score is half the
  difference, in probability units; a random map sets the baseline.
"""

from __future__ import annotations

import warnings
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from .gradcam import compute_cams, overlay
from .model import ResNet18
from .plots import add_caption


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (any shape), in [-1, 1]; 0 when either map is
    constant (an empty map ranks nothing)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    rho = spearmanr(a.ravel(), b.ravel()).statistic
    return 0.0 if np.isnan(rho) else float(rho)


def random_twin(model: ResNet18, seed: int = 0) -> ResNet18:
    """A model of the same architecture with fresh random weights, in eval mode."""
    torch.manual_seed(seed)
    twin = ResNet18(model.width, model.num_classes)
    return twin.to(next(model.parameters()).device).eval()


def randomization_check(model: ResNet18, images: torch.Tensor, target_classes: Sequence[int],
                        layer: str = "layer3", method: str = "gradcam", seed: int = 0) -> dict:
    """CAMs of the trained model and of a random twin on the same images and classes.

    Returns {"cams_trained", "cams_random": (N, H, W), "spearman": (N,), "mean_spearman"}."""
    trained = compute_cams(model, images, target_classes, layer, method)
    random = compute_cams(random_twin(model, seed), images, target_classes, layer, method)
    rho = np.array([spearman(a, b) for a, b in zip(trained, random)])
    return {"cams_trained": trained, "cams_random": random, "spearman": rho,
            "mean_spearman": float(rho.mean())}


def road_scores(model: nn.Module, images: torch.Tensor, cams: np.ndarray,
                target_classes: Sequence[int],
                percentiles: Sequence[int] = (20, 40, 60, 80)) -> np.ndarray:
    """ROAD faithfulness of each map, (N,): higher means the map points at what matters."""
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    model.eval()
    device = next(model.parameters()).device
    targets = [ClassifierOutputSoftmaxTarget(int(c)) for c in target_classes]
    with warnings.catch_warnings():
        # ROAD's imputer hands torch tensors to numpy functions, which NumPy 2 deprecates
        warnings.filterwarnings("ignore", message="__array_wrap__ must accept context",
                                category=DeprecationWarning)
        scores = ROADCombined(percentiles=list(percentiles))(images.to(device), cams, targets,
                                                             model)
    return np.asarray(scores, dtype=np.float64).reshape(-1)


def faithfulness(model: nn.Module, images: torch.Tensor, target_classes: Sequence[int],
                 layers: Sequence[str] = ("layer3", "layer4"), method: str = "gradcam",
                 seed: int = 0, percentiles: Sequence[int] = (20, 40, 60, 80)) -> dict:
    """Mean ROAD score of the CAMs at each layer against random maps on the same images."""
    rng = np.random.default_rng(seed)
    random_maps = rng.random((len(images), *images.shape[-2:])).astype(np.float32)

    def score(maps: np.ndarray) -> float:
        return float(road_scores(model, images, maps, target_classes, percentiles).mean())

    result = {"metric": f"ROAD combined (percentiles {', '.join(map(str, percentiles))}), "
                        f"probability units", "method": method, "images": len(images),
              "random_maps": score(random_maps)}
    for layer in layers:
        result[layer] = score(compute_cams(model, images, target_classes, layer, method))
    return result


def plot_randomization(rgb: np.ndarray, check: dict, titles: Sequence[str],
                       caption: Optional[str] = None) -> plt.Figure:
    """Rows: image, CAM of the trained model, CAM of the random twin, with Spearman's rho."""
    n = len(rgb)
    fig, axes = plt.subplots(3, n, figsize=(1.8 * n, 6.2), squeeze=False)
    rows = (("image", lambda i: rgb[i]),
            ("trained", lambda i: overlay(rgb[i], check["cams_trained"][i])),
            ("random weights", lambda i: overlay(rgb[i], check["cams_random"][i])))
    for r, (label, image) in enumerate(rows):
        for i in range(n):
            ax = axes[r, i]
            ax.imshow(image(i))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[i], fontsize=8)
            if r == 2:
                ax.set_xlabel(f"rho {check['spearman'][i]:.2f}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=9)
    fig.suptitle(f"Randomisation check: mean Spearman rho {check['mean_spearman']:.2f}\n"
                 f"1 = the same maps with random weights (they ignore what was learned); near 0 "
                 f"= they depend on the weights: needed, but no proof that they are right",
                 fontsize=9)
    fig.tight_layout()
    return add_caption(fig, caption)
