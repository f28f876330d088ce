"""Float model interchange: a zoo torch model as plain ONNX, checked in onnxruntime.

For the float (offline) models of the zoo, ONNX is the hand-over format to other tools (HLT
inference servers, onnxruntime). Quantized firmware models go through QONNX instead
(quant/train_torch.py, hls/qonnx_frontend.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# onnxruntime 1.31 reads ONNX IR <= 13; onnx 1.22 (pinned) writes IR 10 at this opset.
OPSET = 18


def export_onnx(module, example_input, path: Path) -> Path:
    """torch module -> one self-contained ONNX file (dynamic batch dimension)."""
    import torch

    module.eval()
    path = Path(path)
    onnx_program = torch.onnx.export(
        module, (example_input,), input_names=["x"], output_names=["y"], dynamic_shapes=({0: torch.export.Dim("batch")},),
        opset_version=OPSET, dynamo=True, verbose=False,
    )  # fmt: skip
    onnx_program.save(str(path), external_data=False)
    return path


def check_onnxruntime(module, x: np.ndarray, path: Path) -> float:
    """Export `module`, run it in onnxruntime on x, return the largest |torch - onnxruntime|."""
    import onnxruntime as ort
    import torch

    x = np.ascontiguousarray(x, dtype=np.float32)
    # Two events, not one: torch.export specialises a dimension of size 1 to a constant, which
    # fixes the batch where a model broadcasts over it (attention masks).
    export_onnx(module, torch.from_numpy(x[:2]), path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(x)).numpy()
    return float(np.max(np.abs(got - want)))


def float_zoo_models() -> dict:
    """Every float torch model of the zoo: name -> (module, shape of one event's input).

    A float torch model added to the zoo registers here; the interchange test runs them all.
    """
    import numpy as np

    from .analysis.wz import selector_class
    from .card import Card
    from .zoo import brevitas_mlp, showers_cc2

    return {
        "jet_tagger_mlp": (brevitas_mlp.build_float(Card(name="jet_tagger_mlp"), 16, 5), (16,)),  # the card's 64-32-32
        # the differentiable analysis' selection network, exported in float32 as the train stage does
        "analysis_wz": (selector_class()(np.zeros(16), np.ones(16), 32, 14).float(), (16,)),
        # the shower generator's one-step student (noise and condition in, a point out), as the distil stage exports it
        "showers_cc2": (showers_cc2.one_step_example(), (7,)),
    }
