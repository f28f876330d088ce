"""Quantization-aware training and pruning.

A trainer is a module with `train(card, data, out, progress=True) -> metrics`, writing the train
stage's folder (model file, reference.npz, metrics.json); which one trains a card is decided by
its model kind and frontend here, the one place the flow asks.
"""

import importlib

TRAINERS = {
    ("mlp", "hgq2"): "train",
    ("mlp", "qkeras"): "train",
    ("flavour_l1", "hgq2"): "train_flavour",
    ("flavour_l1_latent", "hgq2"): "train_flavour",
    ("mlp", "brevitas"): "train_torch",
    ("met_gnn", "hgq2"): "train_met",
    ("jedi_linear", "hgq2"): "train_jedi",
    ("part", "torch"): "train_float",  # float offline models: no firmware stages
    ("deepjet", "torch"): "train_float",
}


def is_float(card) -> bool:
    """An offline float model (torch + ONNX): it has physics but no firmware stages."""
    return TRAINERS.get((card.model.kind, card.model.frontend)) == "train_float"


def trainer(card):
    """The trainer module for `card` (error naming the field if there is none)."""
    from ..errors import CodesignError

    key = (card.model.kind, card.model.frontend)
    if key not in TRAINERS:
        have = ", ".join(f"{k}/{f}" for k, f in TRAINERS)
        raise CodesignError(f"{card.source or card.name}: field 'model': no trainer for kind '{key[0]}' with frontend '{key[1]}' (have: {have})")
    return importlib.import_module(f"{__name__}.{TRAINERS[key]}")
