"""Training of the JEDI-linear-style jet tagger (zoo/jedi_linear.py) on the 5-class jets.

Inputs per jet: ln pT, Δη, Δφ of the `model.n_particles` leading constituents (scaled as in
zoo/jedi_linear.inputs, zero where absent), rounded onto the input grid, so the test inputs are the
core's inputs. Adam with cosine learning-rate decay; a card's β schedule and Pareto checkpoints
(quant/pareto.py) apply. Outputs as every trainer: model.keras,
reference.npz (x, y logits, labels, class_names, input_format), metrics.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..card import Card
from ..fixedpoint import to_grid
from . import pareto, prune
from .keras_fit import fit
from .train import split, write_metrics


def train(card: Card, data: dict, out: Path, progress: bool = True) -> dict:
    import keras

    from ..zoo import jedi_linear

    n, t = card.model.n_particles, card.training
    fmt = jedi_linear.input_format(card)
    x = to_grid(jedi_linear.inputs(data, n), fmt)
    labels = data["labels"].astype(np.int64)
    names = [str(c) for c in data["class_names"]]
    tr, te = split(len(labels), card.data.test_fraction, card.data.seed)
    model = jedi_linear.from_card(card, len(names))
    steps = t.epochs * (int(len(tr) * 0.85) // t.batch_size + 1)
    history = fit(model, card, x[tr], labels[tr], loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  learning_rate=keras.optimizers.schedules.CosineDecay(t.learning_rate, steps), plateau_patience=None,
                  progress=progress, checkpoints=out)  # fmt: skip

    def evaluate(model, dest: Path) -> dict:
        y = model.predict(x[te], batch_size=4096, verbose=0)
        model.save(dest / "model.keras")
        np.savez(dest / "reference.npz", x=x[te], y=y, labels=labels[te], class_names=np.array(names),
                 input_format=np.array(fmt))  # fmt: skip
        return write_metrics(dest, y, labels[te], names, history, len(tr), {"sparsity": prune.sparsity_of(model)})

    return pareto.finish(out, model, history, "val_accuracy", evaluate)
