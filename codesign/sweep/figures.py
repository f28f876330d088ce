"""The figures a sweep compares: the model kind's physics figures plus the firmware stages' figures.

A kind declares its own (ModelKind.figures, with their direction); the firmware figures below
exist for kinds with firmware stages. An objective "FIGURE:min|max" must name one of them.
"""

from __future__ import annotations

from ..records import Core, Cost, Hls

# ebops: HGQ2's own cost of its learned bit widths (train stage), the penalty β weighs.
FIRMWARE = {"lut": "min", "ff": "min", "dsp": "min", "latency_cycles": "min", "latency_ns": "min", "yosys_lut": "min",
            "yosys_ff": "min", "hls_lut": "min", "hls_ff": "min", "hls_dsp": "min", "hls_latency_cycles": "min",
            "ebops": "min"}  # fmt: skip


def available(kind) -> dict[str, str]:
    """figure -> direction, for a sweep over a card of `kind`."""
    return {**kind.figures, **(FIRMWARE if kind.firmware else {})}


def metrics_of(kind, records: dict) -> dict:
    """The figures of one point, flattened from its stage records (absent stages are absent)."""
    m: dict = {}
    if "train" in records:
        m.update(kind.figures_of(records["train"]))
        if "ebops" in records["train"]:
            m["ebops"] = records["train"]["ebops"]
    if "hls" in records:
        hls = Hls.model_validate(records["hls"])
        m.update(csim_vectors=hls.vectors, csim_mismatches=hls.mismatches)
    if "rtl" in records:
        core = Core.model_validate(records["rtl"]["core"])
        m.update(latency_cycles=core.latency_cycles, latency_ns=core.latency_ns, ii=core.ii,
                 lut=core.estimate.lut, ff=core.estimate.ff, dsp=core.estimate.dsp)  # fmt: skip
    if "estimate" in records:
        cost = Cost.model_validate(records["estimate"])
        if "lut" in cost.yosys:
            m.update(yosys_lut=cost.yosys["lut"], yosys_ff=cost.yosys["ff"])
        hls = cost.by_source("rule4ml")  # the HLS project's learned estimate, where rule4ml applies
        m.update({f"hls_{q}": hls[q] for q in ("lut", "ff", "dsp", "latency_cycles") if q in hls})
    if "cosim" in records:
        for s, r in records["cosim"].items():
            if isinstance(r, dict):
                m.update({f"{s}_vectors": r["vectors"], f"{s}_mismatches": r["mismatches"]})
    return m
