"""Sweep specs: a model card, axes over card fields, a search, validated once at load.

name = "jet_mlp_bits_sparsity_reuse"
card = "../jet_tagger_mlp.toml"       # relative to the spec file
# model = "my_net.keras"              # or a model file of your own (.keras, .h5, .onnx) instead of a card,
# vectors = "events.h5:/test/x"       #   with your test vectors; `card` then only supplies firmware settings
preset = "tiny"                       # a preset of the card (optional)
targets = ["hls", "estimate"]         # stages each point runs (and what they need)
[fixed]                               # card fields set for every point
"firmware.open_synthesis" = false
[axes]                                # card fields swept (dotted paths)
"precision.weight_bits" = [4, 6, 8]
[search]
kind = "grid"                         # grid | random | optuna
budget = 12                           # points for random / optuna (grid: all)
objectives = ["accuracy:max", "lut:min"]
"""

from __future__ import annotations

import itertools
import json
import random
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..card import Card, load_card
from ..errors import CodesignError


class Search(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["grid", "random", "optuna"] = "grid"
    budget: int | None = Field(None, ge=1)
    seed: int = 1
    objectives: list[str] = Field(default_factory=lambda: ["accuracy:max", "lut:min"], min_length=1)

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, v):
        for o in v:
            if o.partition(":")[2] not in ("min", "max"):
                raise ValueError(f"objective '{o}' must be FIGURE:min|max")
        return v


class Choose(BaseModel):
    """[choose]: which point of the front is the chosen one (highlighted, the one to bundle).

    With `within` (a budget: firmware figure -> its maximum, e.g. lut = 172800): the best physics
    figure among the points inside it; else the cheapest (LUT) within `tolerance` of the best.
    `aim`: the physics figure's target, drawn on the fronts with the budget, so a miss shows by how much.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    within: dict[str, float] = Field(default_factory=dict)
    aim: float | None = None
    tolerance: float = Field(0.01, ge=0.0, description="absolute, in the physics figure")


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    card: str | None = None
    # A user's model file instead of a zoo card (relative to the spec file), with its test vectors;
    # `card`, if also given, supplies the firmware settings (as `codesign run --model FILE CARD`).
    model: str | None = None
    vectors: str | None = None
    preset: str | None = None
    targets: list[str] = Field(default_factory=lambda: ["hls", "estimate"], min_length=1)
    fixed: dict[str, Any] = Field(default_factory=dict)
    axes: dict[str, list[Any]] = Field(min_length=1)
    search: Search = Search()
    choose: Choose = Choose()
    # Every Pareto checkpoint a training kept ([training.pareto]) joins the sweep as a point of its own
    # (axis training.pareto.checkpoint), sharing that training.
    checkpoints: bool = False
    timeout_s: float = Field(1800, gt=0, description="per design point")
    source: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _card_or_model(self):
        if self.card is None and self.model is None:
            raise ValueError("give 'card' (a model card) or 'model' (a model file of your own)")
        if self.vectors and self.model is None:
            raise ValueError("'vectors' goes with 'model'")
        return self

    @property
    def base(self) -> Card:
        here = Path(self.source).parent
        if self.model:
            from ..flow import user_card

            vectors = self.vectors and str(here / self.vectors)
            return user_card(here / self.model, self.card and here / self.card, self.preset, vectors=vectors)
        return load_card(here / self.card).with_preset(self.preset)

    @property
    def physics(self) -> tuple[str, str]:
        """(figure, direction) of the first objective that is not a cost: the y axis of the fronts."""
        from .figures import FIRMWARE

        for o in self.search.objectives:
            name, _, side = o.partition(":")
            if name not in FIRMWARE:
                return name, side
        return "accuracy", "max"

    def points(self) -> list[dict[str, Any]]:
        """The overrides of every point the search may visit (grid order)."""
        names = list(self.axes)
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.axes[n] for n in names))]

    def initial(self) -> list[dict[str, Any]]:
        """Points to run without feedback: the grid, or a seeded random subset of it."""
        pts = self.points()
        if self.search.kind == "random":
            pts = random.Random(self.search.seed).sample(pts, min(self.search.budget or len(pts), len(pts)))
        return pts

    def card_for(self, overrides: dict[str, Any]) -> Card:
        """The base card with fixed fields and a point's overrides applied, validated."""
        base = self.base
        dump = base.model_dump(mode="json")
        changes = {**self.fixed, **overrides}
        for dotted in changes:
            parts = dotted.split(".")
            section = parts[0]
            fields = type(getattr(base, section, None)).model_fields if section in dump else {}
            ok = section in dump and isinstance(dump[section], dict) and len(parts) > 1 and parts[1] in fields
            if ok and len(parts) > 2:  # a field of a table inside the section ([training.beta]): the card has it
                here = dump[section]
                for part in parts[1:-1]:
                    here = here.get(part) if isinstance(here, dict) else None
                ok = isinstance(here, dict) and parts[-1] in here
            if not ok:
                raise CodesignError(f"{self.source}: axis '{dotted}': no such card field (section.field)")
        return base.with_overrides(changes, where=f"{self.source}: point {json.dumps(overrides)}")


def load_sweep(path: str | Path) -> SweepSpec:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
        spec = SweepSpec.model_validate({**raw, "source": str(path)})
    except FileNotFoundError:
        raise CodesignError(f"{path}: no such sweep spec") from None
    except tomllib.TOMLDecodeError as e:
        raise CodesignError(f"{path}: not valid TOML: {e}") from None
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise CodesignError(f"{path}: field '{field}': {err['msg']}") from None
    from ..flow import plan
    from .figures import available

    kind = spec.base.kind
    if spec.model:  # a user's model file passes its guard rails once, before any point runs
        from ..data.vectors import read_vectors
        from ..flow import check_user_model

        try:
            if spec.vectors:
                read_vectors(str(path.parent / spec.vectors))
            check_user_model(Path(spec.base.model.file), allow_unsafe=False)
        except CodesignError as e:
            raise CodesignError(f"{path}: field 'model': {e}") from None
    try:
        plan(spec.targets, kind)  # unknown stage names fail here, not in a worker
    except CodesignError as e:
        raise CodesignError(f"{path}: field 'targets': {e}") from None
    have = available(kind)
    for f in spec.choose.within:
        if f not in have:
            raise CodesignError(f"{path}: field 'choose.within.{f}': no such figure (have: {', '.join(sorted(have))})")
    for o in spec.search.objectives:  # figures of this card's model kind only
        if o.partition(":")[0] not in have:
            raise CodesignError(f"{path}: field 'search.objectives': '{o}': model kind '{kind.name}' has no figure "
                                f"'{o.partition(':')[0]}' (have: {', '.join(sorted(have))})")  # fmt: skip
    for p in spec.points():  # every point is a valid card, before anything runs
        spec.card_for(p)
    return spec
