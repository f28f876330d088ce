"""How every dataset is generated and stored: a content-hash cache path, per-chunk seeds, chunks run
in parallel behind a progress bar, their assembly, and the HDF5 file.

A dataset is cut into chunks, each an independent Pythia run seeded from (dataset, seed, chunk...),
so the file does not depend on the number of workers; the file name hashes everything that
shapes its content, so a changed setting never reuses a stale file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing as mp
import queue
from pathlib import Path

import numpy as np

from codesign.errors import CodesignError
from codesign.paths import data_dir


def cache_path(prefix: str, key: dict, suffix: str = ".h5") -> Path:
    """build/data/<prefix>-<16 hex digits of sha256 of `key` as sorted JSON><suffix>."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return data_dir() / f"{prefix}-{digest}{suffix}"


def derived_seed(*parts) -> int:
    """A reproducible seed in [1, 900000000] (Pythia's range) from e.g. ("jets", seed, class, chunk)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return 1 + int.from_bytes(digest[:8], "little") % 900_000_000


def check_ints(dataset: str, *checks) -> None:
    """Refuse a bool, a non-integer or a too-small value for each (name, value, minimum)."""
    for name, value, lo in checks:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
            raise CodesignError(f"{dataset}: {name} must be an integer >= {lo}, got {value!r}")


def add_size_cli(p, presets: dict, name: str, what: str) -> None:
    """`codesign data X` arguments of a dataset sized by one count: --preset or --<name>, --seed, --workers."""
    size = p.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=list(presets), default="demo")
    size.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"{what} (overrides --preset)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)


def size_from_cli(args, presets: dict, name: str) -> int:
    n = getattr(args, name)
    return n if n is not None else presets[args.preset]


# ----------------------------------------------------------------------------- parallel chunks


def run_chunks(fn, tasks: list, workers: int, bars: list[tuple[str, int]], progress: bool = True,
               resume: Path | None = None) -> list:  # fmt: skip
    """fn(task, report) for every task, results in task order; in a spawn pool when workers > 1.

    `bars` are the progress bars as (description, total); fn calls report(bar_index, n) as it goes.
    In a worker, report sends through a queue that the parent drains into the bars, so progress
    shows within a chunk rather than at its end. fn must be a module-level function (pickled).
    `resume`: a folder where each finished chunk's arrays are kept (<index>.npz, written atomically);
    a rerun after an interruption loads those and runs only the rest. The caller removes it at the end.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    saved = {i: _chunk_file(resume, i) for i in range(len(tasks))} if resume else {}
    results: list = [_load_chunk(saved[i]) if saved.get(i) and saved[i].exists() else None for i in range(len(tasks))]
    todo = [i for i, r in enumerate(results) if r is None]
    with Progress("[bold]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  disable=not progress) as bar:  # fmt: skip
        ids = [bar.add_task(what, total=total) for what, total in bars]
        if resume and len(todo) < len(tasks):
            bar.console.print(f"resuming: {len(tasks) - len(todo)} of {len(tasks)} chunks kept in {resume}")
        jobs = [(fn, tasks[i], saved.get(i)) for i in todo]
        if workers == 1 or not jobs:
            done = [_call(job, lambda i, n: bar.advance(ids[i], n)) for job in jobs]
        else:
            ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (TF, torch)
            news = ctx.Queue()
            with ctx.Pool(min(workers, len(jobs)), initializer=_init_worker, initargs=(news,)) as pool:
                pending = pool.map_async(_call_in_worker, jobs, chunksize=1)
                while not pending.ready():
                    _drain(news, bar, ids, timeout=0.2)
                done = pending.get()  # re-raises a worker's exception here
                _drain(news, bar, ids, timeout=0)
    for i, r in zip(todo, done):
        results[i] = r
    return results


def _chunk_file(folder: Path, i: int) -> Path:
    return folder / f"{i}.npz"


def _load_chunk(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _call(job, report):
    """One chunk; kept in its resume file (temp name, then renamed) when it has one."""
    fn, task, save = job
    result = fn(task, report)
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        tmp = save.with_name(f".{save.stem}.tmp.npz")
        np.savez(tmp, **result)
        tmp.replace(save)
    return result


def _drain(news, bar, ids, timeout):
    with contextlib.suppress(queue.Empty):
        while True:
            i, n = news.get(timeout=timeout)
            bar.advance(ids[i], n)


_NEWS = None  # in a pool worker: the queue to the parent's progress bars


def _init_worker(news):
    global _NEWS
    _NEWS = news


def _report_to_parent(i, n):
    _NEWS.put((i, n))


def _call_in_worker(job):
    return _call(job, _report_to_parent)


# ----------------------------------------------------------------------------- assembly and file


def assemble(parts: list[dict], seed: int) -> dict:
    """Concatenate chunk arrays in the given order, then shuffle rows with numpy Generator(seed).

    Chunks come class by class; the shuffle keeps a plain head-of-file split from seeing one class.
    """
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.random.default_rng(seed).permutation(len(next(iter(arrays.values()))))
    return {k: v[order] for k, v in arrays.items()}


def write_h5(path, arrays: dict, attrs: dict) -> None:
    """Arrays as datasets (gzip for non-empty 2D+ ones), attrs as attributes (lists, dicts: JSON)."""
    import h5py

    with h5py.File(path, "w") as f:
        for name, value in arrays.items():
            big = value.ndim > 1 and value.shape[0] > 0
            f.create_dataset(name, data=value, compression="gzip" if big else None, compression_opts=4 if big else None)
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value


def read_h5(path, datasets=None) -> tuple[dict, dict]:
    """(arrays, attrs) of a file written by `write_h5`; `datasets` None reads them all."""
    import h5py

    with h5py.File(path, "r") as f:
        attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
        arrays = {k: f[k][...] for k in (f.keys() if datasets is None else datasets)}
    return arrays, attrs


def decode_attr(value):
    """An HDF5 attribute as written: JSON lists and dicts parsed, numpy scalars as Python ones."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value.item() if isinstance(value, np.generic) else value
