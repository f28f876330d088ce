"""Runs inside .venv-qkeras (the real QKeras 0.9 on tf-keras), never imported by codesign itself.

    python qkeras_sidecar.py MODEL.h5 X.npy OUT.npz

Loads the user's Keras 2 model with QKeras' layers and quantizers named explicitly (the layer
classes were checked from the file's JSON config before this runs: no Lambda, no unknown class),
runs it on X and writes OUT.npz with the model's output `y`, every layer's output `out/<layer>`
and each QDense's quantized kernel and bias as QKeras computes them (`kernel/<layer>`,
`bias/<layer>`). codesign/quant/qkeras_h5.py builds the QONNX graph from those.
"""

import os
import sys

os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.keras is tf_keras (Keras 2), as QKeras 0.9 expects
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(model_path: str, x_path: str, out_path: str) -> None:
    import numpy as np
    import tf_keras
    from qkeras.utils import _add_supported_quantized_objects

    objects: dict = {}
    _add_supported_quantized_objects(objects)
    model = tf_keras.models.load_model(model_path, custom_objects=objects, compile=False)
    x = np.load(x_path, allow_pickle=False).astype(np.float32)
    outs = {"y": model.predict(x, batch_size=4096, verbose=0)}
    layers = [la for la in model.layers if not isinstance(la, tf_keras.layers.InputLayer)]
    probe = tf_keras.Model(model.inputs, [la.output for la in layers])
    for la, v in zip(layers, probe.predict(x, batch_size=4096, verbose=0) if len(layers) > 1 else [outs["y"]]):
        outs[f"out/{la.name}"] = v
        if hasattr(la, "kernel_quantizer_internal"):
            kq, bq = la.kernel_quantizer_internal, la.bias_quantizer_internal
            outs[f"kernel/{la.name}"] = np.asarray(kq(la.kernel) if kq else la.kernel)
            if la.use_bias:
                outs[f"bias/{la.name}"] = np.asarray(bq(la.bias) if bq else la.bias)
    np.savez(out_path, **outs)


if __name__ == "__main__":
    main(*sys.argv[1:4])
