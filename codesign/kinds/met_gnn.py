"""The interaction network for L1 MET (zoo/met_gnn.py): per-candidate weights, MET = -sum w_i pT_i."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..data import met
from ..spec import Strict
from .base import ModelKind, lazy


class Spec(Strict):
    kind: Literal["met_gnn"] = "met_gnn"
    frontend: Literal["hgq2"] = "hgq2"
    form: Literal["linear", "quadratic"] = Field(
        "linear", description="O(N) global-context form or the O(N^2) all-pairs JEDI-net"
    )
    edge_hidden: int = Field(
        8, ge=1, description="hidden width of f_R (quadratic) / of the per-candidate embedding (linear)"
    )
    edge_out: int = Field(8, ge=8, description="edge / embedding output width (>= the 8 input features)")
    node_hidden: int = Field(8, ge=1, description="hidden width of f_O")


FIGURES = {"resolution_ratio": "min", "resolution_xy": "min", "response_offset": "min", "sparsity": "max"}


def figures(train: dict) -> dict:
    """Resolution relative to PUPPI (all test events), x/y resolution [GeV], |response - 1| above 100 GeV."""
    q = train["met"]["overall"]["quantized network"]
    return {"resolution_ratio": train["headline_ratio_to_puppi"]["all"], "resolution_xy": q["res_xy"],
            "response_offset": abs(train["response_above_100"] - 1.0), "sparsity": train.get("sparsity", {}).get("total", 0.0)}  # fmt: skip


def physics(train: dict) -> dict:
    return {k: train[k] for k in ("headline_ratio_to_puppi", "response_above_100", "n_test") if k in train}


def ports(card, train: dict) -> str:
    n, unit = card.data.n_candidates, card.data.momentum_unit
    return (f"Inputs: {n} candidates x {len(met.FEATURE_NAMES)} features ({', '.join(met.FEATURE_NAMES)}), leading by "
            f"pT, padded slots zero; momenta in units of {unit:g} GeV. Output: MET (px, py) in units of {unit:g} GeV.")  # fmt: skip


KIND = ModelKind(
    name="met_gnn", spec=Spec, dataset=met, trainers={"hgq2": lazy("codesign.quant.train_met", "train")},
    figures=FIGURES, figures_of=figures, physics=physics, ports=ports, report=lazy("codesign.report.sections", "met"),
    summary="interaction network regressing L1 MET from PUPPI candidates (L1)",
    layers=frozenset({"QEinsumDense", "QMultiply", "QAdd", "Concatenate", "Reshape"}),
)  # fmt: skip
