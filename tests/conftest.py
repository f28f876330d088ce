"""Shared test set-up: the environment, the `codesign` command in a home of its own, and the tiny flow.

A flow module names its card (`CARD = ...`) and asks for `tiny`: the card's tiny preset run once
through `codesign run` in a fresh CODESIGN_HOME, yielding (home, Point) with that home set.

Markers (pyproject): `slow` full flows; `pythia` generates events; `sim` builds an RTL simulator;
`yosys` runs open synthesis. `make test-fast` deselects them all.
"""

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).parents[1]


def codesign(*args, home: Path, check: bool = True) -> subprocess.CompletedProcess:
    """The command line, as a user runs it, with outputs under `home`."""
    env = {**os.environ, "CODESIGN_HOME": str(home)}
    r = subprocess.run([sys.executable, "-m", "codesign.cli", *map(str, args)], cwd=home, env=env, capture_output=True,
                       text=True)  # fmt: skip
    if check and r.returncode != 0:
        raise AssertionError(f"codesign {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    return r


@contextlib.contextmanager
def in_home(home: Path):
    """CODESIGN_HOME set to `home` inside (the flow reads it at call time), restored after."""
    old = os.environ.get("CODESIGN_HOME")
    os.environ["CODESIGN_HOME"] = str(home)
    try:
        yield home
    finally:
        if old is None:
            del os.environ["CODESIGN_HOME"]
        else:
            os.environ["CODESIGN_HOME"] = old


@pytest.fixture(scope="module")
def tiny(request, tmp_path_factory):
    """(home, Point) of the module's CARD with its tiny preset, run through the whole flow once."""
    from codesign import flow

    card = request.module.CARD
    home = tmp_path_factory.mktemp("home")
    codesign("run", card, "--preset", "tiny", home=home)
    with in_home(home):
        yield home, flow.Point.from_file(card, "tiny")
