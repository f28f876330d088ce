"""What a model kind declares: everything the stages ask of it, in one place.

A kind is what a card's `model.kind` names (the jet MLP, the MET network, a float ParT, a user's
QONNX file, ...). The card reads its section spec and dataset from here, the train stage its
trainer, the bundle its port text and physics keys, the report its physics section, sweeps its
figures, and the flow its stages. No stage branches on a kind's name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

# L1 firmware kinds run the whole flow; float offline kinds have no firmware stages.
FIRMWARE_STAGES = ("data", "train", "hls", "rtl", "cosim", "estimate", "package", "report")
OFFLINE_STAGES = ("data", "train", "report")


@dataclass(frozen=True)
class Stage:
    """A stage of a kind's own (a distillation, a fit): `run(point, out) -> record` after `needs`."""

    run: Callable[[Any, Any], dict]
    needs: tuple[str, ...]
    help: str = ""


@dataclass(frozen=True)
class ModelKind:
    name: str  # the card's model.kind
    spec: type  # the card's [model] section (a codesign.spec.Strict subclass with `kind` and `frontend`)
    # The dataset module the kind reads (codesign/data/<name>.py: Spec, from_spec, load, add_cli,
    # from_cli); None for a kind that comes trained (a user's model file).
    dataset: ModuleType | None
    # frontend -> train(card, data, out, progress) -> metrics (the train stage's record)
    trainers: Mapping[str, Callable]
    # Figures a sweep may optimise, with their direction, computed from the train record by `figures_of`.
    figures: Mapping[str, Literal["min", "max"]]
    figures_of: Callable[[dict], dict]
    physics: Callable[[dict], dict]  # train record -> the bundle manifest's physics figures
    ports: Callable[[Any, dict], str]  # (card, train record) -> what the core's ports carry (bundle README)
    report: Callable  # (point, train record, reference, out dir) -> report.sections.Section
    stages: tuple[str, ...] = FIRMWARE_STAGES
    extra_stages: Mapping[str, Stage] = field(default_factory=dict)  # stage name -> Stage, listed in `stages`
    # Checks across card sections that field validation cannot see: card -> (field, message) or None.
    check: Callable[[Any], tuple[str, str] | None] | None = None
    # A plain Dense network: rule4ml's learned estimate of its HLS project applies (estimate/hls_rule4ml.py).
    dense: bool = False
    # Keras layer classes its models use beyond hls/csim.BASE_LAYERS, seen bit-exact in hls4ml and da4ml.
    layers: frozenset[str] = frozenset()
    # Its trainer takes a card's [training.adversarial] (FGSM adversarial training); else the card is refused.
    adversarial: bool = False
    # A user's model file (`codesign run --model FILE`): the suffix this kind takes, and its guard rails
    # `guard(path, allow_unsafe) -> problems let through`, run before anything is written.
    file_suffix: str | None = None
    guard: Callable[[Any, bool], list[str]] | None = None
    summary: str = ""

    @property
    def firmware(self) -> bool:
        """An L1 kind: it goes through HLS, RTL and co-simulation to an IP bundle."""
        return "hls" in self.stages

    def trainer(self, card) -> Callable:
        return self.trainers[card.model.frontend]


def lazy(module: str, name: str) -> Callable:
    """`module.name`, imported on first call: declaring a kind must not import TensorFlow or torch."""

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__qualname__ = f"{module}.{name}"
    return call
