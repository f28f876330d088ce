"""The `codesign` command: data generation, the flow and its stages."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import CodesignError

STAGE_HELP = {
    "train": "quantization-aware training; writes the Python reference",
    "hls": "hls4ml HLS project + g++ C-simulation, bit-exact against the reference",
    "rtl": "da4ml pipelined Verilog + test vectors",
    "cosim": "cocotb co-simulation in Icarus Verilog and Verilator, bit-exact",
    "estimate": "latency, II and resources: da4ml cost model and Yosys synth_xilinx",
    "package": "IP bundle in firmware/ip/<name>-<key>/",
    "report": "HTML report in reports/<name>-<key>/",
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="codesign", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("data", help="generate a data set locally (Pythia 8 + fastjet)")
    d.add_argument("dataset", choices=["jets"])
    size = d.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=["tiny", "demo"], default="demo")
    size.add_argument("--n-per-class", type=int, help="jets per class (overrides --preset)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--workers", type=int, default=2)

    def card_cmd(name: str, help: str):
        c = sub.add_parser(name, help=help)
        c.add_argument("card", help="model card (TOML), e.g. models/jet_tagger_mlp.toml")
        c.add_argument("--preset", help="a preset named in the card, e.g. tiny or demo")
        c.add_argument("--force", action="store_true", help=f"redo the '{name}' stage even if cached")
        return c

    r = card_cmd("run", "run the whole flow (cached stages are skipped)")
    r.add_argument("--until", default="report", help="last stage to run")
    for stage, help in STAGE_HELP.items():
        card_cmd(stage, help + " (runs earlier stages if needed)")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "data":
            from .data import jets

            n = args.n_per_class if args.n_per_class is not None else jets.PRESETS[args.preset]
            print(jets.generate(n, seed=args.seed, workers=args.workers))
            return 0

        from . import flow

        point = flow.Point.from_file(args.card, args.preset)
        until = args.until if args.cmd == "run" else args.cmd
        force = (until,) if args.force else ()
        records = flow.run(point, until=until, force=force)
        print(f"{point.name}-{point.key}: {until} done -> {point.stage_dir(until)}")
        return 0
    except CodesignError as e:
        print(f"codesign: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codesign: interrupted; finished stages are kept, rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
