"""Tracker-muon selection by pull matching of extrapolated tracks to segments (zoo/muon_match.py): the
classical baseline of the muon pre-selectors. It needs no training; its train stage scores the test events."""

from __future__ import annotations

from typing import Literal

from .muon_full import Common, muon_kind


class Spec(Common):
    kind: Literal["muon_match"] = "muon_match"


KIND = muon_kind("muon_match", Spec, "evaluate_match", "an offline baseline: tracker-muon pull matching (numpy)")
