"""The base of every card section: strict (unknown fields are errors) and frozen (hashable, safe to share).

A field added to a section after cards were keyed (`Card.key`, the content hash that names cached
artifacts, sweep rows and benchmark points) is declared with `keyless_default(default)`: at its
default it is left out of the section's dump, so every card that does not set it keeps its key.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer

_KEYLESS = "keyless_default"


def keyless_default(default: Any, **kwargs) -> Any:
    """A pydantic Field whose default value is not dumped (so not hashed into a card's key)."""
    return Field(default, json_schema_extra={_KEYLESS: True}, **kwargs)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap")
    def _leave_out_keyless_defaults(self, handler):
        out = handler(self)
        for name, f in type(self).model_fields.items():
            extra = f.json_schema_extra
            if isinstance(extra, dict) and extra.get(_KEYLESS) and name in out and getattr(self, name) == f.default:
                del out[name]
        return out
