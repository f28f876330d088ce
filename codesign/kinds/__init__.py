"""The model-kind registry: one home per kind (codesign/kinds/<kind>.py), one line each in ZOO.

A package of one's own adds kinds without touching codesign: an entry point in the group
`codesign.kinds` that names a ModelKind (`mykinds = "mypkg.kind:KIND"`). Tests register one with
`register(...)` and take it away with `unregister(name)`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import CodesignError
from .base import FIRMWARE_STAGES, OFFLINE_STAGES, ModelKind, Stage, lazy

__all__ = ["FIRMWARE_STAGES", "OFFLINE_STAGES", "ModelKind", "Stage", "lazy", "register", "unregister", "get", "names",
           "datasets", "dataset_name", "user_file_kinds", "DEFAULT"]  # fmt: skip

# The zoo: each module's KIND is registered. A new kind is its own module plus one line here.
ZOO = (
    "mlp",
    "jedi_linear",
    "flavour_l1",
    "flavour_l1_latent",
    "met_gnn",
    "part",
    "deepjet",
    "qonnx_file",
    "keras_file",
    "qkeras_h5",
    "analysis_wz",
    "muon_full",
    "muon_latent",
    "muon_match",
    "showers_cc2",
)
DEFAULT = "mlp"  # a card without model.kind (the first zoo card predates kinds)

_KINDS: dict[str, ModelKind] = {}
_LOADED = False


def _load() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    for name in ZOO:
        register(importlib.import_module(f"{__name__}.{name}").KIND)
    for ep in entry_points(group="codesign.kinds"):
        register(ep.load())


def register(kind: ModelKind) -> ModelKind:
    _load()
    if not isinstance(kind, ModelKind):
        raise CodesignError(f"model kinds: {kind!r} is not a ModelKind")
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    _KINDS.pop(name, None)


def get(name: str) -> ModelKind:
    _load()
    if name not in _KINDS:
        raise CodesignError(f"unknown model kind '{name}' (have: {', '.join(sorted(_KINDS))})")
    return _KINDS[name]


def names() -> list[str]:
    _load()
    return sorted(_KINDS)


def user_file_kinds() -> dict[str, ModelKind]:
    """A user's model file suffix (.onnx, .keras, .h5) -> the kind that takes it."""
    _load()
    return {k.file_suffix: k for k in _KINDS.values() if k.file_suffix}


def dataset_name(module) -> str:
    """A dataset module's name, as a card's data.dataset gives it (its Spec's default)."""
    return module.Spec.model_fields["dataset"].default


def datasets() -> dict:
    """Dataset name (a card's data.dataset) -> its module, over every registered kind."""
    _load()
    return {dataset_name(k.dataset): k.dataset for k in _KINDS.values() if k.dataset is not None}
