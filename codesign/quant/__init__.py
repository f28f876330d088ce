"""Quantization-aware training and pruning.

A trainer is a function `train(card, data, out, progress=True) -> metrics` writing the train
stage's folder (model file, reference.npz, metrics.json); a model kind names its trainer per
frontend (codesign/kinds/). Keras trainers share one loop (keras_fit.py).
"""
