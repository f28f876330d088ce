"""The `codesign` command: data generation, the flow and its stages."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

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
    datasets = d.add_subparsers(dest="dataset", required=True)
    from . import kinds

    for name, module in sorted(kinds.datasets().items()):  # each dataset module declares its own arguments
        module.add_cli(datasets.add_parser(name, help=module.__doc__.splitlines()[0]))

    def card_cmd(name: str, help: str, optional: bool = False):
        c = sub.add_parser(name, help=help)
        c.add_argument("card", nargs="?", help="model card (TOML), e.g. models/jet_tagger_mlp.toml; with --model, "
                       "optional: its firmware settings apply")  # fmt: skip
        c.add_argument("--model", "--onnx", dest="model", metavar="FILE", help="a model of your own instead of the "
                       "card's: a QKeras 0.9 .h5, a Keras 3 .keras (HGQ2 or the QKeras API) or a QONNX .onnx, checked by the guard rails "
                       "before anything is written; reference: your model on the test vectors")  # fmt: skip
        c.add_argument("--vectors", metavar="SPEC", help="with --model: your test vectors, FILE.npy, FILE.h5:/group/x "
                       "or FILE.root:tree:branch1,branch2,... (default: seeded vectors on the input quantizer's grid)")  # fmt: skip
        c.add_argument("--allow-unsafe", action="store_true", help="convert a model the guard rails refuse "
                       "(warned; the bit-exact checks still apply)")  # fmt: skip
        c.add_argument("--preset", help="a preset named in the card, e.g. tiny or demo")
        c.add_argument("--force", action="store_true", help=f"redo the '{name}' stage even if cached")
        c.add_argument("--checkpoint", type=int, metavar="I", help="take kept Pareto checkpoint I of the training "
                       "(training.pareto.checkpoint; 0 has the fewest EBOPs)")  # fmt: skip
        if name in ("run", "estimate", "package", "report"):
            c.add_argument("--vendor-reports", metavar="DIR", help="Vivado/Vitis reports (csynth.xml, report_utilization, "
                           "report_timing_summary) of this design point: their figures join the estimate and win")  # fmt: skip
        return c

    sw = sub.add_parser("sweep", help="run a design-space sweep (resumable: rerun the same command)")
    sw.add_argument("spec", help="sweep spec (TOML), e.g. models/sweeps/jet_mlp_tiny.toml")
    sw.add_argument("--workers", type=int, default=2)
    sw.add_argument("--executor", choices=["local", "dask"], default="local")
    sw.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster of --workers)")

    r = card_cmd("run", "run the whole flow (cached stages are skipped)")
    r.add_argument("--until", default="report", help="last stage to run")
    for stage, help in STAGE_HELP.items():
        c = card_cmd(stage, help + " (runs earlier stages if needed)", optional=stage in ("report", "package"))
        if stage in ("report", "package"):
            c.add_argument(
                "--from-sweep", metavar="SWEEP", help="a sweep (name or spec): its report, or a point's bundle"
            )
            c.add_argument("--point", type=int, help="with --from-sweep: the point id to bundle")
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    args = _parser().parse_args(argv)
    try:
        if args.cmd == "data":
            from . import kinds

            print(kinds.datasets()[args.dataset].from_cli(args))
            return 0

        if args.cmd == "sweep":
            from .sweep.run import run_sweep

            run_sweep(args.spec, workers=args.workers, kind=args.executor, scheduler=args.scheduler)
            return 0

        from . import flow

        if args.cmd in ("report", "package") and (args.from_sweep or (args.card and _is_sweep(args.card))):
            return _from_sweep(args)
        if not args.card and not args.model:
            raise CodesignError(f"{args.cmd}: give a model card (or --model FILE, or --from-sweep SWEEP)")
        if args.vectors and not args.model:
            raise CodesignError(f"{args.cmd}: --vectors goes with --model FILE (a card's vectors come from its data)")
        vendor = getattr(args, "vendor_reports", None)
        if args.model:  # checked before anything is written
            point = flow.Point.from_model(args.model, args.card, args.preset, args.allow_unsafe, args.vectors)
            point = dataclasses.replace(point, vendor_reports=vendor and Path(vendor))
        else:
            point = dataclasses.replace(
                flow.Point.from_file(args.card, args.preset, vendor), allow_unsafe=args.allow_unsafe
            )
        if args.checkpoint is not None:
            card = point.card.with_overrides({"training.pareto.checkpoint": args.checkpoint}, prefix="--checkpoint: ")
            point = dataclasses.replace(point, card=card)
        until = args.until if args.cmd == "run" else args.cmd
        force = (until,) if args.force else ()
        if vendor:  # new figures: redo the estimate and what shows it
            from .estimate.vendor import parse_reports

            parse_reports(vendor)  # a bad folder or file fails here, before anything is redone
            force += tuple(s for s in ("estimate", "package", "report") if s in flow.plan((until,)))
        # `run --until S`: every stage of the flow up to S (a verified point); `codesign S`: S and what it needs.
        flow.run(point, until=until, force=force, targets=flow.through(point, until) if args.cmd == "run" else ())
        print(f"{point.name}-{point.key}: {until} done -> {point.stage_dir(until)}")
        return 0
    except CodesignError as e:
        print(f"codesign: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codesign: interrupted; finished stages are kept, rerun the same command to resume", file=sys.stderr)
        return 130


def _is_sweep(path: str) -> bool:
    import tomllib
    from pathlib import Path

    p = Path(path)
    return p.suffix == ".toml" and p.exists() and "axes" in tomllib.loads(p.read_text())


def _from_sweep(args) -> int:
    from . import flow
    from .sweep.run import store_for

    store, spec = store_for(args.from_sweep or args.card)
    if args.cmd == "report":
        from .report.sweep import write_sweep_report

        print(write_sweep_report(store, spec))
        return 0
    if args.point is None:
        raise CodesignError("package --from-sweep: give --point ID (ids are in the sweep report)")
    rows = {r["id"]: r for r in store.rows()}
    if args.point not in rows:
        raise CodesignError(f"sweep '{spec.name}': no point {args.point} (ids 1..{max(rows, default=0)})")
    point = flow.Point(spec.card_for(rows[args.point]["params"]))
    flow.run(point, until="package")
    print(f"{spec.name} point {args.point}: bundle -> {point.bundle_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
