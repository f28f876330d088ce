"""Model cards: TOML files parsed once, at the edge, into typed models.

A card names a zoo entry, its data, precision, training recipe and firmware settings. Presets
(`tiny`, `demo`) are overrides stored in the card itself. Everything downstream receives a
`Card` object, never a dict; hls4ml's config dict is built at the hls4ml boundary only.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError

from .errors import CodesignError


TRAIN_SECTIONS = ("data", "model", "precision", "training", "pruning")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSpec(_Strict):
    dataset: Literal["jets"] = "jets"
    # features: the 16 high-level features (mlp); constituents: ln pT, Δη, Δφ per particle (jedi_linear)
    inputs: Literal["features", "constituents"] = "features"
    n_per_class: int = Field(4000, ge=10, description="jets generated per class")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


class ModelSpec(_Strict):
    kind: Literal["mlp"] = "mlp"
    frontend: Literal["hgq2", "qkeras", "brevitas"] = "hgq2"  # brevitas: PyTorch, through QONNX
    hidden: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64, 32, 32], min_length=1)
    activation: Literal["relu"] = "relu"


class JediModelSpec(_Strict):
    """JEDI-linear-style tagger (zoo/jedi_linear.py): per-particle MLP, sum over particles, MLP; O(N)."""

    kind: Literal["jedi_linear"] = "jedi_linear"
    frontend: Literal["hgq2"] = "hgq2"
    n_particles: int = Field(32, ge=2, le=150, description="leading-pT constituents the core sees")
    hidden: int = Field(16, ge=1, description="width of the per-particle MLP's first layer and of the jet MLP")
    latent: int = Field(16, ge=1, description="per-particle output width, summed over particles")


class FlavourDataSpec(_Strict):
    """Heavy-flavour AK4 jets (codesign data flavour): b, c, light, gluon."""

    dataset: Literal["flavour"] = "flavour"
    n_events: int = Field(5000, ge=1, description="Pythia events per sample (ttbar, QCD)")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


class FlavourL1ModelSpec(_Strict):
    """Compact ParT for L1 (zoo/flavour_l1.py): pair-biased attention + class attention."""

    kind: Literal["flavour_l1"] = "flavour_l1"
    frontend: Literal["hgq2"] = "hgq2"
    n_candidates: int = Field(16, ge=2, le=32, description="leading-pT candidates the core sees")
    embed: int = Field(16, ge=1)
    heads: int = Field(2, ge=1)
    head_dim: int = Field(8, ge=1)


class FlavourL1LatentModelSpec(FlavourL1ModelSpec):
    """The L1 tagger with latent attention (zoo/flavour_l1.py): linear in N, no N x N attention."""

    kind: Literal["flavour_l1_latent"] = "flavour_l1_latent"
    latents: int = Field(4, ge=1, description="learned queries per head (M): attention costs M·N·H·K products")
    pair_embed: int = Field(4, ge=1, description="per-pair embedding width C, summed over partners per candidate")


class MetDataSpec(_Strict):
    """L1 MET events with pileup (codesign data met): Pythia 8 + min-bias pool, L1 PF candidates, PUPPI."""

    dataset: Literal["met"] = "met"
    n_events: int = Field(30000, ge=10, description="events, shared equally by the hard processes")
    pileup: float = Field(140.0, ge=0.0, le=400.0, description="mean number of pileup interactions <PU>")
    pool_size: int = Field(2000, ge=1, description="minimum-bias events in the pileup pool")
    n_candidates: int = Field(128, ge=2, le=128, description="leading-pT candidates the core sees (N)")
    momentum_unit: float = Field(8.0, gt=0.0, description="GeV per unit of the momentum inputs and of the output")
    test_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    seed: int = 1


class MetModelSpec(_Strict):
    """Interaction network for MET (zoo/met_gnn.py): per-candidate weights, MET = sum w_i p_i."""

    kind: Literal["met_gnn"] = "met_gnn"
    frontend: Literal["hgq2"] = "hgq2"
    form: Literal["linear", "quadratic"] = Field("linear", description="O(N) global-context form or the O(N^2) all-pairs JEDI-net")
    edge_hidden: int = Field(8, ge=1, description="hidden width of f_R (quadratic) / of the per-candidate embedding (linear)")
    edge_out: int = Field(8, ge=8, description="edge / embedding output width (>= the 8 input features)")
    node_hidden: int = Field(8, ge=1, description="hidden width of f_O")


class FlavourPartModelSpec(_Strict):
    """Float Particle Transformer, the offline flavour reference (zoo/part.py); no firmware stages."""

    kind: Literal["part"] = "part"
    frontend: Literal["torch"] = "torch"
    n_candidates: int = Field(32, ge=2, le=32, description="leading-pT candidates (tokens)")
    n_svs: int = Field(4, ge=0, le=4, description="secondary vertices as extra tokens")
    embed: int = Field(64, ge=1)
    heads: int = Field(4, ge=1)
    layers: int = Field(2, ge=1, description="particle-attention blocks")
    class_layers: int = Field(1, ge=1, description="class-attention blocks")
    pair_hidden: int = Field(32, ge=1, description="hidden width of the pair-feature embedding")


class DeepJetModelSpec(_Strict):
    """Float DeepJet-like baseline (zoo/deepjet.py); no firmware stages."""

    kind: Literal["deepjet"] = "deepjet"
    frontend: Literal["torch"] = "torch"
    n_candidates: int = Field(32, ge=2, le=32)
    n_svs: int = Field(4, ge=0, le=4)
    conv: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [64, 32, 16], min_length=1)
    lstm: int = Field(64, ge=1)
    sv_conv: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [32, 16], min_length=1)
    sv_lstm: int = Field(32, ge=1)
    dense: int = Field(64, ge=1)


def _tag(field: str, default: str):
    """Discriminator of a section by `field`, defaulting to the original single kind (old cards)."""
    return Discriminator(lambda v: v.get(field, default) if isinstance(v, dict) else getattr(v, field, default))


DataSection = Annotated[
    Annotated[DataSpec, Tag("jets")] | Annotated[FlavourDataSpec, Tag("flavour")] | Annotated[MetDataSpec, Tag("met")],
    _tag("dataset", "jets"),
]
ModelSection = Annotated[
    Annotated[ModelSpec, Tag("mlp")] | Annotated[FlavourL1ModelSpec, Tag("flavour_l1")] | Annotated[MetModelSpec, Tag("met_gnn")]
    | Annotated[FlavourPartModelSpec, Tag("part")] | Annotated[DeepJetModelSpec, Tag("deepjet")]
    | Annotated[JediModelSpec, Tag("jedi_linear")] | Annotated[FlavourL1LatentModelSpec, Tag("flavour_l1_latent")],
    _tag("kind", "mlp"),
]


class PrecisionSpec(_Strict):
    """Fixed-point formats. Bits count the sign bit; `*_integer` counts integer bits without it."""

    input_bits: int = Field(12, ge=2, le=32)
    input_integer: int = Field(3, ge=0, le=16)
    weight_bits: int = Field(6, ge=2, le=32)
    weight_integer: int = Field(0, ge=-8, le=16)
    activation_bits: int = Field(8, ge=2, le=32)
    activation_integer: int = Field(3, ge=0, le=16)
    trainable: bool = Field(False, description="HGQ2 trainable bit widths (weights and activations)")
    beta: float = Field(1e-5, ge=0.0, description="HGQ2 EBOPs regularisation strength (trainable only)")


class TrainingSpec(_Strict):
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(512, ge=1)
    learning_rate: float = Field(3e-3, gt=0.0)
    seed: int = 1


class PruningSpec(_Strict):
    sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="target fraction of zero weights")
    kind: Literal["magnitude", "structured"] = "magnitude"
    start: float = Field(0.2, ge=0.0, le=1.0, description="fraction of the epochs where pruning starts")
    end: float = Field(0.7, ge=0.0, le=1.0, description="fraction of the epochs where the target is reached")


class FirmwareSpec(_Strict):
    part: str = "xcvu13p-flga2577-2-e"
    family: Literal["xcup", "xcu", "xc7"] = Field("xcup", description="Yosys synth_xilinx family of `part`")
    clock_ns: float = Field(5.0, gt=0.0)
    backend: Literal["Vitis", "Vivado"] = "Vitis"
    strategy: Literal["Latency", "Resource"] = "Latency"
    reuse_factor: int = Field(1, ge=1)
    io_type: Literal["io_parallel"] = "io_parallel"
    open_synthesis: bool = Field(True, description="also run Yosys synth_xilinx in the estimate stage (~1-2 min)")
    cosim_vectors: int = Field(5000, ge=1, description="test vectors checked bit-exactly (capped by the test set)")
    # Icarus evaluates the whole netlist every clock: ~20 vectors/s for the 16->5 MLP, well under one
    # per second for cores of 300k LUT; Verilator (~17k vectors/s on the MLP) always checks all of them.
    icarus_vectors: int = Field(1000, ge=1, description="the first cosim_vectors that Icarus checks too")


class Card(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    data: DataSection = DataSpec()
    model: ModelSection = ModelSpec()
    precision: PrecisionSpec = PrecisionSpec()
    training: TrainingSpec = TrainingSpec()
    pruning: PruningSpec = PruningSpec()
    firmware: FirmwareSpec = FirmwareSpec()
    # A preset is a partial card ({section: {field: value}}) laid over this one, e.g.
    # [presets.tiny.data] n_per_class = 700; the result is validated like the card itself.
    presets: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    source: str = Field("", exclude=True, description="file the card came from (not hashed)")

    def with_preset(self, preset: str | None) -> Card:
        """Return the card with a named preset's overrides applied (the preset table is dropped)."""
        if preset is None:
            return self.model_copy(update={"presets": {}})
        if preset not in self.presets:
            raise CodesignError(f"{self.source}: presets: no preset '{preset}' (have: {', '.join(self.presets) or 'none'})")
        merged = self.model_dump(exclude={"presets", "source"})
        for section, fields in self.presets[preset].items():
            if not isinstance(merged.get(section), dict):
                raise CodesignError(f"{self.source}: field 'presets.{preset}.{section}': not a card section")
            merged[section] = {**merged[section], **fields}
        try:
            card = Card.model_validate({**merged, "source": self.source})
        except ValidationError as e:
            raise CodesignError(f"{self.source}: field 'presets.{preset}.{_where(e)}") from None
        return _consistent(card, f"presets.{preset}.")

    def train_key(self) -> str:
        """Key of everything training depends on: points differing only in firmware share it."""
        return self.key(*TRAIN_SECTIONS)

    def key(self, *sections: str) -> str:
        """Content hash of the named sections (all if none): the cache key of a stage's output."""
        dump = self.model_dump(mode="json", exclude={"source", "presets", "description"})
        if sections:
            dump = {s: dump[s] for s in sections}
        blob = json.dumps(dump, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def load_card(path: str | Path) -> Card:
    """Parse and validate a card; any problem is one line naming the file and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CodesignError(f"{path}: no such card file") from None
    except tomllib.TOMLDecodeError as e:
        raise CodesignError(f"{path}: not valid TOML: {e}") from None
    try:
        card = Card.model_validate({**raw, "source": str(path)})
    except ValidationError as e:
        raise CodesignError(f"{path}: field '{_where(e)}") from None
    for name in card.presets:  # a bad preset fails at load, not when first used
        card.with_preset(name)
    return _consistent(card)


# Which jet inputs each model kind on the jets dataset reads.
_JET_INPUTS = {"mlp": "features", "jedi_linear": "constituents"}


def _consistent(card: Card, prefix: str = "") -> Card:
    """Checks across sections that field validation cannot see."""
    want = _JET_INPUTS.get(card.model.kind)
    if card.data.dataset == "jets" and want and card.data.inputs != want:
        raise CodesignError(f"{card.source}: field '{prefix}data.inputs': model kind '{card.model.kind}' reads the jet "
                            f"{want}; expected \"{want}\" (got \"{card.data.inputs}\")")  # fmt: skip
    return card


def _where(e: ValidationError) -> str:
    """`field': message (got value)` of a validation error's first problem."""
    err = e.errors()[0]
    # The tagged-union sections put their tag (e.g. 'mlp', 'met') second in the path: name the field, not the tag.
    loc = list(err["loc"])
    if len(loc) > 2 and loc[0] in ("data", "model"):
        del loc[1]
    field = ".".join(str(p) for p in loc) or "(top level)"
    got = "" if err["type"] == "missing" or isinstance(err.get("input"), dict) else f" (got {err.get('input')!r})"
    return f"{field}': {err['msg']}{got}"
