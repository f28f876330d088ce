"""Typed views of the stage records (stage.json) that later stages, sweeps and reports read.

The records stay JSON on disk (what a person opens); these models give the fields the readers
use a name and a type, and keep every other field (extra = "allow"), so a record written by an
earlier version still loads.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class CoreEstimate(_Record):
    source: str
    lut: int
    ff: int
    dsp: int


class Port(_Record):
    name: str
    direction: str
    elements: int
    signed: bool
    integer: int
    fractional: int
    width: int
    packing: str


class Core(_Record):
    """The RTL core (rtl stage, core.json): interface, pipeline and da4ml's own cost."""

    top: str
    clock: str
    handshake: str
    ports: list[Port]
    latency_cycles: int
    latency_ns: float
    ii: int
    estimate: CoreEstimate


class Rtl(_Record):
    core: Core
    path: str | None = None


class Hls(_Record):
    """The HLS project and its C-simulation (hls stage)."""

    vectors: int
    mismatches: int
    compile_s: float
    project: str
    path: str | None = None


class Sim(_Record):
    """One simulator's co-simulation (cosim stage)."""

    simulator: str
    vectors: int
    mismatches: int
    build_s: float
    vectors_per_s: float
    passed: bool


class Cosim(_Record):
    """Both simulators' results, by name."""

    def sims(self) -> dict[str, Sim]:
        return {name: Sim.model_validate(r) for name, r in (self.model_extra or {}).items()
                if isinstance(r, dict) and "vectors" in r}  # fmt: skip


class Cost(_Record):
    """Every cost figure with its source and design (estimate stage); `headline` is the best-ranked per quantity."""

    estimates: list[dict]
    headline: dict[str, dict]
    yosys: dict = {}
    da4ml: dict = {}

    def by_source(self, word: str) -> dict[str, float]:
        """quantity -> value of the estimates whose source names `word` (e.g. rule4ml)."""
        return {e["quantity"]: e["value"] for e in self.estimates if word in e["source"]}
