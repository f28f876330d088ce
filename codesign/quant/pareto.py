"""Resource-aware training: HGQ2's β schedule and its Pareto-optimal checkpoints, each a design point.

With `precision.trainable`, HGQ2 learns a bit width per weight and activation under an EBOPs
penalty β (a bit that goes to zero prunes the weight). A card's [training.beta] ramps β over the
epochs (hgq.utils.sugar.BetaScheduler with its PieceWiseSchedule); [training.pareto] keeps, during
training, the checkpoints not dominated in (validation physics metric, EBOPs) (hgq.utils.sugar.ParetoFront,
with FreeEBOPs logging the EBOPs of every epoch), as JEDI-linear's recipe does.

After training, every kept checkpoint is evaluated like the final model, by the trainer's own
`evaluate(model, folder)` (model.keras, reference.npz, metrics.json), into `pareto/<i>/` of the
train stage, cheapest (fewest EBOPs) first. A card's `training.pareto.checkpoint = i` then takes
checkpoint i as its model (flow.stage_train), and the firmware stages see nothing else.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ..errors import CodesignError

RAW = "pareto_raw"  # ParetoFront's own folder inside the train stage (removed once evaluated)
KEPT = "pareto"  # pareto/<i>/: the evaluated checkpoints


def callbacks(card, out: Path | None, metric: str, side: int) -> list:
    """The HGQ2 callbacks of a card's recipe: EBOPs logged each epoch, the β schedule, the Pareto front.

    `metric`: the validation figure kept against EBOPs (a Keras log name), `side` +1 if larger is better.
    """
    if not card.precision.trainable:
        return []
    from hgq.utils.sugar import BetaScheduler, FreeEBOPs, ParetoFront

    t = card.training
    cbs = [FreeEBOPs()]  # before ParetoFront and History: it writes logs["ebops"]
    if t.beta is not None:
        cbs.append(BetaScheduler(t.beta.at))
    if t.pareto is not None and t.pareto.keep and out is not None:
        first = t.pareto.from_epoch
        cbs.append(ParetoFront(out / RAW, [metric, "ebops"], [side, -1], fname_format="epoch={epoch}.keras",
                               enable_if=lambda logs: logs["epoch"] >= first))  # fmt: skip
    return cbs


def evaluate_checkpoints(out: Path, history: dict, metric: str, evaluate: Callable[[object, Path], dict]) -> list[dict]:
    """Evaluate ParetoFront's checkpoints into pareto/<i>/ (fewest EBOPs first); their summary rows."""
    from ..zoo.load import load_model

    raw = out / RAW
    if not raw.exists():
        return []
    epochs = sorted(int(re.fullmatch(r"epoch=(\d+)\.keras", p.name).group(1)) for p in raw.glob("epoch=*.keras"))
    epochs.sort(key=lambda e: (history["ebops"][e], e))
    rows = []
    for i, epoch in enumerate(epochs):
        dest = out / KEPT / str(i)
        dest.mkdir(parents=True)
        metrics = evaluate(load_model(raw / f"epoch={epoch}.keras"), dest)
        row = {"checkpoint": i, "epoch": epoch, "ebops": float(history["ebops"][epoch]),
               metric: float(history[metric][epoch]), "beta": float(history.get("beta", [0.0] * (epoch + 1))[epoch])}  # fmt: skip
        metrics = {**metrics, "ebops": row["ebops"], "pareto_checkpoint": row}
        (dest / "metrics.json").write_text(json.dumps(metrics, indent=1))
        rows.append(row)
    shutil.rmtree(raw)
    return rows


def finish(out: Path, model, history: dict, metric: str, evaluate: Callable[[object, Path], dict]) -> dict:
    """Evaluate the final model into `out` and the kept checkpoints into pareto/; the train record."""
    metrics = evaluate(model, out)
    if "ebops" in history:
        metrics["ebops"] = float(history["ebops"][-1])
        rows = evaluate_checkpoints(out, history, metric, evaluate)
        if rows:
            metrics["pareto"] = {"metric": metric, "checkpoints": rows}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def take_checkpoint(trained: Path, index: int, out: Path, where: str) -> dict:
    """Copy checkpoint `index` of the training in `trained` into `out`; its metrics (the train record)."""
    kept = trained / KEPT
    n = len([p for p in kept.iterdir() if p.is_dir()]) if kept.exists() else 0
    if index >= n:
        have = f"0..{n - 1}" if n else "none"
        raise CodesignError(f"{where}: field 'training.pareto.checkpoint': no kept checkpoint {index} "
                            f"(this training kept: {have})")  # fmt: skip
    src = kept / str(index)
    for f in src.iterdir():
        shutil.copy2(f, out / f.name)
    return json.loads((src / "metrics.json").read_text())
