"""The neos benchmark (Simpson and Heinrich, arXiv 2203.05570): 2-D Gaussian blobs.

Signal N((-1, 1), 1), background N((1, -1), 1); the background's shape uncertainty is a histosys
whose up and down templates are alternative backgrounds N((2.5, 2), 1) and N((-2.5, -1.5), 1)
(the means of neos' `blobs`). A small network maps (x, y) to a score in [0, 1]; the score is
histogrammed in `bins` equal bins. The same network is trained twice from the same start:
on binary cross-entropy, and on σ_μ of the binned model through the bKDE histogram. Both are
then judged by hard histograms of independent test events (bins merged until each holds 10
background MC events: templates.hard_model). The expected yields (signal 50,
background 100 events) are this project's choice: neos' own normalisation is not reproduced,
so its 0.456 -> ~0.35 is an anchor for the relative gain only.
"""

from __future__ import annotations

import numpy as np

from . import losses, single_thread
from .templates import Process, binned_model, hard_model, templates

MEANS = {"sig": (-1.0, 1.0), "bkg": (1.0, -1.0), "bkg_up": (2.5, 2.0), "bkg_down": (-2.5, -1.5)}
YIELDS = {"sig": 50.0, "bkg": 100.0}


def blobs(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(m, 1.0, size=(n, 2)) for k, m in MEANS.items()}


def processes(data: dict) -> list[Process]:
    import torch

    def t(a):
        return torch.as_tensor(a, dtype=torch.float64)

    def w(n, y):
        return torch.full((n,), y / n, dtype=torch.float64)

    n = len(data["sig"])
    return [
        Process("sig", t(data["sig"]), w(n, YIELDS["sig"]), signal=True),
        Process("bkg", t(data["bkg"]), w(n, YIELDS["bkg"]),
                alt={"bkg_shape": ((t(data["bkg_down"]), w(n, YIELDS["bkg"])), (t(data["bkg_up"]), w(n, YIELDS["bkg"])))}),
    ]  # fmt: skip


def network(seed: int, hidden: int = 16):
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                               torch.nn.ReLU(), torch.nn.Linear(hidden, 1)).double()  # fmt: skip


def selection(net):
    import torch

    return lambda x, soft: (torch.sigmoid(net(x)).squeeze(-1), torch.ones(len(x), dtype=x.dtype))


def sigma_mu(net, procs, edges, soft: bool, bandwidth: float):
    return losses.sigma_mu(binned_model(templates(procs, selection(net), edges, soft, bandwidth), None, soft))


def train_sigma_mu(net, procs, edges, bandwidth: float, steps: int, lr: float = 1e-3) -> list[float]:
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = sigma_mu(net, procs, edges, True, bandwidth)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return history


def train_cross_entropy(net, procs, steps: int, lr: float = 1e-3) -> list[float]:
    """Signal against nominal background, classes weighted equally."""
    import torch

    x = torch.cat([procs[0].x, procs[1].x])
    y = torch.cat([torch.ones(len(procs[0].x)), torch.zeros(len(procs[1].x))]).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x).squeeze(-1), y)
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    return history


def run(n_train: int = 2000, n_test: int = 50000, steps: int = 300, bins: int = 4, bandwidth: float = 0.1,
        seed: int = 0) -> dict:  # fmt: skip
    """Both trainings from the same initial network; σ_μ of each on hard histograms of test events."""
    with single_thread():
        return _run(n_train, n_test, steps, bins, bandwidth, seed)


def _run(n_train: int, n_test: int, steps: int, bins: int, bandwidth: float, seed: int) -> dict:
    import copy

    from .pyhf_check import compare

    edges = np.linspace(0.0, 1.0, bins + 1)
    train, test = processes(blobs(n_train, seed)), processes(blobs(n_test, seed + 1000))
    start = network(seed)
    nets = {"cross_entropy": copy.deepcopy(start), "sigma_mu": copy.deepcopy(start)}
    hist_ce = train_cross_entropy(nets["cross_entropy"], train, steps, lr=3e-3)
    hist_sm = train_sigma_mu(nets["sigma_mu"], train, edges, bandwidth, steps, lr=3e-3)
    out = {"n_train_per_sample": n_train, "n_test_per_sample": n_test, "steps": steps, "bins": bins,
           "bandwidth": bandwidth, "yields": YIELDS, "means": MEANS,
           "training_history": {"cross_entropy": hist_ce[::10], "sigma_mu": hist_sm[::10]}}  # fmt: skip
    for name, net in nets.items():
        model, groups = hard_model(test, selection(net), edges, None, where="neos toy")
        check = compare(model, "neos toy")
        out[name] = {"sigma_mu": check["torch"]["sigma_mu"], "z0": check["torch"]["z0"],
                     "pyhf_sigma_mu": check["pyhf"]["sigma_mu"], "pyhf_max_rel_diff": check["max_rel_diff"],
                     "bins_merged": groups}  # fmt: skip
    return out
