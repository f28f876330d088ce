"""Datasets generated locally (no downloads): the stage every other stage reads from.

Each dataset is one module here, named as a card's `data.dataset`, with
`from_spec(spec) -> Path` (generate once, cached by content hash), `load(path) -> dict`, and
`add_cli(parser)` / `from_cli(args) -> Path` for `codesign data NAME`.
"""

import importlib

DATASETS = ["jets", "flavour", "met"]


def module(dataset: str):
    """The module of a dataset name (`jets`, ...)."""
    return importlib.import_module(f"{__name__}.{dataset}")
