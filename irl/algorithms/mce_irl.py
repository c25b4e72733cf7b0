"""Maximum causal entropy IRL (Ziebart 2010) on tabular MDPs: a fast sparse solver or imitation's.

The reward is state-only, r(s) = f(features[s]), as in imitation. `solver="fast"` (the default)
fits linear and tabular rewards with irl.algorithms.fast_mce (sparse O(H * nnz) passes and
L-BFGS on the convex objective; same answer as imitation's to tolerance); the mlp reward model,
and `solver="imitation"`, use imitation's MCEIRL, whose cost is its dense O(H * S^2 * A)
occupancy computation (torch work is tiny: an (S, F) product per iteration).
Callers running many jobs in parallel should call torch.set_num_threads(1) once per worker
process; this function does not change global torch settings.
"""

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal, cast

import numpy as np

from irl.algorithms.base import InferenceResult, ProgressCallback
from irl.algorithms.fast_mce import (
    FastMceResult,
    MceObjective,
    SparseDynamics,
    StartDecomposition,
    fit_by_broyden,
    fit_fast_mce,
)
from irl.environments.tabular import GymnasiumEnvSpec, TabularMDP
from irl.errors import InvalidInputError
from irl.io.fields import ProblemList, as_float, as_int, as_mapping, check_keys, describe
from irl.io.trajectories import check_tabular
from irl.rewards import LinearReward, TabularReward
from irl.trajectories import TrajectorySet

RewardModel = Literal["linear", "tabular", "mlp"]
REWARD_MODELS: tuple[str, ...] = ("linear", "tabular", "mlp")
Solver = Literal["fast", "imitation"]
SOLVERS: tuple[str, ...] = ("fast", "imitation")
DEFAULT_SOLVER: Solver = "fast"
BootstrapRefit = Literal["newton", "converged", "one_step"]
BOOTSTRAP_REFITS: tuple[str, ...] = ("newton", "converged", "one_step")
DEFAULT_BOOTSTRAP_REFIT: BootstrapRefit = "newton"
NEWTON_REFIT_TOLERANCE = 0.05
"""A `newton` bootstrap refit stops once the resample's update is this fraction of its size at
the full-data fit: the refit then sits within about 5% of its move from the fit (the update is
close to linear there), far inside the bootstrap's own Monte Carlo spread."""
DEFAULT_MAX_ITER = 2000
DEFAULT_LEARNING_RATE = 0.1
DEFAULT_LINF_EPS = 1e-3
DEFAULT_GRAD_L2_EPS = 1e-3
DEFAULT_L2_PENALTY = 0.01
MAX_ITER_LIMIT = 100_000
MAX_DENSE_TRANSITION_ENTRIES = 200_000_000
MAX_BROYDEN_PARAMETERS = 64
"""Bootstrap refits with at most this many reward parameters share a measured Jacobian."""


@dataclass(frozen=True)
class MceIrlParams:
    """Optimisation settings of mce_irl (the API's `params` for algorithm `mce_irl`)."""

    max_iter: int = DEFAULT_MAX_ITER
    learning_rate: float = DEFAULT_LEARNING_RATE
    """Adam step size; rewards move by about this much per iteration."""
    linf_eps: float = DEFAULT_LINF_EPS
    """Stop when max_s |model - demo| discounted visit count falls below this."""
    grad_l2_eps: float = DEFAULT_GRAD_L2_EPS
    """Stop when the gradient (feature-expectation mismatch plus penalty) norm falls below this."""
    l2_penalty: float = DEFAULT_L2_PENALTY
    """Gaussian prior on linear/tabular reward parameters, per demonstration: adds
    l2_penalty * theta to the gradient, so weights of features the demonstrations never reach stay
    finite. Not applied to the mlp (weight decay there only slows convergence)."""
    solver: Solver = DEFAULT_SOLVER
    """`fast` (sparse passes and L-BFGS; linear and tabular rewards, the mlp falls back to
    imitation) or `imitation` (imitation's MCEIRL with Adam, the reference). learning_rate
    applies to imitation only. With discount < 1 they differ: imitation trains an undiscounted
    policy (see irl.algorithms.fast_mce)."""
    bootstrap_refit: BootstrapRefit = DEFAULT_BOOTSTRAP_REFIT
    """How the report's bootstrap refits a linear reward on each resample (fast solver), from
    the full-data fit: `newton` (default), a Newton step then Broyden steps until the
    resample's update has shrunk to NEWTON_REFIT_TOLERANCE of its start (2-5 objective
    evaluations on 10^3-10^4-state gridworlds); `converged`, to this fit's own stopping rule
    (3-7 there); `one_step`,
    the Newton step alone (no evaluation; first-order equal to a converged refit).
    Tabular rewards always converge (warm L-BFGS)."""


def _as_solver(value: Any, loc: str) -> Solver:
    """One of SOLVERS."""
    return cast(Solver, _one_of(value, loc, SOLVERS))


def _as_bootstrap_refit(value: Any, loc: str) -> BootstrapRefit:
    """One of BOOTSTRAP_REFITS."""
    return cast(BootstrapRefit, _one_of(value, loc, BOOTSTRAP_REFITS))


def _one_of(value: Any, loc: str, choices: tuple[str, ...]) -> str:
    """value, if it is one of the strings `choices`."""
    if isinstance(value, str) and value in choices:
        return value
    shown = repr(value) if isinstance(value, str) else describe(value)
    raise InvalidInputError.at(loc, f"expected one of {', '.join(choices)}, got {shown[:40]}")


_PARAM_PARSERS: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "max_iter": (as_int, {"minimum": 1, "maximum": MAX_ITER_LIMIT}),
    "learning_rate": (as_float, {"minimum": 0.0, "maximum": 10.0, "exclusive_minimum": True}),
    "linf_eps": (as_float, {"minimum": 0.0}),
    "grad_l2_eps": (as_float, {"minimum": 0.0}),
    "l2_penalty": (as_float, {"minimum": 0.0, "maximum": 100.0}),
    "solver": (_as_solver, {}),
    "bootstrap_refit": (_as_bootstrap_refit, {}),
}


def validate_params(params: Any, *, loc: str = "params") -> MceIrlParams:
    """Typed MCE IRL settings from an API params object; unknown keys and bad values refused."""
    spec = as_mapping(params, loc)
    problems = ProblemList()
    problems.attempt(check_keys, spec, loc, required=(), optional=_PARAM_PARSERS)
    defaults = MceIrlParams()
    values: dict[str, Any] = {
        name: problems.attempt(
            parse, spec.get(name, getattr(defaults, name)), f"{loc}.{name}", **bounds
        )
        for name, (parse, bounds) in _PARAM_PARSERS.items()
    }
    problems.raise_if_any()
    return MceIrlParams(**values)


def check_mce_irl_fit(mdp: TabularMDP, ts: TrajectorySet, *, loc: str = "trajectories") -> None:
    """Refuse trajectories MCE IRL cannot use: each must last the horizon or end, terminal, in an
    absorbing state (it is then padded by staying there)."""
    last = ts.last_obs()
    absorbing = mdp.is_absorbing()[last]
    short = ts.lengths < mdp.horizon
    problems = ProblemList()
    for i in np.flatnonzero(ts.lengths > mdp.horizon)[:5]:
        problems.add(
            f"{loc}[{i}].acts",
            f"length {ts.lengths[i]} exceeds the environment horizon {mdp.horizon}",
        )
    for i in np.flatnonzero(short & ~ts.terminal)[:5]:
        problems.add(
            f"{loc}[{i}].acts",
            f"length {ts.lengths[i]} is shorter than the horizon "
            f"{mdp.horizon} and the trajectory is not terminal; MCE IRL needs "
            "full-horizon trajectories or terminal ends in absorbing states",
        )
    for i in np.flatnonzero(short & ts.terminal & ~absorbing)[:5]:
        problems.add(
            f"{loc}[{i}].obs",
            f"ends at step {ts.lengths[i]}, before the horizon "
            f"{mdp.horizon}, in state {last[i]}, which is not absorbing (some action "
            "leaves it)",
        )
    problems.raise_if_any()


def demo_occupancy(mdp: TabularMDP, ts: TrajectorySet) -> np.ndarray:
    """(S,) float64 mean discounted visit counts over t = 0..H, early ends padded by staying.

    This is imitation's occupancy for full-horizon trajectories (all len(acts) + 1 observations).
    """
    powers = mdp.discount ** np.arange(mdp.horizon + 1, dtype=np.float64)
    obs_time = np.arange(len(ts.obs)) - np.repeat(ts.obs_starts, ts.lengths + 1)
    counts = np.bincount(
        ts.obs, weights=powers[np.minimum(obs_time, mdp.horizon)], minlength=mdp.n_states
    )
    cumulative = np.concatenate([[0.0], np.cumsum(powers)])
    padding = cumulative[-1] - cumulative[np.minimum(ts.lengths + 1, mdp.horizon + 1)]
    counts += np.bincount(ts.last_obs(), weights=padding, minlength=mdp.n_states)
    return counts / ts.n_trajectories


def empirical_initial_dist(mdp: TabularMDP, ts: TrajectorySet) -> np.ndarray:
    """(S,) float64 distribution of the demonstrations' first states.

    MCE IRL's gradient is that of the demonstrations' log-likelihood only when the model starts
    where the demonstrations started; the environment's initial distribution would add sampling
    noise (and can make the maximum-likelihood reward infinite).
    """
    counts = np.bincount(ts.obs[ts.obs_starts], minlength=mdp.n_states).astype(np.float64)
    return counts / counts.sum()


def final_occupancy(mdp: TabularMDP, ts: TrajectorySet) -> np.ndarray:
    """(S,) float64 the t = H row of demo_occupancy: gamma^H times the final-state distribution."""
    counts = np.bincount(ts.last_obs(), minlength=mdp.n_states).astype(np.float64)
    return counts * mdp.discount**mdp.horizon / ts.n_trajectories


def mce_irl(
    *,
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    reward_model: RewardModel,
    rng: np.random.Generator,
    max_iter: int = DEFAULT_MAX_ITER,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    linf_eps: float = DEFAULT_LINF_EPS,
    grad_l2_eps: float = DEFAULT_GRAD_L2_EPS,
    l2_penalty: float = DEFAULT_L2_PENALTY,
    solver: Solver = DEFAULT_SOLVER,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> InferenceResult:
    """Infer a state reward whose soft-optimal behaviour matches the demonstrations' occupancy.

    The fast solver reports progress after every L-BFGS iteration, imitation's after every
    CHUNK_ITERATIONS Adam steps; both check should_stop() between them (raising Cancelled) and
    are deterministic given rng's state (the fast solver does not use it).
    """
    params = validate_params(
        {
            "max_iter": max_iter,
            "learning_rate": learning_rate,
            "linf_eps": linf_eps,
            "grad_l2_eps": grad_l2_eps,
            "l2_penalty": l2_penalty,
            "solver": solver,
        }
    )
    _check_inputs(mdp, trajectories, reward_model)
    return _solve(mdp, trajectories, reward_model, params, rng, progress, should_stop)


def _solve(
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    reward_model: RewardModel,
    params: MceIrlParams,
    rng: np.random.Generator,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> InferenceResult:
    """mce_irl on inputs already checked (the fast solver, or imitation's)."""
    if params.solver == "fast" and reward_model != "mlp":
        return _fast_mce_irl(mdp, trajectories, reward_model, params, progress, should_stop)
    _check_dense_size(mdp)
    from irl.algorithms.mce_imitation import imitation_mce_irl  # torch only when it is used

    return imitation_mce_irl(mdp, trajectories, reward_model, rng, params, progress, should_stop)


@dataclass(frozen=True)
class MceIrl:
    """Maximum causal entropy IRL as a registered algorithm (irl.algorithms.registry)."""

    name: str = "mce_irl"
    description: str = (
        "Maximum causal entropy IRL for tabular environments: a linear, tabular or mlp state "
        "reward whose soft-optimal behaviour matches the demonstrations' visits."
    )
    environment_kind: Literal["tabular"] = "tabular"
    reward_models: tuple[str, ...] = ("linear", "tabular", "mlp")

    def validate_params(self, params: Any, *, loc: str) -> dict[str, Any]:
        """The settings with defaults filled in."""
        return asdict(validate_params(params, loc=loc))

    def fit(
        self,
        *,
        environment: TabularMDP | GymnasiumEnvSpec,
        trajectories: TrajectorySet,
        reward_model: str,
        params: Mapping[str, Any],
        rng: np.random.Generator,
        progress: ProgressCallback | None,
        should_stop: Callable[[], bool] | None,
    ) -> InferenceResult:
        """Fit trajectories that were checked against the MDP when they were stored."""
        assert isinstance(environment, TabularMDP) and reward_model in self.reward_models
        settings = validate_params(params, loc="params")
        model = cast(RewardModel, reward_model)
        return _solve(environment, trajectories, model, settings, rng, progress, should_stop)


MCE_IRL = MceIrl()


def mce_objective(
    mdp: TabularMDP,
    ts: TrajectorySet,
    *,
    reward_model: RewardModel,
    l2_penalty: float,
    dynamics: SparseDynamics | None = None,
) -> MceObjective:
    """The fast solver's objective for a linear or tabular reward model (no bias: it cancels).

    `dynamics`: the MDP's SparseDynamics laid out once (refits reuse it; only the start
    distribution, which depends on the trajectories, is replaced)."""
    demo = demo_occupancy(mdp, ts)
    final = final_occupancy(mdp, ts)
    start = empirical_initial_dist(mdp, ts)
    if dynamics is None:
        dynamics = SparseDynamics.of(
            mdp.transitions,
            n_actions=mdp.n_actions,
            horizon=mdp.horizon,
            discount=mdp.discount,
            initial_dist=start,
        )
    else:
        dynamics = replace(dynamics, initial_dist=start)
    return MceObjective(
        dynamics=dynamics,
        features=None if reward_model == "tabular" else np.asarray(mdp.features, np.float64),
        demo_visits=demo - final,
        demo_final=final,
        l2_penalty=l2_penalty,
    )


def _fast_mce_irl(
    mdp: TabularMDP,
    ts: TrajectorySet,
    reward_model: str,
    params: MceIrlParams,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> InferenceResult:
    """MCE IRL with the sparse L-BFGS solver (linear or tabular reward models)."""
    model: RewardModel = "tabular" if reward_model == "tabular" else "linear"
    fit = fit_fast_mce(
        objective=mce_objective(mdp, ts, reward_model=model, l2_penalty=params.l2_penalty),
        max_iter=params.max_iter,
        linf_eps=params.linf_eps,
        grad_l2_eps=params.grad_l2_eps,
        progress=progress,
        should_stop=should_stop,
    )
    reward: TabularReward | LinearReward = (
        TabularReward(fit.theta)
        if model == "tabular"
        else LinearReward(weights=dict(zip(mdp.feature_names, fit.theta.tolist(), strict=True)))
    )
    return InferenceResult(
        reward=reward, curve=fit.curve, n_iterations=fit.n_iterations, converged=fit.converged
    )


def _check_inputs(mdp: TabularMDP, ts: TrajectorySet, reward_model: str) -> None:
    """Refuse a reward model or trajectories MCE IRL cannot work with."""
    if reward_model not in REWARD_MODELS:
        raise InvalidInputError.at(
            "reward_model", f"expected one of {', '.join(REWARD_MODELS)}, got {reward_model!r}"
        )
    check_tabular(ts, mdp)
    check_mce_irl_fit(mdp, ts)


def _check_dense_size(mdp: TabularMDP) -> None:
    """Refuse environments whose dense S x A x S transitions imitation's solver cannot afford."""
    dense_entries = mdp.n_states * mdp.n_states * mdp.n_actions
    if dense_entries > MAX_DENSE_TRANSITION_ENTRIES:
        raise InvalidInputError.at(
            "environment",
            f"too large for MCE IRL: dense transitions need {dense_entries} "
            f"entries (S^2 * A), above the limit {MAX_DENSE_TRANSITION_ENTRIES} of "
            "imitation's solver (solver `imitation` or the mlp reward model); solver `fast` "
            "fits linear and tabular rewards without them",
        )


def warm_refit(
    mdp: TabularMDP,
    *,
    reward_model: str,
    params: Mapping[str, Any],
    fitted: TabularReward | LinearReward,
    record: list[int] | None = None,
) -> Callable[[TrajectorySet], TabularReward | LinearReward]:
    """The bootstrap's refit for the fast solver: each resample is fitted starting from the
    full-data fit's parameters, reusing the dynamics' layout; only the occupancies and start
    distribution of the resample are recomputed.

    With at most MAX_BROYDEN_PARAMETERS parameters (linear rewards), the update and its
    Jacobian at the fit are decomposed once by start state (StartDecomposition: 2(F + 1)
    backward passes); a resample's are then exact sums over its start states, its first
    Newton step costs no pass, and Broyden steps follow. params.bootstrap_refit chooses where
    they stop: `newton` (default) once the resample's update is NEWTON_REFIT_TOLERANCE of its
    start (2-5 evaluations per refit on 10^3-10^4-state gridworlds), `converged` at the fit's own
    stopping rule, i.e. a cold mce_irl fit's fixed point (the objective is convex for t < H;
    3-7 evaluations, against ~20 for a cold fit), `one_step` after the Newton step, which
    costs no pass (docs/metrics.md, "Bootstrap refits"). Tabular rewards: L-BFGS from the fit,
    to the fit's stopping rule.
    `record`, when given, gets each refit's iteration count appended (0 for a one-step fit).
    """
    settings = validate_params(params, loc="params")
    model: RewardModel = "tabular" if reward_model == "tabular" else "linear"
    if reward_model not in ("linear", "tabular"):
        raise InvalidInputError.at("reward_model", "warm refits need a linear or tabular model")
    if isinstance(fitted, LinearReward):
        theta = np.array([fitted.weights.get(name, 0.0) for name in mdp.feature_names])
    else:
        theta = np.asarray(fitted.values, dtype=np.float64).reshape(mdp.n_states, -1)[:, 0]
    dynamics = SparseDynamics.of(
        mdp.transitions,
        n_actions=mdp.n_actions,
        horizon=mdp.horizon,
        discount=mdp.discount,
        initial_dist=mdp.initial_state_dist,
    )

    decomposition: list[StartDecomposition] = []
    features = np.asarray(mdp.features, dtype=np.float64)

    def refit(trajectories: TrajectorySet) -> TabularReward | LinearReward:
        objective = mce_objective(
            mdp,
            trajectories,
            reward_model=model,
            l2_penalty=settings.l2_penalty,
            dynamics=dynamics,
        )
        if model == "tabular" or objective.n_parameters > MAX_BROYDEN_PARAMETERS:
            fit = fit_fast_mce(
                objective=objective,
                max_iter=settings.max_iter,
                linf_eps=settings.linf_eps,
                grad_l2_eps=settings.grad_l2_eps,
                initial_theta=theta,
            )
        else:
            if not decomposition:
                decomposition.append(
                    StartDecomposition.at(dynamics, features, theta, l2_penalty=settings.l2_penalty)
                )
            fit = _newton_then_broyden(
                objective,
                decomposition[0],
                mdp,
                trajectories,
                settings,
                refit=settings.bootstrap_refit,
            )
        if record is not None:
            record.append(fit.n_iterations)
        if model == "tabular":
            return TabularReward(fit.theta)
        return LinearReward(weights=dict(zip(mdp.feature_names, fit.theta.tolist(), strict=True)))

    return refit


def _newton_then_broyden(
    objective: MceObjective,
    decomposition: StartDecomposition,
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    settings: MceIrlParams,
    *,
    refit: BootstrapRefit,
) -> FastMceResult:
    """A resample's fit: Broyden's method from the full-data fit, where the resample's update
    and Jacobian are known from the decomposition (the first step costs no pass), stopped as
    `refit` says (MceIrlParams.bootstrap_refit)."""
    features = objective.features
    assert features is not None
    demo_counts = features.T @ demo_occupancy(mdp, trajectories)
    start_dist = objective.dynamics.initial_dist
    update, jacobian = decomposition.update_and_jacobian(start_dist, demo_counts)
    if refit == "one_step":
        theta = decomposition.theta - np.linalg.solve(jacobian, update)
        return FastMceResult(theta, (), 0, converged=False)
    return fit_by_broyden(
        objective=objective,
        theta=decomposition.theta,
        update=update,
        jacobian=jacobian,
        max_iter=settings.max_iter,
        linf_eps=settings.linf_eps,
        grad_l2_eps=settings.grad_l2_eps,
        relative_eps=NEWTON_REFIT_TOLERANCE if refit == "newton" else 0.0,
    )
