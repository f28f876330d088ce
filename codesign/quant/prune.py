"""Pruning during quantization-aware training, to a target sparsity on a schedule.

`magnitude`: per layer, the smallest |w| are zeroed. `structured`: whole neurons (a kernel column
and its bias) with the smallest L2 norm are removed; the output layer keeps all its neurons.
The sparsity ramps up polynomially (cubic, as in Zhu & Gupta 2017) from 0 at `start` to the
target at `end` (fractions of the training epochs) and is held after; masks are re-applied after
every batch so pruned weights stay exactly zero, which is what makes them free in the firmware
(da4ml and unrolled HLS designs emit no logic for a zero weight).
"""

from __future__ import annotations

import numpy as np

from ..card import PruningSpec


def target_at(spec: PruningSpec, epoch: int, epochs: int) -> float:
    t0, t1 = spec.start * epochs, max(spec.end * epochs, spec.start * epochs + 1)
    frac = np.clip((epoch + 1 - t0) / (t1 - t0), 0.0, 1.0)
    return float(spec.sparsity * (1 - (1 - frac) ** 3))


def _dense_layers(model):
    # Untrainable layers hold constant kernels (e.g. fixed gathers of a graph network): not pruned.
    return [la for la in model.layers if hasattr(la, "kernel") and len(la.kernel.shape) == 2 and la.trainable]


def masks_for(model, spec: PruningSpec, sparsity: float) -> list[np.ndarray]:
    layers = _dense_layers(model)
    masks = []
    for n, layer in enumerate(layers):
        w = np.asarray(layer.kernel.numpy())
        if spec.kind == "magnitude":
            k = int(sparsity * w.size)
            thr = np.sort(np.abs(w), axis=None)[k - 1] if k > 0 else -1.0
            m = (np.abs(w) > thr).astype(w.dtype)
        else:
            norms = np.linalg.norm(w, axis=0)
            k = 0 if n == len(layers) - 1 else int(sparsity * w.shape[1])
            keep = np.ones(w.shape[1], bool)
            keep[np.argsort(norms)[:k]] = False
            m = np.broadcast_to(keep[None, :], w.shape).astype(w.dtype)
        masks.append(m)
    return masks


def apply(model, masks: list[np.ndarray]) -> None:
    for layer, m in zip(_dense_layers(model), masks):
        layer.kernel.assign(layer.kernel.numpy() * m)
        if getattr(layer, "bias", None) is not None and m.ndim == 2:
            alive = m.any(axis=0)  # a removed neuron loses its bias too
            layer.bias.assign(layer.bias.numpy() * alive)


def callback(spec: PruningSpec, epochs: int):
    import keras

    class Pruning(keras.callbacks.Callback):
        masks: list[np.ndarray] | None = None

        def on_epoch_begin(self, epoch, logs=None):
            s = target_at(spec, epoch, epochs)
            self.masks = masks_for(self.model, spec, s) if s > 0 else None
            if self.masks:
                apply(self.model, self.masks)

        def on_train_batch_end(self, batch, logs=None):
            if self.masks:
                apply(self.model, self.masks)

    return Pruning()


def sparsity_of(model) -> dict:
    """Fraction of exactly-zero weights per dense layer and overall (what the firmware sees: HGQ2's
    quantized kernel, so a weight rounded to zero or whose learned bit width reached zero counts)."""
    per = {la.name: float(np.mean(np.asarray(getattr(la, "qkernel", la.kernel)) == 0)) for la in _dense_layers(model)}
    sizes = [int(np.prod(la.kernel.shape)) for la in _dense_layers(model)]
    total = float(sum(per[la.name] * s for la, s in zip(_dense_layers(model), sizes)) / max(sum(sizes), 1))
    return {"per_layer": per, "total": total}
