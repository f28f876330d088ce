"""Model cards: TOML files parsed once, at the edge, into typed models.

A card names a zoo entry, its data, precision, training recipe and firmware settings. Presets
(`tiny`, `demo`) are overrides stored in the card itself. Everything downstream receives a
`Card` object, never a dict; hls4ml's config dict is built at the hls4ml boundary only.

The [model] and [data] sections are whatever the card's model kind declares (codesign/kinds/):
the kind's spec, and the spec of the dataset it reads. There is one way from a dict (a TOML file,
a preset, a sweep point, a benchmark's variant) to a card: `validate_card`, whose errors name the
file and the field.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializeAsAny, ValidationError, model_validator

from . import kinds
from .errors import CodesignError
from .spec import Strict, keyless_default

TRAIN_SECTIONS = ("data", "model", "precision", "training", "pruning")


class NoData(Strict):
    """The [data] section of a kind that comes trained (a user's model file): there is none."""

    dataset: Literal["none"] = "none"


class PrecisionSpec(Strict):
    """Fixed-point formats. Bits count the sign bit; `*_integer` counts integer bits without it."""

    input_bits: int = Field(12, ge=2, le=32)
    input_integer: int = Field(3, ge=0, le=16)
    weight_bits: int = Field(6, ge=2, le=32)
    weight_integer: int = Field(0, ge=-8, le=16)
    activation_bits: int = Field(8, ge=2, le=32)
    activation_integer: int = Field(3, ge=0, le=16)
    trainable: bool = Field(False, description="HGQ2 trainable bit widths (weights and activations)")
    beta: float = Field(1e-5, ge=0.0, description="HGQ2 EBOPs regularisation strength (trainable only)")


class AdversarialSpec(Strict):
    """[training.adversarial]: FGSM adversarial training (codesign/quant/adversarial.py), for kinds that have it."""

    method: Literal["fgsm"] = Field("fgsm", description="fast gradient sign method (Goodfellow et al. 2015)")
    epsilon: float = Field(0.01, ge=0.0, description="step size, in units of `scale`; 0 reproduces nominal training")
    scale: Literal["std"] = Field("std", description="per feature: its std over the training set's real entries")
    fraction: float = Field(1.0, gt=0.0, le=1.0, description="fraction of each batch replaced by its FGSM version")
    warmup_epochs: int = Field(0, ge=0, description="nominal epochs before adversarial batches start")


class BetaSchedule(Strict):
    """[training.beta]: HGQ2's EBOPs penalty β over the epochs (hgq.utils.sugar.BetaScheduler + PieceWiseSchedule).

    β is `start` up to `start_epoch`, moves to `end` at `end_epoch` (`shape`: "log" geometric, "linear",
    "constant" = stays at `start`), and stays at `end` after; it replaces precision.beta.
    """

    start: float = Field(ge=0.0, description="β until start_epoch")
    end: float = Field(ge=0.0, description="β from end_epoch on")
    shape: Literal["log", "linear", "constant"] = "log"
    start_epoch: int = Field(0, ge=0)
    end_epoch: int = Field(ge=0, description="epoch where β reaches `end` (at most training.epochs)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.end_epoch < self.start_epoch:
            raise _SectionError(("end_epoch",), f"the schedule ends before it starts: end_epoch must be >= start_epoch "
                                f"({self.start_epoch}) (got {self.end_epoch})")  # fmt: skip
        if self.shape == "log" and (self.start == 0) != (self.end == 0):
            raise _SectionError(("start",), f'a "log" schedule needs start and end both > 0 (got start {self.start}, '
                                f'end {self.end}); use shape = "linear" from 0')  # fmt: skip
        return self

    def at(self, epoch: int) -> float:
        """β during `epoch` (0-based)."""
        from hgq.utils.sugar import PieceWiseSchedule

        if self.shape == "log" and self.start == 0:
            return 0.0
        shape = "constant" if self.end_epoch == self.start_epoch else self.shape
        return PieceWiseSchedule([(0, self.start, "constant"), (self.start_epoch, self.start, shape),
                                  (self.end_epoch, self.end, "constant")])(epoch)  # fmt: skip


class ParetoSpec(Strict):
    """[training.pareto]: keep the checkpoints Pareto-optimal in (validation physics metric, EBOPs) during training.

    Each kept checkpoint is a design point: `checkpoint = i` takes the i-th (by EBOPs, cheapest
    first) instead of the model at the end of training; it is not part of the training's key, so
    every checkpoint of one training is one `codesign run` away without training again.
    """

    keep: bool = Field(True, description="keep the Pareto-optimal checkpoints (hgq.utils.sugar.ParetoFront)")
    checkpoint: int | None = Field(None, ge=0, description="the kept checkpoint this point takes (0: fewest EBOPs)")
    from_epoch: int = Field(0, ge=0, description="first epoch whose checkpoint may be kept")


class TrainingSpec(Strict):
    epochs: int = Field(40, ge=1)
    batch_size: int = Field(512, ge=1)
    learning_rate: float = Field(3e-3, gt=0.0)
    seed: int = 1
    # Absent (None) from a card's key, so cards without it keep theirs (spec.keyless_default).
    adversarial: AdversarialSpec | None = keyless_default(None, description="FGSM adversarial training")
    beta: BetaSchedule | None = keyless_default(None, description="β schedule of HGQ2 trainable bit widths")
    pareto: ParetoSpec | None = keyless_default(None, description="Pareto-optimal checkpoints, (metric, EBOPs)")

    @model_validator(mode="after")
    def _warmup_within_epochs(self):
        if self.adversarial is not None and self.adversarial.warmup_epochs >= self.epochs:
            raise _SectionError(("adversarial", "warmup_epochs"), f"must be below training.epochs ({self.epochs}): "
                                f"no epoch would be adversarial (got {self.adversarial.warmup_epochs})")  # fmt: skip
        if self.beta is not None and self.beta.end_epoch > self.epochs:
            raise _SectionError(("beta", "end_epoch"), f"must be at most training.epochs ({self.epochs}) "
                                f"(got {self.beta.end_epoch})")  # fmt: skip
        if self.pareto is not None and self.pareto.from_epoch >= self.epochs:
            raise _SectionError(("pareto", "from_epoch"), f"must be below training.epochs ({self.epochs}) "
                                f"(got {self.pareto.from_epoch})")  # fmt: skip
        return self

    @property
    def checkpoint(self) -> int | None:
        """The kept Pareto checkpoint a point takes (None: the model at the end of training)."""
        return self.pareto.checkpoint if self.pareto is not None else None


class PruningSpec(Strict):
    sparsity: float = Field(0.0, ge=0.0, lt=1.0, description="target fraction of zero weights")
    kind: Literal["magnitude", "structured"] = "magnitude"
    start: float = Field(0.2, ge=0.0, le=1.0, description="fraction of the epochs where pruning starts")
    end: float = Field(0.7, ge=0.0, le=1.0, description="fraction of the epochs where the target is reached")


class FirmwareSpec(Strict):
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
    icarus_vectors: int = Field(
        1000,
        ge=1,
        description="the first cosim_vectors that Icarus checks too (plus the events that exercise every port bit both ways)",
    )
    # hls4ml types set by hand, per layer: {"dense_0.accum" = "fixed<18,8>", "dense_0.result" = ...} (hls4ml's
    # layer names). Set after conversion (codesign/diagnose.py: apply_precision); the bit-exact checks still apply.
    hls_precision: dict[str, str] = keyless_default({}, description="hls4ml precision overrides per layer")


class _SectionError(ValueError):
    """A problem in one card section, raised inside validation; `_where` unwraps it into 'field': message."""

    def __init__(self, loc: tuple, message: str = "", inner: ValidationError | None = None):
        self.loc, self.message, self.inner = loc, message, inner
        super().__init__(message or str(inner))


def _validated(spec: type, value: dict, loc: tuple) -> BaseModel:
    try:
        return spec.model_validate(value)
    except ValidationError as e:
        raise _SectionError(loc, inner=e) from None


def _model_section(value) -> tuple[BaseModel, kinds.ModelKind]:
    if isinstance(value, BaseModel):
        return value, kinds.get(value.kind)
    value = dict(value or {})
    name = value.get("kind", kinds.DEFAULT)
    try:
        kind = kinds.get(name)
    except CodesignError as e:
        raise _SectionError(("model", "kind"), f"{e} (got {name!r})") from None
    return _validated(kind.spec, value, ("model",)), kind


def _data_section(value, kind: kinds.ModelKind) -> BaseModel:
    if isinstance(value, BaseModel):
        return value
    value = dict(value or {})
    if kind.dataset is None:
        if value and value != {"dataset": "none"}:
            raise _SectionError(
                ("data",), f"model kind '{kind.name}' comes trained and reads no dataset; remove [data]"
            )
        return NoData()
    have = kinds.datasets()
    want = kinds.dataset_name(kind.dataset)
    name = value.get("dataset", want)
    if name not in have:
        raise _SectionError(("data", "dataset"), f"unknown dataset (have: {', '.join(sorted(have))}) (got {name!r})")
    spec = _validated(have[name].Spec, value, ("data",))
    if have[name] is not kind.dataset:
        raise _SectionError(("data", "dataset"), f"model kind '{kind.name}' reads the '{want}' dataset; expected "
                            f"\"{want}\" (got \"{name}\")")  # fmt: skip
    return spec


class Card(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    data: SerializeAsAny[Strict]  # the dataset's spec (kinds: ModelKind.dataset.Spec)
    model: SerializeAsAny[Strict]  # the kind's spec (kinds: ModelKind.spec)
    precision: PrecisionSpec = PrecisionSpec()
    training: TrainingSpec = TrainingSpec()
    pruning: PruningSpec = PruningSpec()
    firmware: FirmwareSpec = FirmwareSpec()
    # A preset is a partial card ({section: {field: value}}) laid over this one, e.g.
    # [presets.tiny.data] n_per_class = 700; the result is validated like the card itself.
    presets: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    source: str = Field("", exclude=True, description="file the card came from (not hashed)")

    @model_validator(mode="before")
    @classmethod
    def _sections(cls, raw):
        """[model] by its kind, [data] by the dataset that kind reads (both default as the first cards did)."""
        if not isinstance(raw, dict):
            return raw
        model, kind = _model_section(raw.get("model"))
        return {**raw, "model": model, "data": _data_section(raw.get("data"), kind)}

    @model_validator(mode="after")
    def _consistent(self):
        """The kind's checks across sections, which field validation cannot see."""
        if self.training.adversarial is not None and not self.kind.adversarial:
            have = ", ".join(n for n in kinds.names() if kinds.get(n).adversarial) or "none"
            raise _SectionError(("training", "adversarial"), f"model kind '{self.model.kind}' has no adversarial "
                                f"training (kinds that have it: {have}); remove [training.adversarial]")  # fmt: skip
        for table in ("beta", "pareto"):  # both act on HGQ2's learned bit widths and their EBOPs
            if getattr(self.training, table) is not None and not self.precision.trainable:
                raise _SectionError(("training", table), f"[training.{table}] acts on HGQ2 trainable bit widths: set "
                                    "precision.trainable = true (got false)")  # fmt: skip
        problem = self.kind.check(self) if self.kind.check else None
        if problem:
            raise _SectionError(tuple(problem[0].split(".")), problem[1])
        return self

    @property
    def kind(self) -> kinds.ModelKind:
        return kinds.get(self.model.kind)

    def with_preset(self, preset: str | None) -> Card:
        """Return the card with a named preset's overrides applied (the preset table is dropped)."""
        if preset is None:
            return self.model_copy(update={"presets": {}})
        if preset not in self.presets:
            raise CodesignError(
                f"{self.source}: presets: no preset '{preset}' (have: {', '.join(self.presets) or 'none'})"
            )
        return self.with_overrides(self.presets[preset], prefix=f"presets.{preset}.")

    def with_overrides(self, overrides: Mapping[str, Any], where: str | None = None, prefix: str = "") -> Card:
        """This card with `overrides` laid over it, validated: {section: {field: value}} or {"section.field": value}.

        The one way from a card and changes to a card (presets, sweep points, benchmark variants);
        an error names `where` (default: the card's file) and the field, prefixed by `prefix`.
        A table inside a section ([training.beta]) is merged field by field ("training.beta.end").
        """
        where = where or self.source
        dump = self.model_dump(mode="json", exclude={"presets", "source"})
        for key, value in overrides.items():
            section, _, field = key.partition(".")
            fields = _nested(field.split("."), value) if field else value
            if not isinstance(dump.get(section), dict) or not isinstance(fields, Mapping):
                raise CodesignError(f"{where}: field '{prefix}{key}': not a card section")
            dump[section] = _merged(dump[section], fields)
        return validate_card(dump, self.source, where, prefix)

    def train_key(self) -> str:
        """Key of everything training depends on: points differing only in firmware share it.

        The Pareto checkpoint a point takes (training.pareto.checkpoint) is chosen after training: left out.
        """
        if self.training.checkpoint is None:
            return self.key(*TRAIN_SECTIONS)
        pareto = self.training.pareto.model_copy(update={"checkpoint": None})
        return self.model_copy(update={"training": self.training.model_copy(update={"pareto": pareto})}).train_key()

    def key(self, *sections: str) -> str:
        """Content hash of the named sections (all if none): the cache key of a stage's output."""
        dump = self.model_dump(mode="json", exclude={"source", "presets", "description"})
        if sections:
            dump = {s: dump[s] for s in sections}
        blob = json.dumps(dump, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _nested(path: list[str], value: Any) -> dict:
    """["beta", "end"], v -> {"beta": {"end": v}}."""
    return {path[0]: _nested(path[1:], value) if len(path) > 1 else value}


def _merged(base: Mapping, over: Mapping) -> dict:
    """`over` laid on `base`, tables merged field by field."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def validate_card(raw: Mapping[str, Any], source: str = "", where: str | None = None, prefix: str = "") -> Card:
    """A dict -> a Card; any problem is one line naming `where` (default: `source`) and the field."""
    try:
        return Card.model_validate({**raw, "source": source})
    except ValidationError as e:
        raise CodesignError(f"{where or source}: field '{prefix}{_where(e)}") from None


def load_card(path: str | Path) -> Card:
    """Parse and validate a card; any problem is one line naming the file and the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise CodesignError(f"{path}: no such card file") from None
    except tomllib.TOMLDecodeError as e:
        raise CodesignError(f"{path}: not valid TOML: {e}") from None
    card = validate_card(raw, str(path))
    for name in card.presets:  # a bad preset fails at load, not when first used
        card.with_preset(name)
    return card


def _where(e: ValidationError, outer: tuple = ()) -> str:
    """`field': message (got value)` of a validation error's first problem."""
    err = e.errors()[0]
    inner = err.get("ctx", {}).get("error") if err["type"] == "value_error" else None
    loc = outer + tuple(err["loc"])
    if isinstance(inner, _SectionError):
        if inner.inner is not None:
            return _where(inner.inner, loc + inner.loc)
        return f"{'.'.join(map(str, loc + inner.loc))}': {inner.message}"
    field = ".".join(str(p) for p in loc) or "(top level)"
    got = "" if err["type"] == "missing" or isinstance(err.get("input"), dict) else f" (got {err.get('input')!r})"
    return f"{field}': {err['msg']}{got}"
