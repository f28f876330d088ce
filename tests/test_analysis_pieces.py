"""The differentiable-analysis pieces (codesign/analysis/): known answers, gradients, and pyhf.

Tolerances: float64 throughout. Closed forms hold to rounding (1e-12 relative) where no fit is
involved, and to 1e-8 where a Newton fit converged to a gradient below 1e-9. pyhf's hypotests
run scipy's optimizer at tolerance 1e-12, so they agree to ~1e-8.
"""

import math

import numpy as np
import pytest

from codesign.errors import CodesignError

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(autouse=True)
def f64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def one_bin(s, b):
    from codesign.analysis.histfactory import BinnedModel, Sample

    return BinnedModel([Sample("sig", torch.tensor([s]), normfactor=True), Sample("bkg", torch.tensor([b]))])


def pyhf_index(pm, name: str) -> int:
    """pyhf's index of one of our parameters (ours: staterror_sr[b]; pyhf: a slice staterror_sr)."""
    base, _, b = name.partition("[")
    return pm.config.par_slice(base).start + (int(b[:-1]) if b else 0)


def full_model(sig=None, bkg=None, up=None, down=None):
    """Every modifier type: normfactor, lumi, normsys on both samples, a histosys and the MC
    statistics (staterror) on the background."""
    from codesign.analysis.histfactory import BinnedModel, Sample

    sig = torch.tensor([5.0, 10.0, 20.0]) if sig is None else sig
    bkg = torch.tensor([100.0, 50.0, 20.0]) if bkg is None else bkg
    up = bkg * torch.tensor([1.1, 1.0, 0.9]) if up is None else up
    down = bkg * torch.tensor([0.92, 1.0, 1.12]) if down is None else down
    return BinnedModel([
        Sample("sig", sig, normfactor=True, normsys={"sig_xs": (0.95, 1.07)}),
        Sample("bkg", bkg, normsys={"bkg_norm": (0.9, 1.1)}, histosys={"shape": (down, up)},
               staterror=torch.sqrt(bkg) * 0.5),
    ], lumi_sigma=0.02)  # fmt: skip


@pytest.mark.parametrize("s,b", [(10.0, 50.0), (3.0, 1000.0), (40.0, 5.0)])
def test_one_bin_known_answers(s, b):
    from codesign.analysis import losses

    m = one_bin(s, b)
    assert float(losses.sigma_mu(m)) == pytest.approx(math.sqrt(s + b) / s, rel=1e-12)
    z_closed = math.sqrt(2 * ((s + b) * math.log(1 + s / b) - s))  # Cowan et al., eq. 97
    assert float(losses.discovery_z0(m)) == pytest.approx(z_closed, rel=1e-8)
    # Background-only Asimov data, test mu = 1: q = 2[(s + b) - b - b ln((s + b) / b)].
    q = 2 * (s - b * math.log(1 + s / b))
    assert float(losses.expected_cls(m)) == pytest.approx(
        2 * (1 - 0.5 * math.erfc(-math.sqrt(q) / math.sqrt(2))), rel=1e-8
    )


def test_gradients_match_finite_differences():
    """Through the Hessian (σ_μ) and through the implicit-differentiation fits (Z₀, CLs)."""
    from codesign.analysis import losses

    sig = torch.tensor([5.0, 10.0, 20.0], requires_grad=True)
    bkg = torch.tensor([100.0, 50.0, 20.0], requires_grad=True)
    up = torch.tensor([110.0, 50.0, 18.0], requires_grad=True)
    for loss in (losses.sigma_mu, losses.discovery_z0, losses.expected_cls):
        # gradcheck's central differences at eps 1e-6 in float64: atol 1e-6, rtol 1e-4 cover their error.
        assert torch.autograd.gradcheck(lambda s, b, u, f=loss: f(full_model(s, b, u)), (sig, bkg, up), eps=1e-6,
                                        atol=1e-6, rtol=1e-4)  # fmt: skip


def test_a_fit_gradient_is_not_zero_and_has_the_right_sign():
    """More signal lowers σ_μ and raises Z₀: the gradients reach the signal template."""
    from codesign.analysis import losses

    sig = torch.tensor([5.0, 10.0, 20.0], requires_grad=True)
    (gs,) = torch.autograd.grad(losses.sigma_mu(full_model(sig)), sig)
    (gz,) = torch.autograd.grad(losses.discovery_z0(full_model(sig)), sig)
    assert (gs < 0).all() and (gz > 0).all()


def test_torch_likelihood_equals_pyhf():
    """logpdf at off-nominal parameters (every interpolation branch), σ_μ, Z₀ and CLs."""
    import pyhf

    from codesign.analysis import pyhf_check

    m = full_model()
    ws = pyhf_check.workspace(m.workspace(m.asimov(1.0)))
    pm = ws.model(modifier_settings=pyhf_check.MODIFIER_SETTINGS)
    data = ws.data(pm)
    rng = np.random.default_rng(3)
    for _ in range(6):
        pars = torch.tensor([1.3, 1.01, *rng.uniform(-2.5, 2.5, 3), *rng.uniform(0.9, 1.1, 3)])  # |α| > 1 and < 1
        flat = np.zeros(len(pars))
        for i, name in enumerate(m.names):
            flat[pyhf_index(pm, name)] = float(pars[i])
        with pyhf_check._backend("numpy"):
            want = float(pyhf.Workspace(m.workspace(m.asimov(1.0))).model(
                modifier_settings=pyhf_check.MODIFIER_SETTINGS).logpdf(flat, data)[0])  # fmt: skip
        assert float(m.logpdf(pars, torch.tensor(data[:3]))) == pytest.approx(want, rel=1e-12)
    assert any(n.startswith("staterror") for n in m.names)
    result = pyhf_check.compare(m)
    assert result["max_rel_diff"] < 1e-6, result


def test_soft_pieces_tend_to_the_hard_ones():
    from codesign.analysis.smooth import bkde_histogram, hard_histogram, soft_cut

    x = torch.tensor(np.random.default_rng(1).uniform(0.0, 1.0, 2000))
    edges = [0.0, 0.25, 0.5, 0.75, 1.0]
    hard = hard_histogram(x.numpy(), edges)
    assert np.abs(bkde_histogram(x, edges, 1e-9).numpy() - hard).max() < 1e-6  # events at an edge share it
    wide = bkde_histogram(x, edges, 0.1).numpy()
    assert np.abs(wide - hard).max() > 5  # a real bandwidth smears across edges
    assert torch.equal(soft_cut(x, 0.3, 1e-9) > 0.5, x > 0.3)


@pytest.mark.parametrize("call,field", [
    (lambda: __import__("codesign.analysis.smooth", fromlist=["x"]).soft_cut(torch.zeros(3), 0.0, 0.0), "temperature"),
    (lambda: __import__("codesign.analysis.smooth", fromlist=["x"]).bkde_histogram(torch.zeros(3), [0, 1], -1.0),
     "bandwidth"),
])  # fmt: skip
def test_nonpositive_temperature_or_bandwidth_is_refused(call, field):
    with pytest.raises(CodesignError, match=f"field '{field}': must be > 0"):
        call()


def test_bad_models_are_refused_in_one_line():
    from codesign.analysis.histfactory import BinnedModel, Sample

    with pytest.raises(CodesignError, match=r"field 'samples': bin 1 has zero expected background"):
        BinnedModel([Sample("sig", torch.tensor([1.0, 2.0]), normfactor=True), Sample("bkg", torch.tensor([3.0, 0.0]))])
    with pytest.raises(CodesignError, match=r"field 'samples.bkg.histosys.jes.up': expected shape \(2,\)"):
        BinnedModel([Sample("sig", torch.tensor([1.0, 2.0]), normfactor=True),
                     Sample("bkg", torch.tensor([3.0, 4.0]), histosys={"jes": (torch.ones(2), torch.ones(3))})])  # fmt: skip


def test_a_workspace_pyhf_rejects_is_one_line(tmp_path):
    from codesign.analysis import pyhf_check

    m = full_model()
    spec = m.workspace(m.asimov(1.0))
    spec["channels"][0]["samples"][1]["modifiers"][0]["type"] = "normsyss"
    f = tmp_path / "ws.json"
    f.write_text(__import__("json").dumps(spec))
    with pytest.raises(CodesignError) as e:
        pyhf_check.load_workspace(f)
    assert str(f) in str(e.value) and "pyhf rejects the workspace" in str(e.value) and "\n" not in str(e.value)


def bound_model(sig=None):
    """A bin of almost no background with a large MC uncertainty: testing μ = 1 on background-only
    data, the fit would scale that background below zero; pyhf's bound γ >= 1e-10 stops it."""
    from codesign.analysis.histfactory import BinnedModel, Sample

    sig = torch.tensor([2.0, 6.0]) if sig is None else sig
    bkg = torch.tensor([200.0, 0.5])
    return BinnedModel([Sample("sig", sig, normfactor=True),
                        Sample("bkg", bkg, staterror=torch.tensor([10.0, 5.0]))])  # fmt: skip


def test_fits_keep_pyhfs_bounds_and_agree_with_it_there():
    from codesign.analysis import losses, pyhf_check
    from codesign.analysis.fit import minimize

    m = bound_model()
    data = m.asimov(0.0)
    cond = minimize(lambda p: m.nll(p, data), m.nominal_pars(1.0), fixed={0: 1.0}, bounds=m.bounds())
    assert float(cond[m.names.index("staterror_sr[1]")]) == 1e-10  # held at the bound
    unbounded = minimize(lambda p: m.nll(p, data), m.nominal_pars(1.0), fixed={0: 1.0})
    assert float(unbounded[m.names.index("staterror_sr[1]")]) < 0  # what the bound prevents
    result = pyhf_check.compare(m)
    assert result["rel_diff"]["cls"] < 1e-6 and result["rel_diff"]["z0"] < 1e-6, result
    sig = torch.tensor([2.0, 6.0], requires_grad=True)  # derivatives with a binding bound
    assert torch.autograd.gradcheck(
        lambda s: losses.expected_cls(bound_model(s)), (sig,), eps=1e-6, atol=1e-6, rtol=1e-4
    )
