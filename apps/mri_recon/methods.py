"""mri-recon methods, each a thin composition of sensekit.linop / prox / solvers.

All methods work on k-space normalised so that the zero-filled image has unit
peak magnitude; regularisation weights are fractions of reference quantities
of the zero-filled image (see :mod:`.params`, the one place they are set), and
the result is scaled back by the app.

Every method has the signature ``fn(E, y, cfg, *, callbacks) -> (x, iterations, info)``
with ``E`` the forward model (images (T, Y, X) → k-space (T, C, Y, X)) and ``y``
the normalised k-space.
"""
from __future__ import annotations

import dataclasses

import torch

from sensekit.io.errors import ConfigError
from sensekit.linop import FFT, AxisSum, Compose, Identity, Roll, Unfold, Wavelet
from sensekit.prox import L1, Average, BlockSeparable, LocallyLowRank, SquaredL2, Transformed, Zero
from sensekit.solvers import (CG, FISTA, HQS, PDHG, Composite, LeastSquares, LinearSystem, MaxIter, PrimalDual,
                              RelChange, Residual, llr_term, lowrank_plus_sparse, nuclear_term, on_block, solve,
                              tv_term)

from . import params
from .model import normal_bound
from .options import AUTO, OPTIONS


def _stop(o):
    """max_iter, and the relative change below tol (when tol > 0), of a method's options ``o``."""
    return MaxIter(o.max_iter) if not o.tol else MaxIter(o.max_iter) | RelChange(o.tol)


def _info(res, problem=None, x_init=None, **extra):
    """Stop reason, history and, when a problem is given, its objective at the start and at the end."""
    out = {"stop_reason": res.stop_reason, "history": res.history, **extra}
    if problem is not None:
        out["objective_init"] = float(problem.objective(x_init))
        out["objective"] = float(problem.objective(res.x))
    return out


def _need_frames(E, method, alternative):
    if E.in_shape[0] < 2:
        raise ConfigError(f"method '{method}' needs a dynamic series (T >= 2 frames); "
                          f"for a static image use --method {alternative}")


def zero_filled(E, y, cfg, *, callbacks=()):
    """Eᴴy: inverse FFT of the zero-filled k-space, combined with the coil maps."""
    return E.H(y), 0, {}


def cg_sense(E, y, cfg, *, callbacks=()):
    """CG-SENSE (Pruessmann et al. 2001): CG on (EᴴE + λ·‖E‖²·I) x = Eᴴy.

    ``lam`` is relative to ‖E‖²; with ``lam = 0`` the iteration count
    (``max_iter``, residual ``tol``) is the only regulariser, as in the paper.
    """
    o = OPTIONS.of(cfg, "cg-sense")
    lam = o.lam * normal_bound(E.ops[-1].maps)
    N = E.N
    A = N if lam == 0 else N + lam * Identity(E.in_shape)
    b = E.H(y)
    res = solve(CG(), LinearSystem(A, b), stop=MaxIter(o.max_iter) | Residual(o.tol),
                callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res)


def ls(E, y, cfg, *, callbacks=()):
    """L+S (Otazo et al. 2015): nuclear norm of the Casorati matrix + ℓ1 in temporal Fourier.

    ``lam_l`` is a fraction of the largest singular value of the zero-filled
    Casorati matrix; ``lam_s`` a fraction of the largest temporal-Fourier
    coefficient of the zero-filled series.  By default the iteration is the
    paper's (proximal gradient, unit step for each block of a normalised
    model); ``momentum=True`` switches to FISTA.

    Known limitation (measured on the rat cine, acceleration 8, 1 % noise):
    with the defaults (0.03, 0.003) the PSNR peaks near 100 iterations
    (36.5 dB) and then falls (35.6 dB at 300, lower at convergence): the
    default relies on the iteration count as an extra regulariser.  With
    ``lam_s=0.01`` the PSNR stays flat as ``max_iter`` grows (35.0 → 34.9 dB
    from 50 to 300 iterations) but is 1.5 dB lower.  Use ``rdledm`` or ``tv``
    for results that do not depend on ``max_iter``.
    """
    _need_frames(E, "ls", "rdledm, tv, wavelet or cg-sense")
    o = OPTIONS.of(cfg, "ls")
    x0 = E.H(y)
    C = Unfold(E.in_shape, mode=0)       # Casorati matrix (T × YX)
    Ft = FFT(E.in_shape, axes=(0,))      # temporal Fourier transform
    smax = params.casorati_smax(x0, 0)
    fmax = params.peak(Ft(x0))
    # Otazo's iteration is proximal gradient with a unit step per block (1/‖E‖²); FISTA needs the
    # joint Lipschitz constant 2‖E‖².
    bound = normal_bound(E.ops[-1].maps)
    step = 1.0 / (2.0 * bound) if o.momentum else 1.0 / bound
    L, S, res = lowrank_plus_sparse(
        E, y, unfold=C, lam_l=o.lam_l * smax, lam_s=o.lam_s * fmax, sparse_transform=Ft, x0=x0,
        step=step, momentum=o.momentum, stop=_stop(o), callbacks=callbacks,
        check_every=o.check_every)
    return L + S, res.iterations, _info(res, L=L, S=S)


def _tv_pair(shape, o):
    """Spatial (isotropic) and temporal TV terms with the relative weights of a method's options ``o``."""
    terms = [tv_term(shape, o.lam_tv, axes=(-2, -1))]
    if shape[0] > 1 and o.lam_tt > 0:
        terms.append(tv_term(shape, o.lam_tt, axes=(-3,)))
    return terms


def tv(E, y, cfg, *, callbacks=()):
    """Spatio-temporal total variation by PDHG.

    Notes
    -----
    Solves ``min_x ½‖E x − y‖² + λ_s Σ‖∇_xy x‖₂ + λ_t ‖∇_t x‖₁`` (isotropic
    spatial TV, anisotropic temporal TV, Neumann boundaries) with the
    Chambolle–Pock algorithm, block-preconditioned, the data term dualised.
    ``λ_s = lam_tv``, ``λ_t = lam_tt`` (fractions of the zero-filled peak).
    For a static image (T = 1) only the spatial term remains.

    References
    ----------
    A. Chambolle, T. Pock, J. Math. Imaging Vis. 40:120–145, 2011.
    """
    o = OPTIONS.of(cfg, "tv")
    x0 = E.H(y)
    problem = PrimalDual(Zero(), [(SquaredL2(1.0, y), E)] + _tv_pair(E.in_shape, o))
    res = solve(PDHG(precondition=True, ratio=params.PDHG_RATIO), problem, x0=x0, stop=_stop(o),
                callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res, problem, x0)


def wavelet(E, y, cfg, *, callbacks=()):
    """ℓ1 sparsity in an orthonormal wavelet basis with cycle spinning, by FISTA.

    Notes
    -----
    Solves ``min_x ½‖E x − y‖² + λ p(x)`` where ``p`` is the proximal average
    (see :class:`sensekit.prox.Average`) of ``‖Ψ_d W S_s x‖₁`` over the circular
    image shifts ``s ∈ {0 … spin−1}²``: ``W`` is the multi-level periodic DWT
    (``wavelet`` family, PyWavelets filters) over x, y and, for a series, t;
    ``Ψ_d`` keeps the detail coefficients (the coarsest approximation is not
    penalised) and ``λ = lam_w`` × the zero-filled peak.  The prox is the mean
    of the exact shifted wavelet shrinkages, so FISTA minimises a convex
    objective; averaging over shifts removes the blocking of a decimated DWT
    (cycle spinning, Coifman & Donoho 1995; BART's ``pics -R W`` shifts at
    random instead).  ``spin = 1`` is the plain orthonormal DWT.

    References
    ----------
    M. Lustig, D. Donoho, J. M. Pauly, "Sparse MRI: the application of
    compressed sensing for rapid MR imaging", Magn. Reson. Med. 58:1182–1195, 2007.
    R. R. Coifman, D. L. Donoho, "Translation-invariant de-noising", Wavelets and
    Statistics, Springer 1995.
    A. Beck, M. Teboulle, SIAM J. Imaging Sci. 2(1):183–202, 2009.
    """
    o = OPTIONS.of(cfg, "wavelet")
    x0 = E.H(y)
    axes = (-3, -2, -1) if E.in_shape[0] > 1 else (-2, -1)
    W = Wavelet(E.in_shape, wavelet=o.wavelet, axes=axes).to(x0.device)
    lam = o.lam_w * (~W.approx_mask()).to(device=x0.device, dtype=x0.real.dtype)
    shifts = [(a, b) for a in range(o.spin) for b in range(o.spin)]
    reg = Average([Transformed(L1(lam), W @ Roll(E.in_shape, s, (-2, -1)) if any(s) else W) for s in shifts])
    problem = Composite(LeastSquares(E, y), reg if len(shifts) > 1 else reg.proxes[0])
    res = solve(FISTA(step=1.0 / normal_bound(E.ops[-1].maps), restart=True), problem,
                x0=x0, stop=_stop(o), callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res, problem, x0)


def llr(E, y, cfg, *, callbacks=()):
    """Locally low rank (LLR): nuclear norms of the Casorati matrices of spatial blocks, by FISTA.

    Notes
    -----
    Objective::

        min_x  ½‖E x − y‖²  +  λ Σ_b ‖C_b(S_k x)‖_*

    with ``C_b`` the (B·B) × T Casorati matrix of the ``b``-th B × B spatial tile
    (rows: the tile's pixels, columns: frames; ``B = block``), on a tile grid
    offset by ``S_k``.  Solved by accelerated proximal gradient (FISTA, step
    1/‖E‖², gradient-based adaptive restart); the prox is block-wise singular
    value soft thresholding (:class:`sensekit.prox.LocallyLowRank`, all tiles in
    one batched SVD).  The grid offset ``S_k`` is drawn at random in
    [0, B)² at every iteration (random block shifts, Trzasko & Manduca; BART's
    ``pics -R L`` does the same), which removes the blocking artefacts of a
    fixed grid; each step is the exact prox of the penalty on its grid, so the
    iteration minimises a penalty that changes from step to step (as in BART),
    not one fixed convex function.  Tiles that stick out of the image are
    zero-padded (the padding is exact, see the prox).  ``λ = lam_llr`` × the
    largest singular value over the block Casorati matrices of the zero-filled
    series (offset 0), so the weight follows the data's scale.  The seed of
    the shifts is fixed (0): runs are reproducible.

    Relation to BART: ``pics -R L:7:7:λ_B -b B`` thresholds every block at
    ``step·λ_B·(√(B²) + √T + √log(n_blocks·min(B², T)))`` on k-space scaled by
    its own rule; sensekit's absolute weight λ equals ``λ_B`` times that factor
    on the same normalised data.

    References
    ----------
    J. Trzasko, A. Manduca, "Local versus global low-rank promotion in dynamic
    MRI series reconstruction", Proc. ISMRM 19:4371, 2011.
    T. Zhang, J. M. Pauly, I. R. Levesque, "Accelerating parameter mapping with
    a locally low rank constraint", Magn. Reson. Med. 73(2):655–661, 2015.
    A. Beck, M. Teboulle, SIAM J. Imaging Sci. 2(1):183–202, 2009.
    """
    _need_frames(E, "llr", "rdledm, tv, wavelet or cg-sense")
    o = OPTIONS.of(cfg, "llr")
    x0 = E.H(y)
    B = min(o.block, E.in_shape[-2], E.in_shape[-1])
    ref = LocallyLowRank(1.0, block=B, shift=(0, 0)).block_smax(x0)
    lam = o.lam_llr * ref
    g = LocallyLowRank(lam, block=B, shift="random", generator=torch.Generator().manual_seed(0))
    problem = Composite(LeastSquares(E, y), g)
    res = solve(FISTA(step=1.0 / normal_bound(E.ops[-1].maps), restart=True), problem,
                x0=x0, stop=_stop(o), callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res, problem, x0, lam_abs=lam, block=B)


def llr_tv(E, y, cfg, *, callbacks=()):
    """Locally low rank + spatio-temporal total variation, by PDHG.

    Notes
    -----
    Objective::

        min_x  ½‖E x − y‖²  +  λ_L Σ_b ‖C_b(S_k x)‖_*  +  λ_s Σ‖∇_xy x‖₂  +  λ_t ‖∇_t x‖₁

    the LLR penalty of :func:`llr` (B × B block Casorati matrices, block grid
    offset ``S_k`` drawn at random at every iteration) plus the isotropic
    spatial and anisotropic temporal TV of :func:`tv`.  The two priors model
    different structure: LLR the temporal redundancy of each small region
    (few temporal modes per block), TV the piecewise-smooth anatomy within a
    frame and along time.  Solved by Chambolle–Pock (block-preconditioned
    PDHG, every term dualised: the data term, the two finite differences and
    the LLR term on the identity, whose dual step is the Moreau complement of
    block-wise singular value thresholding).  With random shifts the LLR
    term changes from step to step, as in :func:`llr` and BART's ``pics -R L``,
    so the iteration is the primal–dual analogue of that heuristic rather
    than a solver of one fixed convex problem; a fixed seed (0) makes runs
    reproducible.  Weights: ``λ_L = lam_llr`` × the largest singular value
    over the zero-filled series' block Casorati matrices (offset 0), ``λ_s =
    lam_tv`` and ``λ_t = lam_tt`` fractions of the zero-filled peak (see
    :mod:`.params`).  Block side ``B = block``; unset, 8 for a series of up
    to 32 frames and 16 for a longer one (:func:`.params.llr_tv_block`).
    For a single frame use ``tv``.

    References
    ----------
    J. Trzasko, A. Manduca, Proc. ISMRM 19:4371, 2011 (locally low rank).
    A. Chambolle, T. Pock, J. Math. Imaging Vis. 40:120–145, 2011.
    """
    _need_frames(E, "llr-tv", "tv")
    o = OPTIONS.of(cfg, "llr-tv")
    x0 = E.H(y)
    B = min(o.block or params.llr_tv_block(E.in_shape[0]), E.in_shape[-2], E.in_shape[-1])
    lam = o.lam_llr * LocallyLowRank(1.0, block=B, shift=(0, 0)).block_smax(x0)
    terms = [(SquaredL2(1.0, y), E)] + _tv_pair(E.in_shape, o)
    if lam > 0:
        terms.append(llr_term(E.in_shape, lam, block=B, generator=torch.Generator().manual_seed(0)))
    problem = PrimalDual(Zero(), terms)
    res = solve(PDHG(precondition=True, ratio=params.PDHG_RATIO), problem, x0=x0, stop=_stop(o),
                callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res, problem, x0, lam_abs=lam, block=B)


def kt_slr(E, y, cfg, *, callbacks=()):
    """k-t SLR-style low rank + TV (Lingala et al. 2011) by penalty splitting with continuation.

    Notes
    -----
    Objective: ``min_x ½‖E x − y‖² + (μ/p) Σ_i σ_i(C x)^p + λ_s Σ‖∇_xy x‖₂ + λ_t ‖∇_t x‖₁``
    with ``C x`` the Casorati matrix (T × YX), ``μ = lam_nuc`` × its σ_max at
    the zero-filled image, ``p = p`` (1: nuclear norm, convex; < 1: Schatten-p
    as in the paper, non-convex).  Solved as in the paper by variable
    splitting with quadratic penalties and continuation: auxiliary variables
    for ``C x`` and ``∇x`` are updated by singular-value p-shrinkage and
    (isotropic) soft thresholding, ``x`` by a few CG steps, and the penalty
    weight β doubles every 5 alternations (5 CG steps each) from
    ``β₀ = 0.1·max(μ, λ_s, λ_t)`` to ``β_max = 100·β₀`` (:class:`~sensekit.solvers.HQS`).
    This is the paper's continuation strategy with the non-convex Schatten-p
    option (``p``); the default ``p = 1`` is the convex variant (nuclear norm).

    References
    ----------
    S. G. Lingala, Y. Hu, E. DiBella, M. Jacob, "Accelerated dynamic MRI
    exploiting sparsity and low-rank structure: k-t SLR", IEEE TMI 30(5):1042–1054, 2011.
    """
    _need_frames(E, "kt-slr", "rdledm, tv, wavelet or cg-sense")
    o = OPTIONS.of(cfg, "kt-slr")
    x0 = E.H(y)
    shape = E.in_shape
    mu = o.lam_nuc * params.casorati_smax(x0, 0)
    terms = [nuclear_term(shape, mu, axis=0, p=o.p)] + _tv_pair(shape, o)
    # continuation from a small penalty (strong thresholds λ/β) up to 100·β₀: a larger β_max stalls the
    # alternation (each step moves the unsampled k-space only by ~λ/β); measured on planted data
    beta0 = 0.1 * max(mu, o.lam_tv, o.lam_tt)
    solver = HQS(beta=beta0, growth=2.0, beta_max=100.0 * beta0, inner_iter=5, cg_iter=5)
    problem = PrimalDual(LeastSquares(E, y), terms)
    res = solve(solver, problem, x0=x0, stop=_stop(o), callbacks=callbacks, check_every=o.check_every)
    return res.x, res.iterations, _info(res, problem, x0)


def rdledm(E, y, cfg, *, callbacks=()):
    """RDLEDM: low-rank image + image-domain error, double TV and double nuclear norm, by PDHG.

    Notes
    -----
    Objective (the inferred form of Tan, Qing & Xu, arXiv 2310.14934 — see
    below for what is inferred)::

        min_{L, E}  ½‖A(L + E) − y‖²  +  (β/2)‖E‖²_F
                    + λ_s Σ‖∇_xy L‖₂ + λ_t ‖∇_t L‖₁                 (double TV)
                    + μ_1 ‖C_t(L)‖_* + μ_2 ‖C_x(L)‖_*               (double nuclear norm)

    with ``A`` the multi-coil undersampled Fourier model, ``C_t(L)`` the
    Casorati matrix (T × YX, the "xy | t" unfolding) and ``C_x(L)`` the
    X × (T·Y) unfolding of the x-y-t array.  The reconstruction is ``L``; the
    explicit error ``E`` absorbs the part of the image-domain residual that
    the priors reject (noise and interference after undersampling and DFT),
    at a quadratic cost β.  Weights: ``λ_s = lam_tv``, ``λ_t = lam_tt``
    (fractions of the zero-filled peak), ``μ_1 = lam_nuc`` and
    ``μ_2 = lam_nuc2`` (fractions of σ_max of the corresponding unfolding of
    the zero-filled series), ``β = beta``.  For a static image (T = 1) the
    temporal TV and the Casorati term are dropped.

    Solved, as the paper says, by a first-order primal–dual algorithm on the
    saddle-point form (Chambolle–Pock, block-preconditioned): the primal
    variable is the stacked ``[L; E]`` (prox of ``β/2‖E‖²`` is a scaling), the
    data term and the four regularisers are dualised (their conjugate proxes
    are a closed-form update, ℓ∞-ball projections and singular-value clipping).

    What is inferred (the paper's body could not be obtained; only its
    abstract): (1) the error penalty is the squared Frobenius norm; (2) the
    output is the low-rank/TV part ``L`` (not ``L + E``); (3) the two
    unfoldings are the Casorati ``xy | t`` and the ``x | yt`` ones; (4) spatial
    TV is isotropic and temporal TV anisotropic with Neumann boundaries;
    (5) the weights and their scaling with the data; (6) the primal–dual
    variant (Chambolle–Pock with block-diagonal step preconditioning).

    References
    ----------
    J. Tan, C. Qing, X. Xu, "Robust Depth Linear Error Decomposition with
    Double Total Variation and Nuclear Norm for Dynamic MRI Reconstruction",
    arXiv:2310.14934, 2023.
    """
    o = OPTIONS.of(cfg, "rdledm")
    x0 = E.H(y)
    shape = E.in_shape
    stacked = (2,) + shape
    terms = [(SquaredL2(1.0, y), Compose(E, AxisSum(stacked, axis=0)))]
    terms += [on_block(t, stacked, 0) for t in _tv_pair(shape, o)]
    if shape[0] > 1 and o.lam_nuc > 0:
        terms.append(on_block(nuclear_term(shape, o.lam_nuc * params.casorati_smax(x0, 0), axis=0), stacked, 0))
    if o.lam_nuc2 > 0:
        terms.append(on_block(nuclear_term(shape, o.lam_nuc2 * params.casorati_smax(x0, 2), axis=2), stacked, 0))
    f = BlockSeparable([Zero(), SquaredL2(o.beta)], axis=-4)
    z0 = torch.stack([x0, torch.zeros_like(x0)], dim=-4)
    problem = PrimalDual(f, terms)
    res = solve(PDHG(precondition=True, ratio=params.PDHG_RATIO), problem, x0=z0, stop=_stop(o),
                callbacks=callbacks, check_every=o.check_every)
    L, Err = res.x.select(-4, 0), res.x.select(-4, 1)
    return L, res.iterations, _info(res, problem, z0, error=Err)


METHODS = {
    "rdledm": (rdledm, "RDLEDM: low rank + image-domain error, double TV, double nuclear norm, primal-dual "
                       "(Tan, Qing, Xu 2023; objective inferred from the abstract)"),
    "ls": (ls, "low rank + sparse in temporal Fourier (Otazo et al. 2015)"),
    "kt-slr": (kt_slr, "k-t SLR: Schatten-p/nuclear norm of the Casorati matrix + TV, penalty splitting with "
                       "continuation (Lingala et al. 2011)"),
    "llr": (llr, "locally low rank: block Casorati nuclear norms with random block shifts, FISTA "
                 "(Trzasko & Manduca 2011; Zhang et al. 2015; BART's pics -R L)"),
    "llr-tv": (llr_tv, "locally low rank + spatial and temporal total variation, primal-dual"),
    "tv": (tv, "spatial (isotropic) + temporal total variation, primal-dual"),
    "wavelet": (wavelet, "l1 of orthonormal 2-D wavelet detail coefficients, FISTA (Lustig et al. 2007)"),
    "cg-sense": (cg_sense, "CG-SENSE: conjugate gradient on the SENSE normal equations"),
    "zero-filled": (zero_filled, "zero-filled inverse FFT with coil combination (baseline)"),
}



#: The default ``method="auto"``: the method chosen for each input by its number of frames T.  Measured
#: (brain16 16-coil real k-space, T = 1, acceleration 4, ESPIRiT maps, default weights; PSNR / SSIM):
#: tv 30.96 dB / 0.917 in 1.2 s, rdledm 30.84 / 0.915, wavelet 30.40 / 0.926 in 3.9 s, cg-sense 29.28 / 0.896,
#: zero-filled 23.24 / 0.738.  ls and kt-slr model a time series and refuse T = 1.
#: Dynamic: llr-tv (default weights, no per-case tuning) wins 10 of the 12 known-map 8-frame cases of the
#: extended benchmark (benchmarks/mri/results_v2.md: rat cine / PINCAT, 96 x 96, vd-lines / vd-points / radial,
#: R 4 and 8, 50 iterations), e.g. rat radial R 8: llr-tv 38.83 dB, tv 38.25, llr 36.96 (each tuned), best BART
#: 36.60; PINCAT radial R 8: llr-tv 35.71, tv 34.11, BART 32.93.  tv is ahead on PINCAT vd-lines R 8 (27.92 vs
#: 27.62) and rat vd-points R 4 (41.47 vs 41.36), and with ESPIRiT maps (rat vd-lines R 8: 33.03 vs 32.13, where
#: llr-tv at twice its default weights reaches 33.39).  On 40 frames (PINCAT radial R 8; block 8) llr-tv 41.78,
#: llr 40.99, tv 39.08, best BART 40.99.  The built-in default simulation (piecewise-constant phantom) favours
#: tv: 44.90 vs llr-tv 44.43 dB (both as shipped, 100 iterations).  As shipped (up to 100 iterations, tol 1e-4) against
#: BART tuned at 50 and 100 iterations, llr-tv leads by >= 1 dB on 8 of the 15 dynamic cases and trails by
#: at most 0.16 dB on 3 (rat / PINCAT at R 4, BART's LLR + TV by ADMM at 100 iterations).
#: (AUTO itself is declared in options.py, with the option that selects it.)


def resolve(method: str, frames: int) -> str:
    """The method that runs for ``method`` on an input of ``frames`` frames (``auto``: see :data:`AUTO`)."""
    if method != "auto":
        return method
    return AUTO["dynamic"] if frames >= 2 else AUTO["static"]


def auto(E, y, cfg, *, callbacks=()):
    """The default: ``llr-tv`` for a dynamic series (T ≥ 2), ``tv`` for a static image (T = 1) (:data:`AUTO`).

    The chosen method is reported in ``info["method"]`` (and so in the output's provenance).
    """
    chosen = resolve("auto", E.in_shape[0])
    sub = dataclasses.replace(cfg, method=chosen)
    for cb in callbacks:   # a progress bar sized for the dynamic default learns the chosen method's bound
        if hasattr(cb, "set_total"):
            cb.set_total(OPTIONS.of(sub, chosen).max_iter)
    x, iters, info = METHODS[chosen][0](E, y, sub, callbacks=callbacks)
    return x, iters, {**info, "method": chosen}


METHODS = {"auto": (auto, f"the default: {AUTO['dynamic']} for a dynamic series (T >= 2), {AUTO['static']} for "
                          f"a static image (T = 1); the method run is recorded in the provenance"), **METHODS}

# --- rim: learned recurrent inference machine (code in rim.py; `sensekit train mri-recon` trains it) ---
from .rim import rim  # noqa: E402

METHODS["rim"] = (rim, "recurrent inference machine (Lønning et al. 2019), learned; shipped model or rim_model")
# --- end rim ---

assert set(METHODS) == set(OPTIONS.selector.metadata["choices"]), "every method declares its options (options.py)"
