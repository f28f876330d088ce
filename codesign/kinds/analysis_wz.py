"""A differentiable analysis (codesign/analysis/): boosted hadronic W/Z jets against QCD jets.

Three selections of the same network, each judged by the same hard-histogram fit (pyhf-checked)
on test jets no training or choice has seen: (a) cross-entropy training, hard cut and binning
chosen on a grid; (b) trained end to end on σ_μ through soft cuts and the bKDE histogram;
(c) (b) with a soft jet-mass window whose thresholds are learned. Stages: data, train, fit, report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import boosted_v
from ..spec import Strict
from .base import ModelKind, Stage, lazy


class Spec(Strict):
    kind: Literal["analysis_wz"] = "analysis_wz"
    frontend: Literal["torch"] = "torch"
    hidden: int = Field(32, ge=1, description="width of the two hidden layers of the selection network")
    bins: int = Field(4, ge=1, le=50, description="score bins above the cut, (b) and (c)")
    bandwidth: float = Field(0.5, gt=0.0, description="bKDE kernel width, in units of the bin width")
    temperature: float = Field(0.25, gt=0.0, description="soft score-cut temperature, in units of the bin width")
    mass_temperature: float = Field(4.0, gt=0.0, description="soft-cut temperature of the mass window [GeV]")
    mass_window: tuple[float, float] = Field((50.0, 130.0), description="initial mass window of (c) [GeV]")
    steps: int = Field(300, ge=1, description="σ_μ training steps of (b) and (c)")
    learning_rate: float = Field(1e-3, gt=0.0, description="σ_μ training (Adam)")
    signal_yield: float = Field(300.0, gt=0.0, description="expected W+Z jets before selection")
    background_yield: float = Field(30000.0, gt=0.0, description="expected QCD jets before selection")
    jms: float = Field(0.03, ge=0.0, lt=1.0, description="jet-mass scale uncertainty (fraction)")
    background_norm: float = Field(0.10, ge=0.0, lt=1.0, description="background normalisation uncertainty")
    lumi_sigma: float = Field(0.016, gt=0.0, lt=1.0, description="luminosity uncertainty")
    min_background_mc: int = Field(10, ge=1, description="final fit: bins merged until each has this many MC jets")
    grid_cuts: tuple[float, ...] = Field((0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95), description="(a): score cuts tried")
    grid_bins: tuple[int, ...] = Field((1, 2, 3, 4, 6, 8), description="(a): bin counts tried")


KIND = ModelKind(
    name="analysis_wz", spec=Spec, dataset=boosted_v, trainers={"torch": lazy("codesign.analysis.wz", "train")},
    figures={"sigma_mu": "min", "z0": "max"}, figures_of=lambda t: {k: t["validation"]["b_syst"][k] for k in ("sigma_mu", "z0")},
    physics=lambda t: {"validation": t["validation"]}, ports=lambda card, t: "",
    report=lazy("codesign.report.sections", "analysis"), stages=("data", "train", "fit", "report"),
    extra_stages={"fit": Stage(lazy("codesign.analysis.wz", "fit"), needs=("train",),
                               help="hard-histogram fits of (a), (b), (c) on the test jets, pyhf-checked")},
    summary="a float offline analysis: W/Z jets vs QCD trained on σ_μ (torch + pyhf)",
)  # fmt: skip
