"""Jet substructure of the hls4ml jet features: mMDT grooming and energy correlation functions.

Energy correlation functions in (pT, rapidity-phi) form, with z_i = pT_i / sum_j pT_j and R_ij
the rapidity-azimuth distance:
    e2^b   = sum_{i<j} z_i z_j R_ij^b
    e3^b   = sum_{i<j<k} z_i z_j z_k (R_ij R_ik R_jk)^b          (Larkoski-Salam-Thaler)
    1e3^b  = sum_{i<j<k} z_i z_j z_k min(R_ij, R_ik, R_jk)^b
    2e3^b  = sum_{i<j<k} z_i z_j z_k (product of the two smallest of R_ij, R_ik, R_jk)^b
             (Moult-Necib-Thaler generalised ECFs; 1e2^b = e2^b)
"""

from __future__ import annotations

import numpy as np

from codesign.data.events import offsets, quiet_stdout, wrap_phi

# The 16 high-level features of the public hls4ml jet dataset, in the order `hls4ml_features` gives.
FEATURE_NAMES = [
    "j_zlogz",
    "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",
    "j_c1_b2_mmdt",
    "j_c2_b1_mmdt",
    "j_c2_b2_mmdt",
    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",
    "j_d2_a1_b1_mmdt",
    "j_d2_a1_b2_mmdt",
    "j_m2_b1_mmdt",
    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",
    "j_n2_b2_mmdt",
    "j_mass_mmdt",
    "j_multiplicity",
]


def mmdt(cons, counts, zcut: float, r0: float) -> list:
    """mMDT-groomed jets: (mass, constituent 4-vectors (n, 4)) per jet.

    `cons` holds every jet's constituents back to back as rows starting [px, py, pz, E], `counts`
    how many each jet has. Each jet's constituents are reclustered alone with Cambridge/Aachen;
    R=2 exceeds every pairwise distance inside an R=0.8 jet, so exclusive_jets(1) is the whole
    jet, which soft drop (beta=0, z_cut=zcut: the mMDT, with radius r0) then declusters.
    """
    import awkward as ak
    import fastjet

    vec = ak.unflatten(ak.zip({"px": cons[:, 0], "py": cons[:, 1], "pz": cons[:, 2], "E": cons[:, 3]}), counts)
    with quiet_stdout():
        seq = fastjet.ClusterSequence(vec, fastjet.JetDefinition(fastjet.cambridge_algorithm, 2.0))
        sd = seq.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=zcut, R0=r0)
    c = sd.constituents
    groomed_counts = ak.to_numpy(ak.num(c))
    g = np.stack([ak.to_numpy(ak.flatten(c[k])) for k in ("px", "py", "pz", "E")], axis=1)
    g_off = offsets(groomed_counts)
    mass = ak.to_numpy(sd.msoftdrop)
    return [(mass[i], g[g_off[i] : g_off[i + 1]]) for i in range(len(counts))]


def hls4ml_features(cons, groomed, gecf_max_constituents: int) -> list[float]:
    """The 16 hls4ml features of one jet (order of FEATURE_NAMES).

    Ungroomed jet (all constituents `cons`, rows starting [px, py, pz], z_i = pT_i / sum pT):
        zlogz = sum_i z_i log z_i ;  multiplicity = number of constituents.
    mMDT-groomed jet (`groomed` = (mass, 4-vectors) from `mmdt`), ECFs of the module docstring:
        C1^b = e2^b      C2^b = e3^b / (e2^b)^2      D2^b = e3^b / (e2^b)^3
        D2^(a=1,b) = e3^1 / (e2^b)^(3/b)      M2^b = 1e3^b / 1e2^b      N2^b = 2e3^b / (1e2^b)^2
        mass_mmdt = groomed jet mass.
    The generalised ECFs use the leading `gecf_max_constituents` groomed constituents by pT
    (an n^3 sum; the soft tail beyond them changes M2/N2 negligibly); all others use every one.
    """
    pt = np.hypot(cons[:, 0], cons[:, 1])
    z = pt / pt.sum()
    zlogz = float(np.sum(z * np.log(z)))
    mass, g = groomed
    gz, r = ecf_inputs(g)
    e2 = {b: ecf_e2(gz, r, b) for b in (0, 1, 2)}
    e3 = {b: ecf_e3(gz, r, b) for b in (1, 2)}
    cap = np.argsort(-gz, kind="stable")[:gecf_max_constituents]
    m3, n3 = generalised_e3(gz[cap], r[np.ix_(cap, cap)])
    ratio = _safe_ratio
    return [
        zlogz,
        e2[0],
        e2[1],
        e2[2],
        ratio(e3[1], e2[1] ** 2),
        ratio(e3[2], e2[2] ** 2),
        ratio(e3[1], e2[1] ** 3),
        ratio(e3[2], e2[2] ** 3),
        ratio(e3[1], e2[1] ** 3),
        ratio(e3[1], e2[2] ** 1.5),
        ratio(m3[1], e2[1]),
        ratio(m3[2], e2[2]),
        ratio(n3[1], e2[1] ** 2),
        ratio(n3[2], e2[2] ** 2),
        float(mass),
        float(len(cons)),
    ]


def _safe_ratio(num, den):
    # A groomed jet of one particle has all ECFs 0; report 0 rather than NaN.
    return float(num / den) if den > 0 else 0.0


def ecf_inputs(p4):
    """Momentum fractions z and rapidity-azimuth distance matrix R of 4-vectors (n, 4)."""
    pt = np.hypot(p4[:, 0], p4[:, 1])
    y = 0.5 * np.log((p4[:, 3] + p4[:, 2]) / np.maximum(p4[:, 3] - p4[:, 2], 1e-12))
    phi = np.arctan2(p4[:, 1], p4[:, 0])
    r = np.hypot(y[:, None] - y[None, :], wrap_phi(phi[:, None] - phi[None, :]))
    return pt / pt.sum(), r


def _angle_power(r, beta):
    a = r**beta
    np.fill_diagonal(a, 0.0)  # no self-pairs (matters for beta = 0)
    return a


def ecf_e2(z, r, beta):
    """e2^beta = (1/2) z^T A z with A = R^beta (zero diagonal)."""
    return 0.5 * float(z @ _angle_power(r, beta) @ z)


def ecf_e3(z, r, beta):
    """e3 = (1/6) z^T (A o (A diag(z) A)) z with A = R^beta (zero diagonal): O(n^3) in BLAS."""
    a = _angle_power(r, beta)
    return float(z @ ((a * ((a * z) @ a)) @ z)) / 6.0


def generalised_e3(z, r, block=65536):
    """({b: 1e3^b}, {b: 2e3^b}) for b = 1, 2.

    Sum over i and pairs j<k (each unordered triple counted 3 times), in blocks of i so the
    temporaries stay in cache. Angles enter through min/products only, so R^b of them is the
    b-th power of the R result. Product of the two smallest of (a, b, c) = min(ab, min(a,b) c).
    """
    j, k = np.triu_indices(len(z), 1)
    wjk, c = z[j] * z[k], r[j, k]
    s = np.zeros(4)
    step = max(1, block // max(len(j), 1))
    for i0 in range(0, len(z), step):
        a, b, zi = r[i0 : i0 + step, j], r[i0 : i0 + step, k], z[i0 : i0 + step]
        mab = np.minimum(a, b)
        two = np.minimum(a * b, mab * c)
        one = np.minimum(mab, c, out=mab)
        s += [zi @ (one @ wjk), zi @ ((one * one) @ wjk), zi @ (two @ wjk), zi @ ((two * two) @ wjk)]
    s /= 3.0
    return {1: s[0], 2: s[1]}, {1: s[2], 2: s[3]}
