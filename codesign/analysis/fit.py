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


def minimize(nll, init, fixed: dict[int, float] | None = None, max_steps: int = 100, tol: float = 1e-7):
    """argmin of nll(pars) over the parameters not in `fixed` (index -> value), differentiable in
    whatever nll closes over. Returns the full parameter vector."""
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

    def full(theta):
        p = base.clone()
        return p.index_put(index, theta)

    def f(theta):
        return nll(full(theta))

    theta = base[free].clone()
    damping, eye = 0.0, torch.eye(len(free), dtype=base.dtype)
    for _ in range(max_steps):
        t = theta.clone().requires_grad_(True)
        g, h = grad_hess(f, t)
        chol, info = torch.linalg.cholesky_ex(h)
        f0 = float(f(theta))
        # Converged: a tiny gradient, or a Newton decrement g·H⁻¹g (twice the expected gain) at
        # rounding level; the gradient alone would not do for likelihoods of 10⁴ events.
        if float(g.abs().max()) < tol * max(1.0, abs(f0)) or (
            int(info) == 0 and float(g @ torch.cholesky_solve(g[:, None], chol)[:, 0]) < 1e-14
        ):
            break
        if not math.isfinite(f0):
            raise CodesignError("fit: the likelihood is not finite at the start")
        trial = None
        while damping < 1e12:  # Levenberg-Marquardt: damp the Newton step until it goes downhill
            chol, info = torch.linalg.cholesky_ex(h + damping * eye)
            if int(info) == 0:
                trial = theta - torch.cholesky_solve(g[:, None], chol)[:, 0]
                ft = float(f(trial))
                if math.isfinite(ft) and ft <= f0:
                    break
            trial = None
            damping = max(10 * damping, 1e-6 * float(h.diagonal().abs().max()))
        if trial is None:  # not even a tiny gradient step goes down: a minimum to rounding
            break
        theta, damping = trial.detach(), damping / 10
    else:
        raise CodesignError(f"fit: not converged in {max_steps} steps (largest gradient {float(g.abs().max()):.3g})")
    t = theta.clone().requires_grad_(True)
    g, h = grad_hess(f, t, create_graph=True)
    return full(t.detach() - torch.linalg.solve(h.detach(), g))
