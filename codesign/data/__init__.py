"""Datasets generated locally (no downloads): the stage every other stage reads from.

Each dataset is one module here, with `Spec` (its card [data] section), `from_spec(spec) -> Path`
(generate once, cached by content hash), `load(path) -> dict`, and `add_cli(parser)` /
`from_cli(args) -> Path` for `codesign data NAME`. The model kinds (codesign/kinds/) name the
dataset they read; `codesign data` offers every dataset a registered kind reads.
"""
