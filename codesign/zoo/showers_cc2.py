"""CaloClouds II-style shower generator (Buhmann et al., arXiv 2309.05704): the networks and samplers.

  shower flow   a conditional neural spline flow (zuko NSF, coupling: two passes per transform,
                so sampling costs a few network calls, not one per feature) over the shower-level
                features SHOWER_FEATURES given log E: the number of points, the visible energy
                over the incident energy, the centre of gravity in x, y, z and, per layer, the
                fractions of points and of energy;
  denoiser      a per-point ConcatSquash MLP (each point denoised independently given the
                incident energy and the number of points), Fourier embedding of the noise level,
                EDM preconditioning (Karras et al. 2022): D(x, σ) = c_skip x + c_out F(c_in x, c_noise);
  teacher       Heun's 2nd-order sampler on the EDM schedule: `steps` levels, 2 steps - 1 calls;
  student       the consistency model f(x, σ) = c_skip'(σ) x + c_out'(σ) F(...) (Song et al. 2023),
                one call from σ_max.
Post-processing (as CaloClouds II): points are put into layers in the order of their z by the
flow's per-layer point counts, their energies scaled per layer to the flow's per-layer energy,
their x, y shifted to the flow's centre of gravity; `codesign.data.showers.digitise` then puts
them into cells.

Point coordinates seen by the denoiser (POINT_FEATURES), each standardised on the training set:
x, y [cm]; z = layer + U(0, 1) (dequantised); log E [MeV]; asinh(t / TIME_SCALE_NS).
"""

from __future__ import annotations

import math

import numpy as np

from ..data import showers as data
from ..errors import CodesignError

TIME_SCALE_NS = 0.05
SIGMA_DATA = 1.0  # the denoiser's inputs are standardised
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0
P_MEAN, P_STD = -1.2, 1.2  # EDM training: ln σ ~ N(P_MEAN, P_STD)
POINT_FEATURES = ("x", "y", "z", "log_energy", "asinh_time")
SHOWER_FEATURES = (
    ("log_n", "energy_ratio", "cog_x", "cog_y", "cog_z")
    + tuple(f"points_l{i}" for i in range(data.N_LAYERS))
    + tuple(f"energy_l{i}" for i in range(data.N_LAYERS))
)
ENERGY_UNIT_MEV = data.SAMPLING_FRACTION * 1e3  # visible MeV per incident GeV on average


def _torch():
    import torch

    return torch


# ----------------------------------------------------------------------------- features


def shower_features(points: np.ndarray, offsets: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """(S, len(SHOWER_FEATURES)) float64 of ragged point clouds."""
    s = len(offsets) - 1
    n = np.diff(offsets)
    if (n == 0).any():
        raise CodesignError(f"showers: shower {int(np.argmax(n == 0))} has no points")
    shower = np.repeat(np.arange(s), n)
    e = points[:, 3].astype(np.float64)
    esum = np.bincount(shower, e, minlength=s)
    cog = [np.bincount(shower, e * points[:, i], minlength=s) / esum for i in range(3)]
    layer = np.clip(points[:, 2].astype(np.int64), 0, data.N_LAYERS - 1)
    flat = shower * data.N_LAYERS + layer
    npl = np.bincount(flat, minlength=s * data.N_LAYERS).reshape(s, -1) / n[:, None]
    epl = np.bincount(flat, e, minlength=s * data.N_LAYERS).reshape(s, -1) / esum[:, None]
    return np.column_stack([np.log(n), esum / (ENERGY_UNIT_MEV * energies), *cog, npl, epl])


def point_features(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.column_stack([points[:, 0], points[:, 1], points[:, 2] + rng.random(len(points)),
                            np.log(np.maximum(points[:, 3], 1e-6)), np.arcsinh(points[:, 4] / TIME_SCALE_NS)])  # fmt: skip


def condition(energies, n, e_range) -> np.ndarray:
    """The denoiser's condition: incident energy mapped to [-1, 1] over the trained range, log n."""
    lo, hi = e_range
    return np.column_stack([2 * (np.log(energies) - math.log(lo)) / (math.log(hi) - math.log(lo)) - 1,
                            np.log(n) / math.log(1000.0)]).astype(np.float32)  # fmt: skip


def flow_context(energies, e_range) -> np.ndarray:
    return condition(energies, np.ones_like(energies), e_range)[:, :1]


# ----------------------------------------------------------------------------- networks


def build_flow(spec):
    import zuko

    return zuko.flows.NSF(len(SHOWER_FEATURES), context=1, transforms=spec.flow_transforms,
                          hidden_features=(spec.flow_hidden,) * 2, passes=2)  # fmt: skip


def denoiser_class():
    torch = _torch()
    nn = torch.nn

    class ConcatSquash(nn.Module):
        """CaloClouds' ConcatSquashLinear: Linear(x) * sigmoid(gate(ctx)) + bias(ctx)."""

        def __init__(self, n_in, n_out, n_ctx):
            super().__init__()
            self.layer, self.gate, self.bias = (
                nn.Linear(n_in, n_out),
                nn.Linear(n_ctx, n_out),
                nn.Linear(n_ctx, n_out, bias=False),
            )

        def forward(self, x, ctx):
            return self.layer(x) * torch.sigmoid(self.gate(ctx)) + self.bias(ctx)

    class Denoiser(nn.Module):
        """F(x, c_noise, condition): per point, 5 -> hidden x layers -> 5, with EDM or consistency preconditioning."""

        def __init__(self, hidden: int, layers: int, fourier: int = 8):
            super().__init__()
            self.register_buffer("freq", torch.randn(fourier, generator=torch.Generator().manual_seed(0)) * 4.0)
            n_ctx = 2 * fourier + 2
            dims = [len(POINT_FEATURES)] + [hidden] * layers + [len(POINT_FEATURES)]
            self.layers = nn.ModuleList(ConcatSquash(a, b, n_ctx) for a, b in zip(dims[:-1], dims[1:], strict=True))
            self.consistency = False  # the student's output parametrisation (set by the distillation)

        def raw(self, x, c_noise, cond):
            w = 2 * math.pi * c_noise[:, None] * self.freq
            ctx = torch.cat([torch.sin(w), torch.cos(w), cond], -1)
            for i, layer in enumerate(self.layers):
                x = layer(x, ctx)
                if i < len(self.layers) - 1:
                    x = torch.nn.functional.silu(x)
            return x

        def forward(self, x, sigma, cond):
            """The denoised x: EDM preconditioning, or the consistency model's (x at SIGMA_MIN is x)."""
            s = sigma[:, None]
            c_in = 1 / torch.sqrt(s**2 + SIGMA_DATA**2)
            if self.consistency:
                c_skip = SIGMA_DATA**2 / ((s - SIGMA_MIN) ** 2 + SIGMA_DATA**2)
                c_out = (s - SIGMA_MIN) * SIGMA_DATA / torch.sqrt(s**2 + SIGMA_DATA**2)
            else:
                c_skip = SIGMA_DATA**2 / (s**2 + SIGMA_DATA**2)
                c_out = s * SIGMA_DATA / torch.sqrt(s**2 + SIGMA_DATA**2)
            return c_skip * x + c_out * self.raw(c_in * x, torch.log(sigma) / 4, cond)

    return Denoiser


def build_denoiser(spec):
    return denoiser_class()(spec.hidden, spec.layers)


def onnx_modules(flow, teacher, student) -> dict:
    """The deployable pieces, each with one input x (as ONNX and onnxruntime see them):
    flow     x = (unit normal (len(SHOWER_FEATURES)), flow context (1)) -> standardised shower features;
    teacher  x = (noisy point (5), σ (1), condition (2)) -> the EDM denoiser's D(x, σ);
    student  x = (unit normal (5), condition (2)) -> the one-step student's point at σ_max."""
    torch = _torch()
    nf, npf = len(SHOWER_FEATURES), len(POINT_FEATURES)

    class FlowSampler(torch.nn.Module):
        def __init__(self, flow):
            super().__init__()
            self.flow = flow

        def forward(self, x):
            return self.flow(x[:, nf:]).transform.inv(x[:, :nf])  # zuko's base is N(0, 1): z is its sample

    class Denoise(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x[:, :npf], x[:, npf], x[:, npf + 1 :])

    class OneStep(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            z, cond = x[:, :npf], x[:, npf:]
            return self.net(z * SIGMA_MAX, torch.full_like(z[:, 0], SIGMA_MAX), cond)

    out = {"flow": FlowSampler(flow).eval(), "teacher": Denoise(teacher).eval()}
    if student is not None:
        out["student"] = OneStep(student).eval()
    return out


def one_step_example():
    """The one-step student module of the card's default sizes (untrained weights), for interchange tests."""
    from ..kinds.showers_cc2 import Spec

    net = build_denoiser(Spec())
    net.consistency = True
    return onnx_modules(build_flow(Spec()), net, net)["student"]


def onnx_example(name: str, n: int = 2):
    """A zero input of the right width for an ONNX module of `onnx_modules`."""
    import numpy as np

    width = {"flow": len(SHOWER_FEATURES) + 1, "teacher": len(POINT_FEATURES) + 3, "student": len(POINT_FEATURES) + 2}
    x = np.zeros((n, width[name]), np.float32)
    if name == "teacher":
        x[:, len(POINT_FEATURES)] = 1.0  # σ > 0
    return x


# ----------------------------------------------------------------------------- samplers


def karras_sigmas(steps: int):
    torch = _torch()
    i = torch.arange(steps, dtype=torch.float32)
    lo, hi = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    return (hi + i / max(steps - 1, 1) * (lo - hi)) ** RHO


def heun_step(net, x, s_from, s_to, cond, last: bool = False):
    """One Heun step of the probability-flow ODE dx/dσ = (x - D(x, σ)) / σ from s_from to s_to (tensors (n,))."""
    d = (x - net(x, s_from, cond)) / s_from[:, None]
    x_next = x + (s_to - s_from)[:, None] * d
    if last:
        return x_next
    d2 = (x_next - net(x_next, s_to, cond)) / s_to[:, None]
    return x + (s_to - s_from)[:, None] * (d + d2) / 2


def sample_teacher(net, cond, steps: int, z):
    """Heun on the Karras schedule from SIGMA_MAX down to 0 (2 * steps - 1 network calls); z: unit noise."""
    torch = _torch()
    sig = torch.cat([karras_sigmas(steps), torch.zeros(1)])
    n = len(cond)
    x = z * sig[0]
    for i in range(steps):
        s0, s1 = sig[i].expand(n), sig[i + 1].expand(n)
        x = heun_step(net, x, s0, s1, cond, last=bool(sig[i + 1] == 0))
    return x


def sample_teacher_onnx(session, cond: np.ndarray, steps: int, z: np.ndarray) -> np.ndarray:
    """The same Heun sampler, each network call an onnxruntime run of the teacher's ONNX file."""
    sig = np.concatenate([karras_sigmas(steps).numpy(), [0.0]]).astype(np.float32)
    n = len(cond)
    buf = np.empty((n, len(POINT_FEATURES) + 3), np.float32)
    buf[:, len(POINT_FEATURES) + 1 :] = cond

    def denoise(x, s):
        buf[:, : len(POINT_FEATURES)] = x
        buf[:, len(POINT_FEATURES)] = s
        return session.run(None, {"x": buf})[0]

    x = z * sig[0]
    for i in range(steps):
        s0, s1 = sig[i], sig[i + 1]
        d = (x - denoise(x, s0)) / s0
        x_next = x + (s1 - s0) * d
        if s1 > 0:
            d2 = (x_next - denoise(x_next, s1)) / s1
            x_next = x + (s1 - s0) * (d + d2) / 2
        x = x_next
    return x


def sample_student(net, cond, z):
    torch = _torch()
    return net(z * SIGMA_MAX, torch.full((len(cond),), SIGMA_MAX), cond)


def network_calls(sampler: str, steps: int) -> int:
    return 1 if sampler == "student" else 2 * steps - 1


# ----------------------------------------------------------------------------- post-processing


def postprocess(feats: np.ndarray, pts: np.ndarray, counts: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Flow features (S, F) and denoised point coordinates (P, 5, physical units) -> points (P, 5)
    in POINT_NAMES: layers by z order and the flow's per-layer counts, energies scaled per layer to
    the flow's per-layer energy, x and y shifted to the flow's centre of gravity."""
    nl = data.N_LAYERS
    out = np.empty((len(pts), 5), np.float32)
    start = 0
    for s, n in enumerate(counts):
        p = pts[start : start + n]
        f = feats[s]
        frac_n = np.clip(f[5 : 5 + nl], 0, None)
        frac_n = frac_n / frac_n.sum() if frac_n.sum() > 0 else np.full(nl, 1 / nl)
        per_layer = np.floor(frac_n * n).astype(np.int64)
        rest = n - per_layer.sum()  # the largest remainders take the points left
        per_layer[np.argsort(per_layer - frac_n * n)[:rest]] += 1
        layer = np.empty(n, np.float32)
        layer[np.argsort(p[:, 2], kind="stable")] = np.repeat(np.arange(nl), per_layer)
        e = np.exp(p[:, 3])
        e_total = max(f[1], 0.0) * ENERGY_UNIT_MEV * energies[s]
        frac_e = np.clip(f[5 + nl : 5 + 2 * nl], 0, None)
        frac_e = frac_e / frac_e.sum() if frac_e.sum() > 0 else frac_n
        li = layer.astype(np.int64)
        have = np.bincount(li, e, minlength=nl)
        want = frac_e * e_total
        scale = np.where(have > 0, want / np.maximum(have, 1e-30), 0.0)
        e = e * scale[li]
        if e.sum() <= 0:  # the flow asked energy only of empty layers: spread it as the points came
            e = np.exp(p[:, 3]) * e_total / np.exp(p[:, 3]).sum()
        x, y = p[:, 0], p[:, 1]
        w = e / max(e.sum(), 1e-30)
        x = x - (w * x).sum() + f[2]
        y = y - (w * y).sum() + f[3]
        out[start : start + n] = np.column_stack([x, y, layer, e, TIME_SCALE_NS * np.sinh(p[:, 4])])
        start += n
    return out


# ----------------------------------------------------------------------------- the whole generator


class Generator:
    """Flow + denoiser + normalisations: energies [GeV] -> point clouds, teacher or student."""

    def __init__(self, spec, e_range, flow, teacher, student, norm: dict):
        self.spec, self.e_range = spec, tuple(float(v) for v in e_range)
        self.flow, self.teacher, self.student, self.norm = flow, teacher, student, norm

    def check_energies(self, energies, where: str = "incident energy") -> np.ndarray:
        energies = np.asarray(energies, np.float64).reshape(-1)
        lo, hi = self.e_range
        bad = (energies < lo) | (energies > hi) | ~np.isfinite(energies)
        if bad.any():
            raise CodesignError(f"{where}: {energies[bad][0]:g} GeV is outside the trained range {lo:g}-{hi:g} GeV")
        return energies

    def points(self, energies, sampler: str, seed: int = 0, sessions: dict | None = None):
        """(points (P, 5) in POINT_NAMES, offsets (S+1,)) for `energies` [GeV].

        sampler: "teacher" (Heun) or "student" (one step). With `sessions` (onnxruntime sessions of
        the ONNX files of `onnx_modules`, by name), the networks run in onnxruntime; the noise is
        the same as in torch for the same seed, so both give the same showers up to float rounding.
        """
        torch = _torch()
        energies = self.check_energies(energies)
        g = torch.Generator().manual_seed(seed)
        z_flow = torch.randn(len(energies), len(SHOWER_FEATURES), generator=g)
        x_flow = torch.cat([z_flow, torch.from_numpy(flow_context(energies, self.e_range))], 1)
        with torch.no_grad():
            if sessions:
                f = sessions["flow"].run(None, {"x": x_flow.numpy()})[0]
            else:
                f = self.modules["flow"](x_flow).numpy()
        feats = f.astype(np.float64) * self.norm["shower_std"] + self.norm["shower_mean"]
        counts = np.clip(np.round(np.exp(feats[:, 0])), 1, self.spec.max_points).astype(np.int64)
        cond = np.repeat(condition(energies, counts, self.e_range), counts, axis=0)
        z = torch.randn(len(cond), len(POINT_FEATURES), generator=g)
        with torch.no_grad():
            if sessions and sampler == "student":
                x = sessions["student"].run(None, {"x": np.concatenate([z.numpy(), cond], 1)})[0]
            elif sessions:
                x = sample_teacher_onnx(sessions["teacher"], cond, self.spec.teacher_steps, z.numpy())
            elif sampler == "student":
                x = sample_student(self.student, torch.from_numpy(cond), z).numpy()
            else:
                x = sample_teacher(self.teacher, torch.from_numpy(cond), self.spec.teacher_steps, z).numpy()
        pts = x.astype(np.float64) * self.norm["point_std"] + self.norm["point_mean"]
        return postprocess(feats, pts, counts, energies), np.concatenate([[0], np.cumsum(counts)])

    @property
    def modules(self) -> dict:
        if not hasattr(self, "_modules"):
            self._modules = onnx_modules(self.flow, self.teacher, self.student)
        return self._modules

    def export_onnx(self, out) -> dict:
        """flow.onnx, teacher.onnx, student.onnx (dynamic batch) in `out`: name -> path."""
        from pathlib import Path

        from ..interchange import export_onnx

        torch = _torch()
        return {name: str(export_onnx(m, torch.from_numpy(onnx_example(name)), Path(out) / f"{name}.onnx"))
                for name, m in self.modules.items()}  # fmt: skip


def sessions(paths: dict, threads: int = 1) -> dict:
    """onnxruntime sessions of the ONNX files (name -> path), `threads` intra-op threads each."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    return {n: ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]) for n, p in paths.items()}


# ----------------------------------------------------------------------------- weights


def save(path, gen: Generator) -> None:
    torch = _torch()
    blob = {"kind": "showers_cc2", "e_range": torch.tensor(gen.e_range, dtype=torch.float64),
            "flow": gen.flow.state_dict(), "teacher": gen.teacher.state_dict(),
            "norm": {k: torch.from_numpy(np.asarray(v)) for k, v in gen.norm.items()}}  # fmt: skip
    if gen.student is not None:
        blob["student"] = gen.student.state_dict()
    torch.save(blob, path)


def load(path, spec, with_student: bool = False) -> Generator:
    """Safe loading only (torch.load(weights_only=True)); the file must be this card's model."""
    import pickle

    torch = _torch()
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CodesignError(f"{path}: not a showers_cc2 weights file (safe loading refused it: {first})") from None
    need = ("kind", "e_range", "flow", "teacher", "norm") + (("student",) if with_student else ())
    if not isinstance(blob, dict) or blob.get("kind") != "showers_cc2" or any(k not in blob for k in need):
        raise CodesignError(f"{path}: not a showers_cc2 weights file (expected the keys {', '.join(need)})")
    flow, teacher = build_flow(spec), build_denoiser(spec)
    student = build_denoiser(spec) if with_student else None
    for name, module in (("flow", flow), ("teacher", teacher), ("student", student)):
        if module is None:
            continue
        sd = blob[name]
        want = module.state_dict()
        for k, v in want.items():
            if k not in sd or tuple(sd[k].shape) != tuple(v.shape):
                got = "missing" if k not in sd else f"shape {tuple(sd[k].shape)}"
                raise CodesignError(f"{path}: field '{name}.{k}': expected shape {tuple(v.shape)} for this card's "
                                    f"model.{'flow_hidden' if name == 'flow' else 'hidden'}, got {got}")  # fmt: skip
        module.load_state_dict(sd)
        module.eval()
    if student is not None:
        student.consistency = True
    norm = {k: v.numpy() for k, v in blob["norm"].items()}
    return Generator(spec, blob["e_range"].tolist(), flow, teacher, student, norm)
