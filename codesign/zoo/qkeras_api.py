"""Workaround, isolated here: hgq2 0.2.0's `qkeras.qlayers` patches HGQ2's own layer classes.

Importing `qkeras.qlayers` (the QKeras-compatible API that ships with hgq2) replaces `__init__` of
every `hgq.layers` class in place (`qkeras_layer_wrap` assigns `cls.__init__`), so any HGQ2 model
built afterwards in the same process silently loses its input quantizers and EBOPs, and its
output leaves the fixed-point grid (seen: HLS C-sim then differs on 199/200 events).
`qkeras_api()` swaps the wrapped constructors in only while a QKeras-API model is being built.
"""

from __future__ import annotations

import contextlib

_ORIGINAL: dict[type, object] = {}
_WRAPPED: dict[type, object] = {}


def _hgq_classes() -> list[type]:
    from hgq import layers

    return [
        c for c in vars(layers).values() if isinstance(c, type) and issubclass(c, (layers.QLayerBase, layers.Quantizer))
    ]


def _capture() -> None:
    if _WRAPPED:
        return
    classes = _hgq_classes()
    _ORIGINAL.update({c: c.__dict__.get("__init__") for c in classes})
    import qkeras.qlayers  # noqa: F401  (patches the classes in place: the bug)

    for c in classes:
        _WRAPPED[c] = c.__dict__.get("__init__")
    _install(_ORIGINAL)


def _install(inits: dict[type, object]) -> None:
    for c, init in inits.items():
        if init is None:
            if "__init__" in c.__dict__:
                delattr(c, "__init__")
        else:
            c.__init__ = init


@contextlib.contextmanager
def qkeras_api():
    """Inside: QKeras-API constructors (`qkeras.qlayers.QDense`, ...). Outside: HGQ2's own."""
    _capture()
    _install(_WRAPPED)
    try:
        import qkeras.qlayers

        yield qkeras.qlayers
    finally:
        _install(_ORIGINAL)
