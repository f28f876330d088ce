"""Figures shared by kinds of one family: classifiers (the 5-class jet taggers) and flavour taggers.

Each function reads a train stage's record (metrics.json); the kinds bind them to their names.
"""

from __future__ import annotations

CLASSIFIER_FIGURES = {"accuracy": "max", "auc_mean": "max", "sparsity": "max"}
FLAVOUR_FIGURES = {**CLASSIFIER_FIGURES, "auc_b_vs_light": "max", "auc_b_vs_c": "max", "auc_c_vs_light": "max",
                   "mistag_light_b70": "min"}  # fmt: skip


def classifier_figures(train: dict) -> dict:
    aucs = [v for v in train["roc_auc"].values() if v is not None]
    return {"accuracy": train["accuracy"], "auc_mean": sum(aucs) / len(aucs) if aucs else None,
            "sparsity": train.get("sparsity", {}).get("total", 0.0)}  # fmt: skip


def flavour_figures(train: dict) -> dict:
    auc = train["flavour"]["auc"]
    return {**classifier_figures(train), **{f"auc_{p}": auc.get(p) for p in ("b_vs_light", "b_vs_c", "c_vs_light")},
            "mistag_light_b70": train["flavour"]["mistag_light"]["70"]["inclusive"]}  # fmt: skip


def classifier_physics(train: dict) -> dict:
    return {k: train[k] for k in ("accuracy", "roc_auc", "n_test") if k in train}


def flavour_physics(train: dict) -> dict:
    fl = train["flavour"]
    return {**classifier_physics(train), "flavour_auc": fl["auc"], "mistag_light": fl["mistag_light"]}


def check_jet_inputs(want: str):
    """A check that a kind on the 5-class jets reads `want` (features or constituents)."""

    def check(card):
        if card.data.inputs != want:
            return "data.inputs", (f"model kind '{card.model.kind}' reads the jet {want}; expected \"{want}\" "
                                   f"(got \"{card.data.inputs}\")")  # fmt: skip
        return None

    return check
