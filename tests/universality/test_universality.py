"""Unit tests of reference.construct_universal: exactness, resources, backends, bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import reference.constructions.lookup as construction
from reference import Construction, construct_universal, prompt_forward
from reference.constructions.construction import BandWarning
from reference.constructions.limits import check_sizes
from reference.constructions.sizes import precision_needed
from verify.claims.universality import bounds as ub
from verify.claims.universality.checks import grid_deviation, quantized_target
from verify.claims.universality.targets import make_clipped_affine, make_sawtooth, tight_sawtooth

# (d, L, lipschitz, eps): every d·L <= 4 in float64
FLOAT64_CASES = [
    (1, 1, 1.0, 2.0**-5),
    (1, 2, 1.0, 2.0**-3),
    (1, 3, 0.5, 2.0**-2),
    (1, 4, 0.25, 2.0**-3),
    (2, 1, 1.0, 2.0**-3),
    (2, 2, 0.5, 2.0**-2),
    (3, 1, 0.5, 2.0**-2),
    (4, 1, 0.25, 2.0**-3),
]


def _target(d: int, L: int, lipschitz: float, seed: int = 0):
    return make_clipped_affine(d, L, np.random.default_rng(seed), lipschitz)


@pytest.mark.parametrize(("d", "L", "lipschitz", "eps"), FLOAT64_CASES)
def test_float64_decodes_every_grid_sequence_exactly(d, L, lipschitz, eps):
    f = _target(d, L, lipschitz)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps)
    dev = grid_deviation(c, f)
    assert dev.size == c.K ** (d * L)
    assert dev.max() == 0.0


@pytest.mark.parametrize(("d", "L", "lipschitz", "eps"), FLOAT64_CASES[:5])
def test_error_within_bound_on_random_off_band_inputs(d, L, lipschitz, eps):
    f = _target(d, L, lipschitz, seed=1)
    c = construct_universal(f, d=d, L=L, lipschitz=f.lipschitz, eps=eps)
    xs = np.random.default_rng(2).random((64, L, d))  # (B, L, d)
    keep = c.off_band(xs)
    out = prompt_forward(c.model, c.prompt, xs[keep])  # the ordinary evaluation path
    err = np.abs(out - np.stack([f(x) for x in xs[keep]])).max()
    assert keep.sum() > 32
    assert err <= ub.error_bound_fn(f.lipschitz, c.K, c.Q) <= eps


def test_forward_is_prompt_forward():
    f = _target(1, 2, 1.0)
    c = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=0.25)
    xs = np.random.default_rng(0).random((5, 2, 1))
    assert np.array_equal(c.forward(xs, on_band="ignore"), prompt_forward(c.model, c.prompt, xs))


def _model_arrays(c: Construction) -> list[np.ndarray]:
    m = c.model
    out = [m.embed, m.readout, m.positional, m.attn.w_q, m.attn.w_k, m.attn.w_v, m.attn.w_o]
    for layer in (*m.ffn_in, *m.ffn_out):
        out += [layer.w1, layer.b1, layer.w2, layer.b2]
    return out


def test_model_does_not_depend_on_the_target():
    rng = np.random.default_rng(3)
    f1, f2 = make_clipped_affine(1, 2, rng, 0.5), make_sawtooth(1, 2, rng, 0.5)
    c1 = construct_universal(f1, d=1, L=2, lipschitz=0.5, eps=0.125)
    c2 = construct_universal(f2, d=1, L=2, lipschitz=0.5, eps=0.125)
    assert all(
        np.array_equal(a, b) for a, b in zip(_model_arrays(c1), _model_arrays(c2), strict=True)
    )
    assert c1.model.attn.scale == c2.model.attn.scale == 1.0
    assert not np.array_equal(c1.prompt, c2.prompt)


@pytest.mark.parametrize(("d", "L", "lipschitz", "eps"), FLOAT64_CASES)
def test_resources_equal_the_sympy_expressions(d, L, lipschitz, eps):
    c = construct_universal(_target(d, L, lipschitz), d=d, L=L, lipschitz=lipschitz, eps=eps)
    K, Q = c.K, c.Q
    assert K == ub.cells_per_axis_fn(eps, lipschitz) and Q == ub.levels_fn(eps)
    assert c.prompt_rows == c.prompt.shape[0] == ub.prompt_rows_fn(d, L, K)
    assert c.contexts == ub.contexts_fn(d, L, K)
    assert c.bits_per_row == ub.bits_per_row_fn(d, L, K, Q)
    assert c.precision_needed == ub.precision_needed_fn(d, L, K, Q, c.band)
    assert c.beta == ub.inverse_temperature_fn(d, L, K, Q)
    assert c.band == ub.band_eta_fn(eps, d, L, K)
    assert c.model.width == ub.model_width_fn(d, L, K, Q)
    assert c.depth_in == len(c.ffn_in_widths) == ub.depth_in
    assert c.depth_out == len(c.ffn_out_widths) == ub.depth_out_fn(d, L, K)
    assert c.ffn_in_widths == (
        ub.ffn_in_ramp_width_fn(d, K),
        ub.ffn_in_clamp_width_fn(d, K),
        ub.ffn_in_feature_width_fn(d, L, K),
    )
    assert sum(c.ffn_in_widths) == ub.ffn_in_units_fn(d, L, K)
    assert sum(c.ffn_out_widths) == ub.ffn_out_units_fn(d, L, K, Q)
    if c.contexts >= 4:  # middle decoder layers A_k, B_k (2 <= k < T)
        assert c.ffn_out_widths[4] == ub.decoder_ramp_layer_width_fn(d, Q)
        assert c.ffn_out_widths[5] == ub.decoder_clamp_layer_width_fn(d, Q)
    weights = [c.model.embed, c.model.readout, c.model.positional, c.model.attn.w_q]
    weights += [c.model.attn.w_k, c.model.attn.w_v, c.model.attn.w_o]
    weights += [w for layer in (*c.model.ffn_in, *c.model.ffn_out) for w in vars(layer).values()]
    assert c.max_weight == max(float(np.abs(w).max()) for w in weights if w.size)  # the built model
    assert ub.max_weight_decoder_fn(d, L, K, Q) <= c.max_weight
    assert c.max_weight <= ub.max_weight_bound_fn(d, L, K, Q, c.band)
    assert c.error_bound == ub.error_bound_fn(lipschitz, K, Q) <= eps


def test_tight_sawtooth_attains_the_bound_exactly():
    K = Q = 8
    f = tight_sawtooth(1, 2, 1.0, K, Q)
    c = construct_universal(f, d=1, L=2, lipschitz=1.0, eps=1 / Q)
    x = np.zeros((2, 1))
    assert c.off_band(x)
    err = np.abs(c.forward(x) - f(x)).max()
    assert err == ub.error_bound_fn(1.0, K, Q)


def test_off_band_and_cells():
    c = construct_universal(_target(1, 1, 1.0), d=1, L=1, lipschitz=1.0, eps=0.25)
    eta = c.band
    xs = np.array([[[0.25 - eta]], [[0.25 - eta / 2]], [[0.0]], [[1.0]], [[1.5]], [[-0.1]]])
    assert c.off_band(xs).tolist() == [True, False, True, True, False, False]
    assert c.cells(np.array([[0.0], [0.3], [1.0]])).ravel().tolist() == [0, 1, 3]
    with pytest.raises(ValueError, match="x: expected shape"):
        c.off_band(np.zeros((2, 2)))


def test_mpmath_backend_larger_case_beyond_float64():
    d, L, K, Q = 1, 5, 2, 16  # d·L = 5, T log2 Q = 64 bits > 53
    f = make_sawtooth(d, L, np.random.default_rng(4), 0.125)
    c = construct_universal(f, d=d, L=L, lipschitz=K / Q, eps=1 / Q, backend="mpmath")
    assert c.precision_needed > 53 and c.precision_bits >= c.precision_needed
    assert c.prompt.dtype == object
    assert grid_deviation(c, f, limit=2).max() == 0.0
    broken = construct_universal(f, d=d, L=L, lipschitz=K / Q, eps=1 / Q, check_precision=False)
    assert grid_deviation(broken, f).max() > 0.0


def test_quantized_oracle_matches_definition():
    x = np.array([[0.0], [0.49], [1.0]])
    out = quantized_target(lambda z: z, x, 2, 4)
    assert out.ravel().tolist() == [0.375, 0.375, 0.875]


# ----------------------------------------------------------------------------- bad input
class _Recorder:
    def __init__(self, value):
        self.calls = 0
        self.value = value

    def __call__(self, x):
        self.calls += 1
        return self.value(x)


def _ok(x):
    return np.full_like(x, 0.5)


@pytest.mark.parametrize(
    ("f", "match"),
    [
        (lambda x: x[:1], r"f: expected f\(X\) of shape"),
        (lambda x: x + 2.0, r"f: expected values in \[0, 1\]"),
        (lambda x: x * np.nan, r"f: expected values in \[0, 1\]"),
        (lambda x: "no", "f: expected f"),
    ],
)
def test_bad_targets_are_rejected(f, match):
    with pytest.raises((ValueError, TypeError), match=match):
        construct_universal(f, d=1, L=2, lipschitz=1.0, eps=0.25)


def test_target_that_goes_out_of_range_later_is_rejected():
    def f(x):
        return np.where(x > 0.5, 1.5, 0.5)

    with pytest.raises(ValueError, match=r"f: expected values in \[0, 1\]"):
        construct_universal(f, d=1, L=1, lipschitz=1.0, eps=0.25)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"lipschitz": 0.0}, ValueError, "lipschitz: expected a finite number > 0"),
        ({"lipschitz": -1.0}, ValueError, "lipschitz"),
        ({"eps": 0.0}, ValueError, r"eps: expected a number in the open interval \(0, 1\)"),
        ({"eps": 1.0}, ValueError, "eps"),
        ({"eps": 1.5}, ValueError, "eps"),
        ({"eps": "0.1"}, TypeError, "eps"),
        ({"d": 0}, ValueError, "d: expected an integer >= 1"),
        ({"L": 1.5}, TypeError, "L: expected an integer"),
        ({"backend": "float32"}, ValueError, "backend: expected one of"),
        ({"decoder": "bogus"}, ValueError, "decoder: expected one of"),
        ({"band": 0.3}, ValueError, "band: expected a power of two"),
        ({"precision_bits": 80}, ValueError, "precision_bits: the float64 backend"),
    ],
)
def test_bad_arguments_are_rejected_before_the_target_is_called(kwargs, exc, match):
    f = _Recorder(_ok)
    args = {"d": 1, "L": 2, "lipschitz": 1.0, "eps": 0.25, **kwargs}
    with pytest.raises(exc, match=match):
        construct_universal(f, **args)
    assert f.calls == 0


def test_non_callable_target():
    with pytest.raises(TypeError, match="f: expected a callable"):
        construct_universal(np.zeros(3), d=1, L=1, lipschitz=1.0, eps=0.5)


def test_lacking_precision_is_refused_before_any_allocation(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("allocated before the precision check")

    monkeypatch.setattr(construction, "lookup_spec", forbidden)
    f = _Recorder(_ok)
    with pytest.raises(ValueError, match="lacks the precision this construction needs"):
        construct_universal(f, d=1, L=2, lipschitz=1.0, eps=2.0**-4)  # 16·4 + 6 = 70 bits
    with pytest.raises(ValueError, match=r"'mpmath' at 60 significand bits lacks"):
        construct_universal(
            f, d=1, L=2, lipschitz=1.0, eps=2.0**-4, backend="mpmath", precision_bits=60
        )
    assert f.calls == 0


def test_too_large_constructions_are_refused_before_any_allocation():
    f = _Recorder(_ok)
    with pytest.raises(ValueError, match="construction too large"):
        construct_universal(f, d=4, L=4, lipschitz=1.0, eps=1e-3, backend="mpmath")
    with pytest.raises(ValueError, match="construction too large"):
        construct_universal(
            f, d=1, L=2, lipschitz=4 * 2.0**-10, eps=2.0**-10, check_precision=False
        )
    assert f.calls == 0


def test_prompt_rows_pass_ffn_in_unchanged_and_inputs_get_integer_ids():
    c = construct_universal(_target(2, 2, 0.5), d=2, L=2, lipschitz=0.5, eps=0.25)
    h = c.prompt  # (Lp, D)
    for layer in c.model.ffn_in:
        h = layer(h)
    assert np.array_equal(h, c.prompt)
    x = np.array([[0.1, 0.9], [0.6, 0.3]])  # cells (0, 1) -> 2, (1, 0) -> 1 with K = 2
    z = c.model.embed_inputs(x)  # (L, D)
    for layer in c.model.ffn_in:
        z = layer(z)
    ids = z @ c.model.attn.w_q  # (L, 3): (u, u², 1)
    assert ids.tolist() == [[2.0, 4.0, 1.0], [5.0, 25.0, 1.0]]


@pytest.mark.parametrize(
    ("d", "L", "lipschitz", "eps"),
    [(1, 1, 1.0, 0.25), (1, 2, 1.0, 0.25), (2, 1, 1.0, 0.25), (1, 3, 0.5, 0.5), (2, 2, 0.5, 0.5)],
)
def test_wide_decoder_is_exact_and_matches_its_formulas(d, L, lipschitz, eps):
    f = _target(d, L, lipschitz, seed=5)
    c = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps, decoder="wide")
    deep = construct_universal(f, d=d, L=L, lipschitz=lipschitz, eps=eps)
    assert grid_deviation(c, f).max() == 0.0
    xs = np.random.default_rng(6).random((32, L, d))
    xs = xs[deep.off_band(xs)]
    assert np.array_equal(c.forward(xs), deep.forward(xs))
    K, Q = c.K, c.Q
    pv_wide = np.flatnonzero(np.abs(c.model.attn.w_v[:, :d]).sum(axis=1))  # (d,)
    pv_deep = np.flatnonzero(np.abs(deep.model.attn.w_v[:, :d]).sum(axis=1))  # (d,)
    assert c.decoder == "wide"
    assert np.array_equal(c.prompt[:, pv_wide], deep.prompt[:, pv_deep])  # same packed tables
    assert c.depth_out == ub.wide_depth_out_fn(d, L, K)
    assert sum(c.ffn_out_widths) == ub.wide_ffn_out_units_fn(d, L, K, Q)
    assert c.ffn_out_widths[0] >= ub.wide_decoder_ramps_fn(d, L, K, Q)
    assert c.model.width == ub.wide_model_width_fn(d, L, K, Q)
    assert c.precision_needed == deep.precision_needed


def test_wide_decoder_refuses_exponential_sizes_before_allocation():
    f = _Recorder(_ok)
    with pytest.raises(ValueError, match="the wide decoder's ramps"):
        construct_universal(f, d=1, L=2, lipschitz=1.0, eps=2.0**-4, decoder="wide")
    assert f.calls == 0


# ----------------------------------------------------------------------------- the band
def test_forward_warns_with_the_band_fraction_raises_on_request():
    c = construct_universal(_target(1, 1, 1.0), d=1, L=1, lipschitz=1.0, eps=0.25)
    eta = c.band
    xs = np.array([[[0.1]], [[0.25]], [[0.6]], [[0.75 - eta / 2]]])  # two of four in the band
    with pytest.warns(BandWarning, match=r"2 of 4 input sequences \(50.00%\)"):
        out = c.forward(xs)
    assert np.array_equal(out, prompt_forward(c.model, c.prompt, xs))
    with pytest.raises(ValueError, match="x: 2 of 4 input sequences"):
        c.forward(xs, on_band="raise")
    with pytest.raises(ValueError, match="on_band: expected one of"):
        c.forward(xs, on_band="loud")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.forward(xs, on_band="ignore")
        c.forward(xs[[0, 2]])  # off the band: no warning
    assert c.off_band(xs).tolist() == [True, False, True, False]


def test_huge_sizes_are_refused_fast_in_logarithms():
    f = _Recorder(_ok)
    for d, L in [(2, 2**62), (1000, 10**6), (10**9, 2)]:  # 2**63 is refused as L > int64
        with pytest.raises(ValueError, match=r"construction too large: prompt rows L·K\^d = 2\^"):
            construct_universal(f, d=d, L=L, lipschitz=1.0, eps=0.25)
    assert f.calls == 0


@pytest.mark.parametrize(
    ("call", "error", "named"),
    [
        (lambda: check_sizes("1", 2, 4, 4), TypeError, "d:"),
        (lambda: check_sizes(1, 0, 4, 4), ValueError, "L:"),
        (lambda: check_sizes(1, 2, 4, 6), ValueError, "Q:"),
        (lambda: check_sizes(1, 2, 4, 4, "tall"), ValueError, "decoder:"),
        (lambda: precision_needed(1, 2, 4, 2.0), TypeError, "Q:"),
        (lambda: precision_needed(10**6, 10**6, 4, 4), ValueError, "d, L, K, Q:"),
    ],
)
def test_sizes_are_validated_by_name(call, error, named) -> None:
    with pytest.raises(error, match=named):
        call()


def test_grid_sizes_refuses_an_overflowing_ratio() -> None:
    from reference.constructions.universality import grid_sizes

    with pytest.raises(ValueError, match="eps, lipschitz"):
        grid_sizes(5e-324, 4.0)
    with pytest.raises(ValueError, match="eps, lipschitz"):
        grid_sizes(5e-324, 5e-324)  # lipschitz / eps = 1, but 1 / eps overflows
    assert grid_sizes(0.1, 1.0) == (16, 16)


def test_numpy_scalar_eps_builds_the_same_construction() -> None:
    plain = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=0.25)
    scalar = construct_universal(lambda x: x, d=1, L=1, lipschitz=1.0, eps=np.float32(0.25))
    assert scalar.band == plain.band and scalar.K == plain.K and scalar.Q == plain.Q
