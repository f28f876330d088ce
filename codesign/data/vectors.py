"""A user's own test vectors: `.npy`, an HDF5 dataset (`file.h5:/group/x`) or ROOT branches
(`file.root:tree:branch1,branch2,...`, read by uproot; one branch per input element, in order).

Only reading lives here: the caller checks the shape against the model's input and every value
against the input port's format (`check_on_grid`), naming the event and element at fault.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CodesignError


def read_vectors(spec: str) -> np.ndarray:
    """The events of `spec` as a float64 array (events first)."""
    path, _, inner = _split(spec)
    if not path.exists():
        raise CodesignError(f"--vectors {spec}: no such file '{path}'")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        x = _npy(path, spec)
    elif suffix in (".h5", ".hdf5"):
        x = _hdf5(path, inner, spec)
    elif suffix == ".root":
        x = _root(path, inner, spec)
    else:
        raise CodesignError(f"--vectors {spec}: expected FILE.npy, FILE.h5:/dataset or FILE.root:tree:b1,b2,...")
    if x.dtype.kind not in "biuf" or x.ndim < 1 or len(x) == 0:
        raise CodesignError(f"--vectors {spec}: expected a non-empty numeric array (got dtype {x.dtype}, "
                            f"shape {x.shape})")  # fmt: skip
    x = x.astype(np.float64)
    bad = np.argwhere(~np.isfinite(x.reshape(len(x), -1)))
    if len(bad):
        ev, el = map(int, bad[0])
        raise CodesignError(f"--vectors {spec}: event {ev}, element {el}: value {x.reshape(len(x), -1)[ev, el]} "
                            "is not finite")  # fmt: skip
    return x


def vectors_file(spec: str) -> Path:
    """The file a vectors spec reads."""
    return _split(spec)[0]


def absolute(spec: str) -> str:
    """The spec with its file's path made absolute (stages may run in another folder)."""
    path, _, inner = _split(spec)
    return f"{path.resolve()}:{inner}" if inner else str(path.resolve())


def _split(spec: str) -> tuple[Path, str, str]:
    """(file, suffix, what is after the first ':' that follows the file name)."""
    for suffix in (".npy", ".h5", ".hdf5", ".root"):
        at = spec.lower().find(suffix + ":")
        if at >= 0:
            return Path(spec[: at + len(suffix)]), suffix, spec[at + len(suffix) + 1 :]
    return Path(spec), Path(spec).suffix, ""


def _npy(path: Path, spec: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)  # never executes pickled objects
    except (ValueError, OSError) as e:
        raise CodesignError(f"--vectors {spec}: not a numeric .npy file ({e})") from None


def _hdf5(path: Path, dataset: str, spec: str) -> np.ndarray:
    import h5py

    if not dataset:
        raise CodesignError(f"--vectors {spec}: name the dataset, e.g. {path}:/group/x")
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                have = []
                f.visititems(lambda name, obj: have.append("/" + name) if isinstance(obj, h5py.Dataset) else None)
                raise CodesignError(f"--vectors {spec}: no dataset '{dataset}' in {path} (have: {', '.join(have)})")
            return np.asarray(f[dataset][()])
    except OSError as e:
        raise CodesignError(f"--vectors {spec}: not an HDF5 file ({e})") from None


def _root(path: Path, inner: str, spec: str) -> np.ndarray:
    import uproot

    tree, _, branches = inner.partition(":")
    names = [b.strip() for b in branches.split(",") if b.strip()]
    if not tree or not names:
        raise CodesignError(f"--vectors {spec}: name the tree and branches, e.g. {path}:Events:x0,x1,x2")
    try:
        f = uproot.open(path)
    except Exception as e:  # uproot raises plain ValueError/OSError subclasses on a file that is not ROOT
        raise CodesignError(f"--vectors {spec}: not a ROOT file ({type(e).__name__}: {e})") from None
    with f:
        if tree not in f:
            raise CodesignError(
                f"--vectors {spec}: no tree '{tree}' in {path} (have: {', '.join(f.keys(cycle=False))})"
            )
        t = f[tree]
        missing = [b for b in names if b not in t]
        if missing:
            raise CodesignError(f"--vectors {spec}: tree '{tree}' has no branch '{missing[0]}' "
                                f"(have: {', '.join(t.keys())})")  # fmt: skip
        cols = []
        for b in names:
            col = t[b].array(library="np")
            if col.dtype == object or col.ndim != 1:
                raise CodesignError(f"--vectors {spec}: branch '{b}' holds one number per event? it holds "
                                    f"{col.dtype} of shape {col.shape[1:]}; give one flat branch per input element")  # fmt: skip
            cols.append(col)
        return np.stack(cols, axis=1)


def user_vectors(spec: str, shape: tuple[int, ...], kif) -> np.ndarray:
    """The user's vectors `spec`, of the model's input `shape`, every value on the input port's grid `kif`."""
    x = check_shape(read_vectors(spec), shape, spec)
    check_on_grid(x, kif, spec)
    return x.astype(np.float32)


def check_shape(x: np.ndarray, shape: tuple[int, ...], spec: str) -> np.ndarray:
    """x reshaped to (events, *shape), or an error naming both shapes."""
    n = int(np.prod(shape))
    if x.shape[1:] != tuple(shape) and (x.ndim != 2 or x.shape[1] != n):
        raise CodesignError(f"--vectors {spec}: each event has shape {x.shape[1:]}, the model's input takes "
                            f"{tuple(shape)} ({n} elements)")  # fmt: skip
    return x.reshape(len(x), *shape)


def check_on_grid(x: np.ndarray, kif: tuple[np.ndarray, np.ndarray, np.ndarray], spec: str) -> None:
    """Every value representable in the input port's per-element format (k, i, f); else name the first."""
    flat = x.reshape(len(x), -1)
    k, i, f = (np.broadcast_to(np.asarray(a, dtype=np.float64).reshape(-1), flat.shape[1:]) for a in kif)
    scaled = flat * 2.0**f
    lo, hi = np.where(k > 0, -(2.0 ** (i + f)), 0.0), 2.0 ** (i + f) - 1
    ok = (scaled == np.round(scaled)) & (scaled >= lo) & (scaled <= hi)
    if not ok.all():
        ev, el = map(int, np.argwhere(~ok)[0])
        kk, ii, ff = int(k[el]), int(i[el]), int(f[el])
        what = (
            f"not on its grid (a multiple of 2**-{ff})" if scaled[ev, el] != round(scaled[ev, el]) else "out of range"
        )
        raise CodesignError(
            f"--vectors {spec}: event {ev}, element {el}: value {float(flat[ev, el])!r} is {what} of the input port's format "
            f"{'' if kk else 'u'}fixed<{kk + ii + ff},{kk + ii}>; give vectors the input quantizer has already "
            "quantized (its output), or widen the input quantizer"
        )
