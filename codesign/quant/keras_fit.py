"""The one Keras training loop the Keras trainers (jet MLP, JEDI-linear, L1 flavour, MET) call.

Adam on the card's learning rate (or a schedule), 15% of the training events held out for
validation, the card's epochs and batch size, learning rate halved on a validation plateau, the
card's pruning schedule where the trainer allows it, and with trainable bit widths the card's
β schedule and Pareto checkpoints (quant/pareto.py; kept under `checkpoints`, judged on `pareto_metric`).
"""

from __future__ import annotations

from pathlib import Path

from . import pareto
from . import prune as pruning


def fit(model, card, x, y, *, loss, metrics=("accuracy",), learning_rate=None, plateau_patience: int | None = 5,
        class_weight: dict | None = None, prune: bool = True, progress: bool = True, checkpoints: Path | None = None,
        pareto_metric: tuple[str, int] = ("val_accuracy", 1)) -> dict:  # fmt: skip
    """Compile and train `model` in place; returns Keras' history (per-epoch loss and metrics)."""
    import keras

    t = card.training
    model.compile(optimizer=keras.optimizers.Adam(learning_rate or t.learning_rate), loss=loss,
                  metrics=list(metrics) if metrics else None)  # fmt: skip
    callbacks = []
    if plateau_patience:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=plateau_patience, min_lr=1e-5))
    if prune and card.pruning.sparsity > 0:
        callbacks.append(pruning.callback(card.pruning, t.epochs))
    callbacks += pareto.callbacks(card, checkpoints, *pareto_metric)
    return model.fit(x, y, validation_split=0.15, epochs=t.epochs, batch_size=t.batch_size, class_weight=class_weight,
                     callbacks=callbacks, verbose=2 if progress else 0, shuffle=True).history  # fmt: skip
