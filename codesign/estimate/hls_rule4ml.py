"""Learned cost estimate of the hls4ml HLS project (not the da4ml RTL): rule4ml.

rule4ml's estimators were trained on Vivado HLS + synthesis results of hls4ml Dense networks, so
they answer "what would Vivado give for this hls4ml project" without running Vivado. What they
see, and so what they cannot see:
  - layer shapes, one uniform precision ap_fixed<W, I>, strategy, reuse factor, board;
  - not per-layer or per-weight precisions (HGQ2), not sparsity (they count parameters, zeros
    included). We pass W = the widest of the card's weight and activation widths, I = the
    activation's integer bits + sign: an upper bound for a card quantized below that.
Boards: rule4ml knows pynq-z2, zcu102, alveo-u200/u250; the Alveo U250's XCU250 is the VU13P
die (same LUT/FF/DSP counts), so a VU13P part maps to alveo-u250. Other parts are not estimated.
"""

from __future__ import annotations

from importlib.metadata import version

# Parts rule4ml has a board for (prefix of the Xilinx part name -> rule4ml board).
BOARDS = {
    "xcvu13p": "alveo-u250",
    "xcu250": "alveo-u250",
    "xcu200": "alveo-u200",
    "xczu9eg": "zcu102",
    "xc7z020": "pynq-z2",
}
HLS4ML, VIVADO = "1.1.0", "2024.2"  # closest to hls4ml 1.3 + Vitis HLS among rule4ml's training data
QUANTITIES = {"LUT": "lut", "FF": "ff", "DSP": "dsp", "BRAM": "bram", "CYCLES": "latency_cycles", "INTERVAL": "ii"}


def source() -> str:
    return f"rule4ml {version('rule4ml')} (learned from Vivado synthesis of hls4ml {HLS4ML} projects, Vivado {VIVADO}; the HLS project, not the RTL)"


def why_not(card) -> str | None:
    """Why rule4ml cannot estimate this card's HLS project (None: it can)."""
    if not card.kind.dense:
        return f"rule4ml estimates Dense networks; model kind '{card.model.kind}' is not one"
    if board(card.firmware.part) is None:
        return f"rule4ml has no board for part '{card.firmware.part}' (have: {', '.join(sorted(BOARDS))})"
    return None


def board(part: str) -> str | None:
    return next((b for prefix, b in BOARDS.items() if part.lower().startswith(prefix)), None)


def precision(card) -> str:
    p = card.precision
    return f"ap_fixed<{max(p.weight_bits, p.activation_bits)}, {p.activation_integer + 1}>"


def estimate_hls(card, n_inputs: int, n_outputs: int) -> dict:
    """{lut, ff, dsp, bram, latency_cycles, ii} of the card's hls4ml project, as rule4ml predicts it."""
    import keras
    from rule4ml.models.wrappers import MultiModelWrapper

    layers = [keras.layers.Dense(n, activation=card.model.activation) for n in card.model.hidden]
    model = keras.Sequential([*layers, keras.layers.Dense(n_outputs)], name=card.name)
    model.build((None, n_inputs))  # rule4ml reads the built input shape
    est = MultiModelWrapper()
    est.load_default_models()
    fw = card.firmware
    cfg = {
        "board": board(fw.part),
        "model": {"strategy": fw.strategy.lower(), "precision": precision(card), "reuse_factor": fw.reuse_factor},
    }
    # The graph estimators take the tool versions: the newest they were trained on.
    df = est.predict(model, hls_configs=[cfg], hls4ml_versions=[HLS4ML], vivado_versions=[VIVADO])
    row = df.dropna(subset=list(QUANTITIES)).iloc[0]
    return {ours: round(float(row[theirs]), 1) for theirs, ours in QUANTITIES.items()}
