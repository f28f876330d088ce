"""Where generated things live (all git-ignored) and how a stage writes its folder atomically."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def root() -> Path:
    """Project root for outputs: $CODESIGN_HOME, else the current directory."""
    return Path(os.environ.get("CODESIGN_HOME", ".")).resolve()


def build_dir() -> Path:
    return root() / "build"


def data_dir() -> Path:
    return build_dir() / "data"


@contextlib.contextmanager
def atomic_dir(final: Path, replace: bool = True):
    """Yield a temp folder beside `final`; rename it to `final` only if the block succeeds.

    A killed or failed stage therefore leaves no half-written `final` (at most a `.tmp-*` folder
    that nothing reads). With `replace=False`, a `final` that appeared meanwhile (the same content
    key finished by a concurrent worker) is kept and this copy dropped: first finisher wins.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    try:
        yield tmp
        if final.exists():
            if not replace:
                shutil.rmtree(tmp)
                return
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_file(final: Path):
    """Context manager yielding a temp path beside `final`, renamed onto it on success."""
    return _atomic_file(Path(final))


@contextlib.contextmanager
def _atomic_file(final: Path):
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".tmp-{final.name}-", dir=final.parent, suffix=final.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
