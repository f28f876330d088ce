"""Differentiable analysis: smooth selections, smooth histograms, a HistFactory-style binned
likelihood and its fit, so that gradients flow from the final measurement (σ_μ, a significance,
CLs) back into a network and its cuts.

  smooth.py      soft cuts with a temperature; the binned KDE histogram with a bandwidth
  histfactory.py the binned model: normfactor μ, normsys (code 4), histosys (code 4p), lumi;
                 Asimov data; the same model as a pyhf workspace
  fit.py         the profile likelihood, fits differentiated by implicit differentiation
  losses.py      σ_μ (inverse Fisher information at the Asimov point), discovery Z0, expected CLs
  pyhf_check.py  the cross-check: the workspace fitted by pyhf gives the same numbers

PyTorch, the zoo's offline framework: the networks trained through it are torch modules that
export to ONNX like the other float models.
"""

import contextlib


@contextlib.contextmanager
def single_thread():
    """torch on one thread inside: these tensors are small (10⁴ jets × 16 features), and on a loaded
    2-core machine a 2-thread matmul of that size was measured 50x slower than a 1-thread one."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
