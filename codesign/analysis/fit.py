"""Profile-likelihood fits that gradients pass through, by implicit differentiation.

The minimum θ* of NLL(θ; φ) (φ: everything upstream, the network and the cuts) is found by
Newton steps on detached tensors, damped (Levenberg-Marquardt) where the likelihood is not convex. One more Newton step is then taken with the graph kept:
    θ = θ* - H(θ*)⁻¹ ∇θ NLL(θ*; φ).
Its value is θ* (the gradient vanishes there) and its derivative is -H⁻¹ ∂(∇θ NLL)/∂φ, the
implicit-function theorem's dθ*/dφ, exactly: the terms from differentiating H⁻¹ multiply the
zero gradient. No iteration is unrolled, so memory does not grow with the number of steps.
"""

from __future__ import annotations

import math

from ..errors import CodesignError


def grad_hess(f, x, create_graph: bool = False):
    """(∇f, ∇²f) at x; x must require grad. Parameters are few (μ, lumi, a handful of nuisances)."""
    import torch

    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    rows = [torch.autograd.grad(g[i], x, retain_graph=True, create_graph=create_graph)[0] for i in range(len(x))]
    return (g if create_graph else g.detach()), torch.stack(rows)


def minimize(nll, init, fixed: dict[int, float] | None = None, bounds=None, max_steps: int = 100,
             tol: float = 1e-7):  # fmt: skip
    """argmin of nll(pars) over the parameters not in `fixed` (index -> value) within `bounds`
    (a (low, high) per parameter, or None), differentiable in whatever nll closes over. Returns the
    full parameter vector.

    Bounds are kept by projection: a parameter at a bound whose gradient pushes it outward is held
    there (active) and the Newton step is taken in the others; its derivative is then zero, as the
    implicit-function theorem gives for a constraint that binds.
    """
    import torch

    fixed = fixed or {}
    n = len(init)
    free = [i for i in range(n) if i not in fixed]
    base = init.detach().clone()
    for i, v in fixed.items():
        base[i] = v
    if not free:
        return base
    index = (torch.tensor(free, dtype=torch.long),)
    inf = torch.full((len(free),), float("inf"), dtype=base.dtype)
    low = torch.tensor([bounds[i][0] for i in free], dtype=base.dtype) if bounds else -inf
    high = torch.tensor([bounds[i][1] for i in free], dtype=base.dtype) if bounds else inf

    def full(theta):
        p = base.clone()
        return p.index_put(index, theta)

    def f(theta):
        return nll(full(theta))

    theta = torch.clamp(base[free].clone(), low, high)
    damping = 0.0
    for _ in range(max_steps):
        t = theta.clone().requires_grad_(True)
        g, h = grad_hess(f, t)
        active = ((theta <= low) & (g > 0)) | ((theta >= high) & (g < 0))
        on = ~active
        g_on, h_on = g[on], h[on][:, on]
        f0 = float(f(theta))
        if not math.isfinite(f0):
            raise CodesignError("fit: the likelihood is not finite at the start")
        if not bool(on.any()):
            break
        chol, info = torch.linalg.cholesky_ex(h_on)
        # Converged: a tiny gradient, or a Newton decrement g·H⁻¹g (twice the expected gain) at
        # rounding level; the gradient alone would not do for likelihoods of 10⁴ events.
        small = float(g_on.abs().max()) < tol * max(1.0, abs(f0))
        if small or (int(info) == 0 and float(g_on @ torch.cholesky_solve(g_on[:, None], chol)[:, 0]) < 1e-14):
            break
        eye, trial = torch.eye(int(on.sum()), dtype=base.dtype), None
        while damping < 1e12:  # Levenberg-Marquardt: damp the Newton step until it goes downhill
            chol, info = torch.linalg.cholesky_ex(h_on + damping * eye)
            if int(info) == 0:
                trial = theta.clone()
                trial[on] = theta[on] - torch.cholesky_solve(g_on[:, None], chol)[:, 0]
                trial = torch.clamp(trial, low, high)
                ft = float(f(trial))
                if math.isfinite(ft) and ft < f0:  # strictly: a step lost in rounding is no progress
                    break
            trial = None
            damping = max(10 * damping, 1e-6 * float(h_on.diagonal().abs().max()))
        if trial is None:  # not even a tiny gradient step goes down: a minimum to rounding
            break
        theta, damping = trial.detach(), damping / 10
    else:
        raise CodesignError(f"fit: not converged in {max_steps} steps (largest gradient {float(g.abs().max()):.3g})")
    t = theta.clone().requires_grad_(True)
    g, h = grad_hess(f, t, create_graph=True)
    active = ((theta <= low) & (g.detach() > 0)) | ((theta >= high) & (g.detach() < 0))
    on = ~active
    step = torch.zeros_like(g)
    if bool(on.any()):
        step = step.index_put((torch.nonzero(on).flatten(),), torch.linalg.solve(h.detach()[on][:, on], g[on]))
    return full(t.detach() - step)
