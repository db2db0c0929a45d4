"""Matrix-free (Lanczos/Krylov) resummation from samples, near-minimum predictions, checkpoints (issue 12)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from _poly_landscape import PolyLandscape  # noqa: E402
from conftest import tiny_torch as _tiny_torch  # noqa: E402

from sgd_diagrams.errors import SgdDiagramsError  # noqa: E402
from sgd_diagrams.estimation.krylov import krylov_resummed_estimate, krylov_resummed_exact  # noqa: E402
from sgd_diagrams.estimation.lanczos import apply_function, lanczos_ritz  # noqa: E402
from sgd_diagrams.schedules.grid import gd, sgd  # noqa: E402
from sgd_diagrams.theory.resummation import resummed_prediction  # noqa: E402

QUANTITIES = ("test-loss", "train-loss", "gen-gap", "displacement")


# -- Lanczos -------------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(dim=st.integers(2, 40), seed=st.integers(0, 10**6), distinct=st.integers(1, 6))
def test_lanczos_full_dimension_is_exact(dim, seed, distinct):
    """k = P Lanczos steps (restarting at invariant subspaces) give H's spectrum and f(H)v exactly."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    lam = rng.choice(rng.uniform(-1, 2, distinct), size=dim)  # few distinct values: early breakdowns
    H = (Q * lam) @ Q.T
    basis = lanczos_ritz(lambda v: H @ v, dim, dim, rng.standard_normal(dim), seed)
    assert np.allclose(basis.vectors.T @ basis.vectors, np.eye(dim), atol=1e-10)
    assert np.allclose(basis.values, np.sort(lam), atol=1e-9)
    v = rng.standard_normal(dim)
    f = lambda x: (1 - 0.3 * x) ** 7  # noqa: E731
    w, U = np.linalg.eigh(H)
    assert np.allclose(apply_function(basis, f, v), U @ (f(w) * (U.T @ v)), atol=1e-9)


def test_lanczos_from_vector_is_exact_on_its_krylov_space():
    """f(H)v is exact with k ≥ the number of distinct eigenvalues v sees (here 4 of 50)."""
    rng = np.random.default_rng(1)
    Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    lam = np.repeat([0.1, 0.5, 1.0, 1.7], [10, 15, 5, 20])
    H = (Q * lam) @ Q.T
    v = rng.standard_normal(50)
    basis = lanczos_ritz(lambda x: H @ x, 50, 4, v)
    f = lambda x: (1 - 0.2 * x) ** 12  # noqa: E731
    assert np.allclose(apply_function(basis, f, v), (Q * f(lam)) @ (Q.T @ v), atol=1e-10)
    with pytest.raises(SgdDiagramsError, match="Krylov dimension"):
        lanczos_ritz(lambda x: H @ x, 50, 0, v)


# -- exact statistics: matrix-free == dense engine ------------------------------------------------------
@pytest.mark.parametrize("dim,cubic", [(30, True), (48, False), (100, True)])
def test_exact_statistics_match_dense_engine(dim, cubic):
    """Random finite landscapes of dim 30–100 (quadratic and not): every quantity to 1e-8, order 2."""
    land = PolyLandscape(dim, 6, dim, cubic=cubic)
    schedule = sgd(6, 2, 2)
    quantities = QUANTITIES if dim < 100 else ("test-loss", "displacement")  # train parts are dim^4 tensors
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for q in quantities:
            dense = resummed_prediction(land, schedule, 2, [0.05, 0.3], q, force=True).value
            free = krylov_resummed_exact(land, schedule, 2, [0.05, 0.3], q, krylov_dim=dim, force=True)
            assert np.max(np.abs(free - dense)) <= 1e-8 * max(1.0, float(np.max(np.abs(dense)))), q


@pytest.mark.slow
def test_exact_statistics_match_dense_engine_order_3():
    land = PolyLandscape(30, 4, 7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        dense = resummed_prediction(land, gd(4, 2), 3, [0.2], "displacement", force=True).value
        free = krylov_resummed_exact(land, gd(4, 2), 3, [0.2], "displacement", krylov_dim=30, force=True)
    assert np.max(np.abs(free - dense)) <= 1e-8


def test_sample_path_krylov_equals_dense_on_the_same_samples():
    """From samples, the Krylov path with k = P reproduces the dense path replication by replication."""
    land = PolyLandscape(30, 8, 3)
    kw = dict(samples=360, replications=3, seed=5, force=True)
    for q in QUANTITIES:
        free = krylov_resummed_estimate(land, sgd(8, 2, 2), 2, [0.1, 0.3], q, krylov_dim=30, basis="krylov", **kw)
        dense = krylov_resummed_estimate(land, sgd(8, 2, 2), 2, [0.1, 0.3], q, basis="dense", **kw)
        assert np.max(np.abs(free.replicas - dense.replicas)) <= 1e-9 * max(1.0, float(np.max(np.abs(dense.replicas))))
        assert free.details["krylov_dim"] == 30 and abs(free.details["captured_gradient_noise"] - 1) < 1e-9


def test_small_krylov_dimension_reports_the_noise_it_keeps():
    land = PolyLandscape(40, 10, 4)
    pred = krylov_resummed_estimate(land, sgd(8, 2, 1), 1, [0.1], "gen-gap", samples=300, replications=3,
                                    krylov_dim=5, force=True)
    assert 0 < pred.details["captured_gradient_noise"] < 1
    with pytest.raises(SgdDiagramsError, match="Krylov dimension|krylov_dim"):
        krylov_resummed_estimate(land, sgd(8, 2, 1), 1, [0.1], samples=300, krylov_dim=0)


@pytest.mark.slow
def test_z_scores_against_exact_resummed_values_are_standard_normal():
    """dim 26 > 24 (the matrix-free path), k = P: pooled z-scores ≈ N(0, 1) over seeds and quantities."""
    z = []
    schedule = sgd(10, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in range(4):
            land = PolyLandscape(26, 10, 100 + seed, noise=0.3)
            for q in ("test-loss", "gen-gap"):
                exact = resummed_prediction(land, schedule, 2, [0.2], q, force=True).value
                est = krylov_resummed_estimate(land, schedule, 2, [0.2], q, samples=4000, replications=8,
                                               seed=seed, krylov_dim=26, force=True)
                z.extend(((est.value - exact) / est.stderr).tolist())
    z = np.asarray(z)
    assert abs(z.mean()) < 3 / np.sqrt(len(z)) + 0.35
    assert 0.5 < z.std() < 1.6
    assert np.max(np.abs(z)) < 4.5


# -- negative curvature ---------------------------------------------------------------------------------
def test_negative_curvature_is_reported_and_excluded_from_the_limit():
    land = PolyLandscape(30, 8, 9, lowest=-0.3, cubic=False)
    assert np.min(np.linalg.eigvalsh(land.mean_derivative(2))) < 0
    with pytest.warns(RuntimeWarning, match="negative curvature.*excluded"):
        pred = krylov_resummed_estimate(land, gd(8, 4), 2, [0.1], "test-loss", samples=600, replications=3,
                                        krylov_dim=30, limit="epochs", force=True)
    assert np.all(np.isfinite(pred.value)) and pred.details["excluded_directions"] >= 1
    assert pred.details["negative_curvature"]["most_negative"] < 0
    with pytest.warns(RuntimeWarning, match="kept"):
        finite_t = krylov_resummed_estimate(land, gd(8, 4), 2, [0.1], "test-loss", samples=600, replications=3,
                                            krylov_dim=30, force=True)
    assert np.all(np.isfinite(finite_t.value))
    concave = PolyLandscape(26, 6, 2, lowest=-1.6, cubic=False, noise=0.0)
    concave._t[2] = -np.abs(concave._t[2]) - 2 * np.eye(26)[None]
    with pytest.raises(SgdDiagramsError, match="positive curvature"):
        krylov_resummed_estimate(concave, gd(8, 4), 1, [0.1], samples=300, replications=3, krylov_dim=10,
                                 limit="epochs", force=True)


def test_limit_from_samples_matches_exact_limit():
    """T → ∞ from samples (k = P) agrees with the exact limit within a few standard errors."""
    from sgd_diagrams.theory.limits import resummed_limit

    land = PolyLandscape(26, 8, 11, lowest=0.3, cubic=False)
    exact, _ = resummed_limit(land, gd(8, 2), 1, [0.2], "gen-gap")
    est = krylov_resummed_estimate(land, gd(8, 2), 1, [0.2], "gen-gap", samples=4000, replications=8,
                                   krylov_dim=26, limit="epochs", force=True)
    assert abs(est.value[0] - exact[0]) < 4 * est.stderr[0] + 1e-3 * abs(exact[0])
    assert est.details["horizon"] > 2


# -- torch landscapes: pretraining, init, matrix-free == dense ------------------------------------------
def test_torch_matrix_free_equals_dense_and_pretraining_records(one_thread):
    import sgd_diagrams as sd

    land = _tiny_torch()  # 39 weights > 24: auto picks the matrix-free path
    near = land.pretrained(40, 0.5)
    p = near.pretraining
    assert p["steps"] == 40 and p["train_loss_after"] < p["train_loss_before"]
    assert p["grad_norm_after"] < p["grad_norm_before"]
    kw = dict(samples=240, replications=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        free = sd.predict(near, sgd(10, 2, 1), 2, [0.05, 0.2], "gen-gap", "resummed", krylov_dim=39, **kw)
        dense = sd.predict(near, sgd(10, 2, 1), 2, [0.05, 0.2], "gen-gap", "resummed", resummation="dense", **kw)
    assert free.details["estimator"] == "matrix-free" and dense.details["estimator"] == "dense"
    assert np.allclose(free.value, dense.value, rtol=1e-7, atol=1e-10)
    assert free.details["pretraining"]["steps"] == 40
    with pytest.raises(SgdDiagramsError, match="parameters"):
        land.with_init(np.zeros(5))
    with pytest.raises(SgdDiagramsError, match="NaN"):
        land.with_init(np.full(land.dim, np.nan))
    with pytest.raises(SgdDiagramsError, match="pretrain"):
        land.pretrained(-1)


# -- checkpoints ----------------------------------------------------------------------------------------
def test_checkpoint_loading_accepts_vectors_and_state_dicts_and_rejects_the_rest(tmp_path):
    import torch

    from sgd_diagrams.landscapes.checkpoints import load_parameter_vector, save_parameter_vector

    land = _tiny_torch()
    theta = np.arange(land.dim, dtype=np.float64) / 100
    save_parameter_vector(tmp_path / "good.npy", theta)
    assert np.array_equal(load_parameter_vector(tmp_path / "good.npy", land), theta)
    torch.save(torch.as_tensor(theta), tmp_path / "flat.pt")
    assert np.allclose(load_parameter_vector(tmp_path / "flat.pt", land), theta)
    torch.save(land.model.state_dict(), tmp_path / "state.pth")
    assert np.allclose(load_parameter_vector(tmp_path / "state.pth", land),
                       torch.cat([p.detach().reshape(-1) for p in land.model.parameters()]).numpy())
    np.save(tmp_path / "short.npy", theta[:3])
    np.save(tmp_path / "nan.npy", np.full(land.dim, np.nan))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "text.npy", np.array(["x"] * land.dim))
    (tmp_path / "garbage.pt").write_bytes(b"not a zip file")
    torch.save({"weight": torch.zeros(2)}, tmp_path / "wrongkeys.pt")
    torch.save([torch.zeros(land.dim)], tmp_path / "list.pt")
    (tmp_path / "weights.txt").write_text("1 2 3")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save(Evil(), tmp_path / "evil.pt")
    for name, match in [("short.npy", "parameters"), ("nan.npy", "NaN"), ("objects.npy", "readable"),
                        ("text.npy", "real numbers"), ("garbage.pt", "weights-only"), ("wrongkeys.pt", "lacks"),
                        ("list.pt", "tensor or a state_dict"), ("weights.txt", ".npy, .pt"),
                        ("evil.pt", "weights-only"), ("missing.npy", "does not exist")]:
        with pytest.raises(SgdDiagramsError, match=match) as err:
            load_parameter_vector(tmp_path / name, land)
        assert "\n" not in str(err.value)


def test_cli_resummed_matrix_free_and_bad_checkpoint(tmp_path, capsys):
    import json

    from sgd_diagrams.cli import main

    rng = np.random.default_rng(3)
    points = []
    for _ in range(4):  # separable cubics: 26 weights, exact tensors from the file's expressions
        terms = [f"{rng.normal():.6f}*t{a} + {rng.uniform(0.05, 1):.6f}*t{a}**2 + {0.1 * rng.normal():.6f}*t{a}**3"
                 for a in range(26)]
        points.append({"prob": 0.25, "loss": " + ".join(terms)})
    path = tmp_path / "land.json"
    path.write_text(json.dumps({"kind": "finite", "dim": 26, "init": [0.0] * 26, "points": points}))
    base = ["predict", "--landscape", str(path), "--schedule", "sgd:N=6,B=2,E=1", "--order", "2", "--eta", "0.1",
            "--resum", "--samples", "300", "--replications", "3", "--json", "--quiet"]
    assert main(base + ["--krylov", "26"]) == 0
    free = json.loads(capsys.readouterr().out)
    assert main(base + ["--resummation", "dense"]) == 0
    dense = json.loads(capsys.readouterr().out)
    assert free["estimator"] == "matrix-free" and free["krylov_dim"] == 26 and dense["estimator"] == "dense"
    assert np.allclose(free["value"], dense["value"], rtol=1e-8)
    capsys.readouterr()
    assert main(base + ["--pretrain", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "neural-network landscape" in err[0]


def test_cli_init_from_rejects_a_malformed_checkpoint_in_one_line(tmp_path, capsys):
    from sgd_diagrams.cli import main

    bad = tmp_path / "w.npy"
    np.save(bad, np.zeros(7))
    code = main(["predict", "--landscape", "logistic-digits", "--init-from", str(bad), "--schedule", "sgd:N=4",
                 "--order", "1", "--eta", "0.1", "--resum", "--samples", "60"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "7 numbers but the model has" in err[0]
