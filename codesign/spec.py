"""The base of every card section: strict (unknown fields are errors) and frozen (hashable, safe to share)."""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
