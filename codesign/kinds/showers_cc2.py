"""Calorimeter showers from a point-cloud diffusion model distilled to one step (CaloClouds II-style).

A float offline model (torch): a shower-level normalising flow (zuko) and a per-point EDM
denoiser, sampled by Heun (the teacher), then consistency-distilled into a one-step student that
runs in onnxruntime. Stages: data (the parametric reference simulator, codesign/data/showers.py),
train (flow + teacher), distil (the student, its own cached stage), evaluate (fidelity against
held-out reference showers), report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import showers
from ..spec import Strict
from .base import ModelKind, Stage, lazy


class DistilSpec(Strict):
    """[model.distil]: consistency distillation (Song et al. 2023) of the teacher into a one-step student."""

    steps: int = Field(3000, ge=1, description="optimiser steps")
    batch_size: int = Field(2048, ge=1, description="points per step")
    learning_rate: float = Field(1e-4, gt=0.0)
    levels: int = Field(
        18, ge=2, description="noise levels of the discretised ODE (the teacher's Heun steps between them)"
    )
    target_ema: float = Field(0.95, ge=0.0, lt=1.0, description="EMA decay of the target network")
    seed: int = 1


class Spec(Strict):
    kind: Literal["showers_cc2"] = "showers_cc2"
    frontend: Literal["torch"] = "torch"
    hidden: int = Field(128, ge=4, description="width of the denoiser's ConcatSquash layers")
    layers: int = Field(4, ge=1, description="hidden ConcatSquash layers of the denoiser")
    flow_hidden: int = Field(64, ge=4, description="width of the flow's conditioner MLPs")
    flow_transforms: int = Field(4, ge=1, description="spline coupling transforms of the shower flow")
    flow_epochs: int = Field(60, ge=1, description="shower flow training epochs (batch 256, Adam)")
    teacher_ema: float = Field(0.999, ge=0.0, lt=1.0, description="EMA decay of the teacher's weights")
    teacher_steps: int = Field(13, ge=2, description="Heun noise levels of the teacher (2 x steps - 1 network calls)")
    max_points: int = Field(1000, ge=1, description="points per shower at most (at most the geometry's cells)")
    response_energies: tuple[float, ...] = Field((10.0, 20.0, 40.0, 60.0, 80.0, 100.0),
                                                 description="fixed incident energies [GeV] of the response and resolution")  # fmt: skip
    response_showers: int = Field(200, ge=2, description="showers per response energy")
    classifier_folds: int = Field(5, ge=2, description="k of the k-fold classifier two-sample test")
    distil: DistilSpec = DistilSpec()


def check(card):
    """Points that fit into the geometry; response energies inside the trained range."""
    m, d = card.model, card.data
    if m.max_points > showers.N_CELLS:
        return ("model.max_points", f"{m.max_points} points per shower, more than the {showers.N_CELLS} cells of the "
                f"geometry ({showers.N_LAYERS} layers x {showers.CELLS_PER_LAYER} cells)")  # fmt: skip
    for e in m.response_energies:
        if not d.e_min <= e <= d.e_max:
            return ("model.response_energies", f"{e:g} GeV is outside the trained range {d.e_min:g}-{d.e_max:g} GeV "
                    "(data.e_min, data.e_max)")  # fmt: skip
    return None


KIND = ModelKind(
    name="showers_cc2", spec=Spec, dataset=showers, trainers={"torch": lazy("codesign.quant.train_showers", "train")},
    figures={}, figures_of=lambda t: {},  # its fidelity figures come from the evaluate stage, not the train record
    physics=lambda t: {}, ports=lambda card, t: "",
    report=lazy("codesign.report.showers_plots", "section"),
    stages=("data", "train", "distil", "evaluate", "report"),
    extra_stages={
        "distil": Stage(lazy("codesign.quant.train_showers", "distil"), needs=("train",),
                        help="consistency distillation of the Heun teacher into a one-step student; ONNX export"),
        "evaluate": Stage(lazy("codesign.physics.showers", "evaluate"), needs=("distil",),
                          help="teacher and student against held-out reference showers: W1, classifier AUC, response"),
    },
    check=check,
    summary="a float offline generator: CaloClouds II-style photon showers (zuko flow + EDM diffusion, one-step student)",
)  # fmt: skip
