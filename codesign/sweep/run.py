"""Drive a sweep: points from the spec, executed locally or on Dask, recorded in the store.

The driver is the only writer of the store. Each point runs in its own process (sweep/task.py)
through an executor: a local thread pool that spawns those processes, or a dask.distributed
cluster (a LocalCluster, or an existing scheduler, e.g. one started by dask-jobqueue on
HTCondor/SLURM). Trainings are run first, once per distinct training key, so points that differ
only in firmware settings share them. Rerunning the same command resumes: `done` and `failed`
points are kept, `pending` and `running` ones (a killed sweep) are run again.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .. import paths
from ..errors import CodesignError
from .spec import SweepSpec, load_sweep
from .store import Store, params_id
from .task import run_isolated


def sweep_dir(name: str) -> Path:
    return paths.build_dir() / "sweeps" / name


def store_for(name_or_spec: str) -> tuple[Store, SweepSpec]:
    """Open an existing sweep's store by name or spec path."""
    if name_or_spec.endswith(".toml"):
        spec = load_sweep(name_or_spec)
        name = spec.name
    else:
        name = name_or_spec
    db = sweep_dir(name) / "results.sqlite"
    if not db.exists():
        raise CodesignError(f"sweep '{name}': no results store at {db} (run `codesign sweep SPEC` first)")
    store = Store(db)
    spec = SweepSpec.model_validate({**json.loads(store.meta()["spec"]), "source": store.meta()["spec_source"]})
    return store, spec


@contextlib.contextmanager
def executor(kind: str, workers: int, scheduler: str | None):
    """(submit, as_completed) for the chosen engine."""
    if kind == "local":
        with cf.ThreadPoolExecutor(max_workers=workers) as pool:
            yield pool.submit, cf.as_completed
        return
    if kind != "dask":
        raise CodesignError(f"executor '{kind}': expected 'local' or 'dask'")
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise CodesignError("executor 'dask': dask.distributed is not installed") from None
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        yield (lambda fn, *a: client.submit(fn, *a, pure=False)), as_completed
    finally:
        client.close()
        if cluster:
            cluster.close()


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TextColumn("done {task.fields[done]} · failed {task.fields[failed]} · remaining {task.fields[left]}"),
        TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip


def stale_points(spec: SweepSpec) -> list[dict]:
    """Rows of the sweep's existing store that the spec would make from a different card (its base
    card or `fixed` settings changed since): resuming would mix them with new ones."""
    db = sweep_dir(spec.name) / "results.sqlite"
    if not db.exists():
        return []
    keys = {params_id(p): spec.card_for(p).key() for p in spec.initial()}
    store = Store(db)
    try:
        return [r for r in store.rows() if keys.get(params_id(r["params"]), r["key"]) != r["key"]]
    finally:
        store.close()


def run_sweep(spec_path: str | SweepSpec, workers: int = 2, kind: str = "local", scheduler: str | None = None) -> Path:
    """Run a sweep spec (a file, or a validated spec, e.g. a benchmark's variant of one)."""
    spec = spec_path if isinstance(spec_path, SweepSpec) else load_sweep(spec_path)
    home = str(paths.root())
    stale = [] if spec.search.kind == "optuna" else stale_points(spec)
    if stale:
        raise CodesignError(
            f"sweep '{spec.name}': {len(stale)} stored points were made from another card or other fixed settings "
            f"(first: {json.dumps(stale[0]['params'], sort_keys=True)}); give the sweep a new name, or remove "
            f"{sweep_dir(spec.name)} to start it afresh"
        )
    store = Store(sweep_dir(spec.name) / "results.sqlite")
    store.set_meta(spec=spec.model_dump_json(exclude={"source"}), spec_source=str(Path(spec.source).resolve()))

    def job(params: dict, targets: list[str]) -> tuple:
        """The executor call for one point: (function, *arguments)."""
        card = spec.card_for(params)
        return run_isolated, card.model_dump(mode="json"), card.source, targets, home, spec.timeout_s

    with executor(kind, workers, scheduler) as (submit, as_completed), _progress() as bar:
        if spec.search.kind == "optuna":
            _optuna(spec, store, submit, as_completed, job, bar, workers)
        else:
            for params in spec.initial():
                card = spec.card_for(params)
                store.add(params, card.key(), card.train_key())
            todo = [r for r in store.rows() if r["status"] in ("pending", "running")]
            _train_first(todo, submit, as_completed, job, bar, "data" in spec.base.kind.stages)
            if spec.checkpoints:
                _add_checkpoints(spec, store, spec.initial())
                todo = [r for r in store.rows() if r["status"] in ("pending", "running")]
            _run_points(todo, store, submit, as_completed, lambda p: job(p, spec.targets), bar)
    counts = store.counts()
    store.close()
    print(f"sweep {spec.name}: {counts.get('done', 0)} done, {counts.get('failed', 0)} failed -> {store.path}")
    return store.path


def _train_first(todo, submit, as_completed, job, bar, data: bool = True) -> None:
    """One training per distinct training key, before the points that share it (`data`: the kind has a data stage)."""
    firsts = {r["train_key"]: r["params"] for r in todo}
    if not firsts:
        return
    first = next(iter(firsts.values()))
    if data:
        submit(*job(first, ["data"])).result()  # the data set once, before trainings that share it
    t = bar.add_task("training", total=len(firsts), done=0, failed=0, left=len(firsts))
    futures = [submit(*job(p, ["train"])) for p in firsts.values()]
    for n, f in enumerate(as_completed(futures), 1):
        f.result()  # a failed training fails its points below, with its error
        bar.update(t, completed=n, done=n, left=len(firsts) - n)


CHECKPOINT = "training.pareto.checkpoint"


def _add_checkpoints(spec: SweepSpec, store: Store, grid: list[dict]) -> None:
    """A point per Pareto checkpoint each of the grid's trainings kept (read from its train record)."""
    from ..flow import Point

    for params in grid:
        card = spec.card_for(params)
        f = Point(card).trained().train_dir / "stage.json"
        if CHECKPOINT in params or not f.exists():
            continue
        for row in json.loads(f.read_text()).get("pareto", {}).get("checkpoints", []):
            p = {**params, CHECKPOINT: row["checkpoint"]}
            c = spec.card_for(p)
            store.add(p, c.key(), c.train_key())


def _run_points(todo, store, submit, as_completed, job, bar) -> None:
    t = bar.add_task("points", total=len(todo), done=0, failed=0, left=len(todo))
    futures = {}
    for r in todo:
        store.start(r["id"])
        futures[submit(*job(r["params"]))] = r["id"]
    done = failed = 0
    for f in as_completed(list(futures)):
        result = f.result()
        store.finish(futures[f], result)
        done, failed = done + result["ok"], failed + (not result["ok"])
        bar.update(t, completed=done + failed, done=done, failed=failed, left=len(todo) - done - failed)


def _optuna(spec, store, submit, as_completed, job, bar, workers) -> None:
    """Multi-objective Bayesian search (Optuna's default multi-objective sampler), resumable from the store."""
    try:
        import optuna
    except ImportError:
        raise CodesignError("search 'optuna': optuna is not installed") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objectives = [o.split(":") for o in spec.search.objectives]
    dists = {a: optuna.distributions.CategoricalDistribution(v) for a, v in spec.axes.items()}
    study = optuna.create_study(directions=[("maximize" if s == "max" else "minimize") for _, s in objectives],
                                sampler=optuna.samplers.TPESampler(seed=spec.search.seed))  # fmt: skip
    seen = set()
    for r in store.rows():  # replay what the store already holds
        if r["status"] in ("done", "failed"):
            values = [r["metrics"][m] for m, _ in objectives] if r["status"] == "done" else None
            state = optuna.trial.TrialState.COMPLETE if values else optuna.trial.TrialState.FAIL
            study.add_trial(
                optuna.trial.create_trial(params=r["params"], distributions=dists, values=values, state=state)
            )
            seen.add(json.dumps(r["params"], sort_keys=True))
    budget = spec.search.budget or len(spec.points())
    t = bar.add_task("optuna", total=budget, done=0, failed=0, left=budget - len(seen))
    running: dict = {}
    while len(seen) < budget or running:
        while len(running) < workers and len(seen) + len(running) < budget:
            trial = study.ask(dists)
            key = json.dumps(trial.params, sort_keys=True)
            if key in seen or any(k == key for _, k, _ in running.values()):
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)  # a repeat of a visited point
                if len(study.trials) > 20 * budget:
                    break
                continue
            card = spec.card_for(trial.params)
            pid = store.add(trial.params, card.key(), card.train_key())
            store.start(pid)
            running[submit(*job(trial.params, spec.targets))] = (trial, key, pid)
        if not running:
            break
        f = next(iter(as_completed(list(running))))
        trial, key, pid = running.pop(f)
        result = f.result()
        store.finish(pid, result)
        seen.add(key)
        if result["ok"]:
            study.tell(trial, [result["metrics"][m] for m, _ in objectives])
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        c = store.counts()
        bar.update(t, completed=len(seen), done=c.get("done", 0), failed=c.get("failed", 0), left=budget - len(seen))
