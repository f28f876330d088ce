"""From events to the binned model: processes with weights and variations, through a selection.

A `Process` is a set of simulated events (network inputs and per-event weights normalised to its
expected yield) with its systematic variations:
  shifts   histosys from modified inputs (a jet-mass scale: the same events, the mass scaled);
  weights  histosys from per-event weight ratios (Pythia's shower variations);
  alt      histosys from alternative event sets (the neos toy's background up/down);
  normsys  normalisation factors (lo, hi);
  mc_stat  the template's own MC statistics as a staterror (sqrt(Σ w²) per bin).
A selection maps inputs to (score in [0, 1], per-event selection weight); `binned_model` histograms
the score of every process and variation, softly (bKDE, soft cuts) for training or hard for the
final fit, and returns the BinnedModel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .histfactory import BinnedModel, Sample
from .smooth import bkde_histogram

# Training only: bKDE bins far from every background event would be exactly 0 and make the
# likelihood singular; a thousandth of an event keeps the Hessian finite without moving σ_μ.
SOFT_FLOOR = 1e-3


@dataclass
class Process:
    name: str
    x: object  # torch (events, features)
    w: object  # torch (events,): weights summing to the expected yield
    signal: bool = False
    shifts: dict = field(default_factory=dict)  # nuisance -> (x_down, x_up)
    weights: dict = field(default_factory=dict)  # nuisance -> (ratio_down, ratio_up) per event
    alt: dict = field(default_factory=dict)  # nuisance -> ((x_down, w_down), (x_up, w_up))
    normsys: dict = field(default_factory=dict)  # nuisance -> (lo, hi)
    mc_stat: bool = False  # a staterror from this template's MC statistics

    def subset(self, idx) -> Process:
        """The events `idx` (a bootstrap replica: indices drawn with replacement), weights kept."""
        from dataclasses import replace

        return replace(self, x=self.x[idx], w=self.w[idx],
                       shifts={n: (d[idx], u[idx]) for n, (d, u) in self.shifts.items()},
                       weights={n: (d[idx], u[idx]) for n, (d, u) in self.weights.items()})  # fmt: skip


Selection = Callable  # (x, soft: bool) -> (score, weight)


def histogram(select: Selection, x, w, edges, soft: bool, bandwidth: float, squared: bool = False, selected=None):
    """Bin contents of the selected events' scores (`squared`: Σ (w k)², their MC variance);
    `selected`: select(x, soft) already computed (reweighted variations share the events)."""
    import torch

    score, keep = selected if selected is not None else select(x, soft)
    if soft:
        return bkde_histogram(score, edges, bandwidth, w * keep, squared)
    idx = torch.bucketize(score.detach(), torch.as_tensor(edges[1:-1], dtype=score.dtype), right=True)
    inside = (score >= edges[0]) & (score <= edges[-1])
    wk = (w * keep)[inside].detach()
    return torch.zeros(len(edges) - 1, dtype=w.dtype).index_add(0, idx[inside], wk**2 if squared else wk)


def templates(processes: list[Process], select: Selection, edges, soft: bool, bandwidth: float = 0.1,
              systematics: bool = True) -> dict:  # fmt: skip
    """name -> {"nominal", "histosys": {np: (down, up)}, "normsys", "signal"} per process."""
    out = {}
    for p in processes:
        sel = select(p.x, soft)
        h = {"nominal": histogram(select, p.x, p.w, edges, soft, bandwidth, selected=sel), "histosys": {},
             "signal": p.signal, "normsys": dict(p.normsys) if systematics else {}, "sumw2": None,
             "staterror": systematics and p.mc_stat}  # fmt: skip
        if p.mc_stat:
            h["sumw2"] = histogram(select, p.x, p.w, edges, soft, bandwidth, squared=True, selected=sel)
        if systematics:
            for n, (xd, xu) in p.shifts.items():
                h["histosys"][n] = tuple(histogram(select, xv, p.w, edges, soft, bandwidth) for xv in (xd, xu))
            for n, (rd, ru) in p.weights.items():
                h["histosys"][n] = tuple(histogram(select, p.x, p.w * r, edges, soft, bandwidth, selected=sel)
                                         for r in (rd, ru))  # fmt: skip
            for n, alt in p.alt.items():
                h["histosys"][n] = tuple(histogram(select, xv, wv, edges, soft, bandwidth) for xv, wv in alt)
        out[p.name] = h
    return out


def binned_model(hists: dict, lumi_sigma: float | None, soft: bool, where: str = "analysis") -> BinnedModel:
    floor = SOFT_FLOOR if soft else 0.0

    def stat(h):  # a soft bin without MC gets the floor as its uncertainty too: δ ≈ 100%
        return (h["sumw2"] + floor**2).sqrt() if h["staterror"] else None

    samples = [Sample(name, h["nominal"] + floor, normfactor=h["signal"], normsys=h["normsys"], staterror=stat(h),
                      histosys={n: (d + floor, u + floor) for n, (d, u) in h["histosys"].items()})
               for name, h in hists.items()]  # fmt: skip
    return BinnedModel(samples, lumi_sigma, where)


def effective_mc(hists: dict):
    """Per bin, the background's effective number of MC events (Σw)² / Σw² (soft or hard)."""
    bkg = [h for h in hists.values() if not h["signal"] and h["sumw2"] is not None]
    total, sumw2 = sum(h["nominal"] for h in bkg), sum(h["sumw2"] for h in bkg)
    return total**2 / (sumw2 + 1e-30)


def merge_bins(hists: dict, bkg_mc: object, min_mc: int) -> tuple[dict, list[list[int]]]:
    """Hard histograms with neighbouring bins merged (from the top score down) until each has at
    least `min_mc` background MC events (`bkg_mc`: unweighted counts per bin)."""
    import torch

    groups, current, count = [], [], 0
    for i in reversed(range(len(bkg_mc))):
        current.append(i)
        count += int(bkg_mc[i])
        if count >= min_mc:
            groups.append(sorted(current))
            current, count = [], 0
    if current:
        if groups:
            groups[-1] = sorted(groups[-1] + current)
        else:
            groups.append(sorted(current))
    groups = sorted(groups)

    def merged(t):
        return torch.stack([t[g].sum() for g in groups])

    out = {}
    for name, h in hists.items():
        out[name] = {**h, "nominal": merged(h["nominal"]), "sumw2": None if h["sumw2"] is None else merged(h["sumw2"]),
                     "histosys": {n: (merged(d), merged(u)) for n, (d, u) in h["histosys"].items()}}  # fmt: skip
    return out, groups


def hard_model(processes: list[Process], select: Selection, edges, lumi_sigma: float | None, systematics: bool = True,
               min_bkg_mc: int = 10, where: str = "analysis") -> tuple[BinnedModel, list[list[int]]]:  # fmt: skip
    """The final fit's model: hard cuts and histograms, bins merged until each holds `min_bkg_mc`
    nominal background MC events (a template bin without MC is no estimate of the background)."""
    import torch

    hists = templates(processes, select, edges, soft=False, systematics=systematics)
    mc = sum(histogram(select, p.x, torch.ones_like(p.w), edges, False, 0.0) for p in processes if not p.signal)
    merged, groups = merge_bins(hists, mc, min_bkg_mc)
    return binned_model(merged, lumi_sigma if systematics else None, soft=False, where=where), groups
