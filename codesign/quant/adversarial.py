"""FGSM adversarial examples and adversarial training (Goodfellow et al. 2015; CMS-DP-2022-049 for DeepJet).

One step of the fast gradient sign method moves every perturbable input by ε in units of its scale,
in the direction that increases the loss:

    x_adv = x + ε · s ⊙ sign(∇ₓ L(f(x), y)) ⊙ m

s: per column, the std of that column over the training set's perturbable entries (`feature_scales`);
m: 1 on perturbable entries, 0 elsewhere: the input layout says which (for the flavour tokens,
   zoo/flavour_tokens.perturbable: continuous features of real candidates and SVs; padding and
   integer-like features such as charge, the SV track count and the exists flags never move).
Adversarial training (card [training.adversarial], quant/train_float.fit) replaces a fraction of each
batch by its FGSM version after `warmup_epochs` nominal epochs; ε = 0 reproduces nominal training
bit for bit (x + 0 = x, and the attack draws no random numbers).
"""

from __future__ import annotations

import numpy as np


def feature_scales(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(C,) float32: std of each column over the entries where `mask` is 1 (0 for a column with none)."""
    c = x.shape[-1]
    xv, mv = x.reshape(-1, c).astype(np.float64), mask.reshape(-1, c) > 0
    n = mv.sum(axis=0)
    mean = np.where(mv, xv, 0.0).sum(axis=0) / np.maximum(n, 1)
    var = np.where(mv, (xv - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n, 1)
    return np.where(n > 1, np.sqrt(var), 0.0).astype(np.float32)


def fgsm(model, loss_fn, x, y, epsilon: float, scale, mask):
    """The FGSM version of the torch batch `x` (labels `y`); `scale` (C,) and `mask` (like x) torch tensors.

    Only the input's gradient is taken: the model's parameter gradients are left untouched.
    """
    import torch

    x_in = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(model(x_in), y), x_in)
    return (x + epsilon * scale * torch.sign(grad) * mask).detach()


def attack(model, x: np.ndarray, labels: np.ndarray, epsilon: float, scale: np.ndarray, mask_of, batch: int = 2048):
    """FGSM versions of numpy inputs `x` against `model` (eval mode, plain cross entropy); `mask_of(x)` gives m."""
    import torch

    model.eval()
    loss_fn = torch.nn.CrossEntropyLoss()
    s = torch.from_numpy(np.asarray(scale, np.float32))
    out = []
    for i in range(0, len(x), batch):
        xb = x[i : i + batch]
        yb = torch.from_numpy(np.asarray(labels[i : i + batch], np.int64))
        out.append(fgsm(model, loss_fn, torch.from_numpy(xb), yb, epsilon, s, torch.from_numpy(mask_of(xb))).numpy())
    return np.concatenate(out) if out else x.copy()
