"""The cross-check against pyhf, the field's standard: the same model as a pyhf workspace.

σ_μ: the Hessian of pyhf's own -log L (its pytorch backend, autodiff) at the Asimov point;
Z₀: pyhf.infer.hypotest(0, test_stat="q0") on Asimov signal + background data; expected CLs:
pyhf.infer.hypotest(1, test_stat="qtilde") on Asimov background-only data (scipy optimizer).
The workspaces set normsys to code 4 and histosys to code 4p through `MODIFIER_SETTINGS`: a
workspace JSON cannot carry interpolation codes, and pyhf's defaults (code 1, code 0) differ
away from α = 0. `pyhf cls workspace.json` therefore uses the defaults; `cls_command` gives the
one line that reproduces ours.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

from ..errors import CodesignError
from .histfactory import BinnedModel

MODIFIER_SETTINGS = {"normsys": {"interpcode": "code4"}, "histosys": {"interpcode": "code4p"}}


@contextlib.contextmanager
def _backend(name: str, **kw):
    import pyhf

    old = pyhf.get_backend()
    pyhf.set_backend(name, **kw)
    try:
        yield pyhf.get_backend()
    finally:
        pyhf.set_backend(*old)


def workspace(spec: dict, where: str = "workspace"):
    """A pyhf Workspace; a spec pyhf rejects is one line naming `where` and the offending field."""
    import pyhf

    try:
        return pyhf.Workspace(spec)
    except pyhf.exceptions.InvalidSpecification as e:
        why = " ".join(e.parent.message.split())[:200]  # the schema's message; str(e) spans lines
        raise CodesignError(f"{where}: field '{e.path or '(top level)'}': pyhf rejects the workspace: {why}") from None
    except (pyhf.exceptions.InvalidWorkspaceOperation, pyhf.exceptions.InvalidModel, KeyError, ValueError) as e:
        raise CodesignError(f"{where}: pyhf rejects the workspace: {' '.join(str(e).split())[:200]}") from None


def load_workspace(path: str | Path):
    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise CodesignError(f"{path}: no such workspace file") from None
    except json.JSONDecodeError as e:
        raise CodesignError(f"{path}: not JSON: {e}") from None
    return workspace(spec, str(path))


def _model(ws):
    return ws.model(modifier_settings=MODIFIER_SETTINGS)


def pyhf_sigma_mu(spec: dict, where: str = "workspace") -> float:
    import torch

    with _backend("pytorch", precision="64b"):
        ws = workspace(spec, where)
        model = _model(ws)
        data = torch.as_tensor(ws.data(model), dtype=torch.float64)
        init = torch.as_tensor(model.config.suggested_init(), dtype=torch.float64)
        h = torch.autograd.functional.hessian(lambda p: -model.logpdf(p, data)[0], init)
        return float(torch.sqrt(torch.linalg.inv(h)[model.config.poi_index, model.config.poi_index]))


def _hypotest(spec: dict, mu: float, test_stat: str, where: str) -> float:
    import pyhf

    with _backend("numpy", custom_optimizer=pyhf.optimize.scipy_optimizer(tolerance=1e-12)):
        ws = workspace(spec, where)
        model = _model(ws)
        return float(pyhf.infer.hypotest(mu, ws.data(model), model, test_stat=test_stat))


def pyhf_figures(model: BinnedModel, where: str = "workspace") -> dict:
    """σ_μ, Z₀ and expected CLs(μ = 1) of `model`, computed by pyhf."""
    from scipy.stats import norm

    sb, b = model.workspace(model.asimov(1.0)), model.workspace(model.asimov(0.0))
    p0 = _hypotest(sb, 0.0, "q0", where)
    return {"sigma_mu": pyhf_sigma_mu(sb, where), "z0": float(norm.isf(p0)) if p0 > 0 else math.inf,
            "cls": _hypotest(b, 1.0, "qtilde", where)}  # fmt: skip


def torch_figures(model: BinnedModel) -> dict:
    from . import losses

    return {"sigma_mu": float(losses.sigma_mu(model).detach()), "z0": float(losses.discovery_z0(model).detach()),
            "cls": float(losses.expected_cls(model).detach())}  # fmt: skip


def pyhf_nll(model: BinnedModel, pars, data, where: str = "workspace") -> float:
    """pyhf's -log L of `model` at our parameter vector `pars` (names mapped to pyhf's order)."""
    import numpy as np

    with _backend("numpy"):
        ws = workspace(model.workspace(data), where)
        pm = _model(ws)
        flat = np.zeros(len(pm.config.suggested_init()))
        for i, name in enumerate(model.names):
            base, _, b = name.partition("[")  # ours: staterror_sr[b]; pyhf: one slice staterror_sr
            flat[pm.config.par_slice(base).start + (int(b[:-1]) if b else 0)] = float(pars[i])
        return -float(pm.logpdf(flat, ws.data(pm))[0])


def compare(model: BinnedModel, where: str = "workspace") -> dict:
    """Both sets of figures and their relative differences, and the likelihood itself: pyhf's
    -log L at our conditional (μ = 0) fit of Asimov signal + background data against ours.

    The likelihood comparison holds whatever the optimisers do; Z₀ and CLs also compare pyhf's
    fits, which stop early on flat likelihoods (σ_μ of several): judge those where σ_μ < 1."""
    from .losses import profile

    ours, theirs = torch_figures(model), pyhf_figures(model, where)
    diff = {k: abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in ours}
    data = model.asimov(1.0).detach()
    cond = profile(model, data, {model.poi: 0.0}).detach()
    nll = float(model.nll(cond, data))
    diff["nll"] = abs(nll - pyhf_nll(model, cond, data, where)) / abs(nll)
    return {"torch": ours, "pyhf": theirs, "rel_diff": diff, "max_rel_diff": max(diff.values())}


def cls_default_codes(spec: dict, where: str = "workspace") -> float:
    """What `pyhf cls workspace.json` gives: pyhf's default interpolation codes (code 1 normsys,
    code 0 histosys, which differ from ours away from α = 0) and its default optimizer."""
    import pyhf

    with _backend("numpy"):
        ws = workspace(spec, where)
        model = ws.model()
        return float(pyhf.infer.hypotest(1.0, ws.data(model), model, test_stat="qtilde"))


def cls_command(workspace_file: str) -> str:
    """The line that reproduces our expected CLs from the shipped workspace with pyhf."""
    return ("python -c \"import json, pyhf; pyhf.set_backend('numpy', pyhf.optimize.scipy_optimizer(tolerance=1e-12)); "
            "ws = pyhf.Workspace(json.load(open('" + workspace_file + "'))); "
            "m = ws.model(modifier_settings=" + json.dumps(MODIFIER_SETTINGS).replace('"', "'") + "); "
            "print(pyhf.infer.hypotest(1.0, ws.data(m), m, test_stat='qtilde'))\"")  # fmt: skip
