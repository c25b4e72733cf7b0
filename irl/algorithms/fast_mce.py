"""A fast MCE IRL solver for linear and tabular state rewards: sparse passes and L-BFGS.

It fits the same model as imitation's MCEIRL (see irl.algorithms.mce_irl): a state reward
r(s) = features[s] @ theta, the soft-optimal policy of a finite-horizon MDP whose reward counts
at t = 0..H-1, and the fixed point of imitation's update, where the model's discounted occupancy
over t = 0..H (final observation included) matches the demonstrations' up to the l2 penalty:
    features.T @ (D_model - D_demo) + l2_penalty * theta = 0.
For t < H that is the gradient of a convex function of theta, the negative causal
log-likelihood E_start[V_0] - theta . phi_demo (plus the penalty), which L-BFGS minimises with
exact values and gradients. The final row (t = H) is not a gradient; it enters as a fixed linear
tilt, re-evaluated between L-BFGS rounds until the whole update is zero.
Transitions stay sparse (action-major CSR (A*S, S)): one objective evaluation costs O(H * nnz)
time and keeps the (H + 1, S) soft values, never a dense S x A x S array or an (H, S, A) policy.

Deviation from imitation 1.0.1, on purpose: for discount < 1, MCEIRL trains the policy planned
*without* the discount (its _train_step calls mce_occupancy_measures without a policy, which
plans with discount 1) although it returns the discounted one. This solver uses the discounted
soft-optimal policy throughout, the model imitation returns and irl.planning.soft_optimal_policy
computes; the answers coincide for discount 1.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import scipy.sparse

from irl.algorithms.base import Cancelled, Progress, ProgressCallback

MAX_ROUNDS = 50
LBFGS_MEMORY = 20
LBFGS_FTOL = 1e-14
STALE_TILT_RATIO = 0.1


@dataclass(frozen=True, eq=False)
class SparseDynamics:
    """A finite-horizon MDP's dynamics laid out for the soft backward and forward passes.

    Rows are action-major (a * S + s), so per-state reductions over actions run over contiguous
    (A, S) blocks.
    """

    by_action: scipy.sparse.csr_array
    """(A*S, S) float64: row a * S + s holds T(. | s, a)."""
    transposed: scipy.sparse.csr_array
    """(S, A*S) float64: by_action.T in CSR form, for the forward pass."""
    n_actions: int
    horizon: int
    discount: float
    initial_dist: np.ndarray
    """(S,) float64 start-state distribution the likelihood conditions on."""

    @classmethod
    def of(
        cls,
        transitions: scipy.sparse.csr_array,
        *,
        n_actions: int,
        horizon: int,
        discount: float,
        initial_dist: np.ndarray,
    ) -> "SparseDynamics":
        """Dynamics from (S*A, S) state-major transitions (TabularMDP.transitions)."""
        n_states = int(transitions.shape[1])
        order = (np.arange(n_states)[None, :] * n_actions + np.arange(n_actions)[:, None]).ravel()
        by_action = scipy.sparse.csr_array(transitions, dtype=np.float64)[order]
        return cls(
            by_action=by_action,
            transposed=scipy.sparse.csr_array(by_action.T),
            n_actions=n_actions,
            horizon=horizon,
            discount=discount,
            initial_dist=np.asarray(initial_dist, dtype=np.float64),
        )

    @property
    def n_states(self) -> int:
        """Number of states S."""
        return int(self.by_action.shape[1])


def soft_values(dynamics: SparseDynamics, rewards: np.ndarray) -> np.ndarray:
    """(H + 1, S) float64 soft values V_t(s) for a state reward, V_H = 0 (imitation's recursion)."""
    values = np.zeros((dynamics.horizon + 1, dynamics.n_states))
    for t in reversed(range(dynamics.horizon)):
        q = _soft_q(dynamics, rewards, values[t + 1])
        peak = q.max(axis=0)
        q -= peak
        np.exp(q, out=q)
        values[t] = np.log(q.sum(axis=0))
        values[t] += peak
    return values


def soft_policy_at(
    dynamics: SparseDynamics, rewards: np.ndarray, values: np.ndarray, t: int
) -> np.ndarray:
    """(A, S) float64 soft-optimal policy pi_t(a | s) from the soft values (action-major)."""
    q = _soft_q(dynamics, rewards, values[t + 1])
    q -= values[t]
    return np.exp(q, out=q)


def occupancy(
    dynamics: SparseDynamics, rewards: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Discounted visits of the soft-optimal policy, (S,) each: sum_{t<H} g^t D_t and g^H D_H."""
    state = dynamics.initial_dist.copy()
    visits = np.zeros(dynamics.n_states)
    weight = 1.0
    for t in range(dynamics.horizon):
        visits += weight * state
        flow = soft_policy_at(dynamics, rewards, values, t)
        flow *= state
        state = dynamics.transposed @ flow.ravel()
        weight *= dynamics.discount
    return visits, weight * state


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The objective and convergence measures at one parameter vector."""

    theta: np.ndarray = field(hash=False)
    value: float
    """Penalised negative causal log-likelihood of the actions at t < H (convex in theta)."""
    gradient: np.ndarray = field(hash=False)
    """Gradient of value with respect to theta."""
    update: np.ndarray = field(hash=False)
    """imitation's penalised update direction, features.T @ (D_model - D_demo) + l2 * theta."""
    final_mismatch: np.ndarray = field(hash=False)
    """features.T @ (g^H D_H model - demo), the t = H part of the update (the next tilt)."""
    linf_delta: float
    """max_s |D_model(s) - D_demo(s)| over t = 0..H, imitation's occupancy stopping measure."""

    @property
    def grad_norm(self) -> float:
        """L2 norm of imitation's penalised update (0 at the solution)."""
        return float(np.linalg.norm(self.update))


@dataclass(frozen=True, eq=False)
class MceObjective:
    """Negative log-likelihood of the demonstrations under the soft-optimal policy of a reward."""

    dynamics: SparseDynamics
    features: np.ndarray | None
    """(S, F) float64 state features, or None for one-hot states (tabular rewards, F = S)."""
    demo_visits: np.ndarray
    """(S,) float64 demonstrations' discounted visits over t < H."""
    demo_final: np.ndarray
    """(S,) float64 demonstrations' discounted visits at t = H (padded early ends included)."""
    l2_penalty: float

    @property
    def n_parameters(self) -> int:
        """Length of theta."""
        return self.dynamics.n_states if self.features is None else int(self.features.shape[1])

    def rewards(self, theta: np.ndarray) -> np.ndarray:
        """(S,) float64 state rewards features @ theta."""
        return theta.copy() if self.features is None else self.features @ theta

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """Value, gradient and imitation's update at theta."""
        rewards = self.rewards(theta)
        values = soft_values(self.dynamics, rewards)
        visits, final = occupancy(self.dynamics, rewards, values)
        penalty = self.l2_penalty * theta
        gradient = self._project(visits - self.demo_visits) + penalty
        final_mismatch = self._project(final - self.demo_final)
        value = (
            float(self.dynamics.initial_dist @ values[0])
            - float(self.demo_visits @ rewards)
            + 0.5 * self.l2_penalty * float(theta @ theta)
        )
        delta = visits + final - self.demo_visits - self.demo_final
        return Evaluation(
            theta=theta.copy(),
            value=value,
            gradient=gradient,
            update=gradient + final_mismatch,
            final_mismatch=final_mismatch,
            linf_delta=float(np.max(np.abs(delta))),
        )

    def _project(self, state_weights: np.ndarray) -> np.ndarray:
        """features.T @ state_weights, (F,)."""
        return state_weights.copy() if self.features is None else self.features.T @ state_weights


@dataclass(frozen=True, eq=False)
class FastMceResult:
    """Fitted parameters with the optimisation record."""

    theta: np.ndarray = field(hash=False)
    curve: tuple[Mapping[str, float], ...] = field(hash=False)
    n_iterations: int
    converged: bool


class _EndRound(Exception):
    """Internal: an L-BFGS callback ends the round (converged, out of budget, or tilt stale)."""


@dataclass
class _Run:
    """Mutable state of one fit: the cached evaluation, iteration count and curve."""

    objective: MceObjective
    max_iter: int
    linf_eps: float
    grad_l2_eps: float
    progress: ProgressCallback | None
    should_stop: Callable[[], bool] | None
    tilt: np.ndarray
    """(F,) frozen t = H part of the update, added to the convex objective's gradient."""
    last: Evaluation
    iteration: int = 0
    curve: list[Mapping[str, float]] = field(default_factory=list)

    def evaluate(self, theta: np.ndarray) -> Evaluation:
        """The evaluation at theta (cached: the callback asks for the accepted point again)."""
        if not np.array_equal(theta, self.last.theta):
            self.last = self.objective.evaluate(theta)
        return self.last

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """The tilted objective and its gradient, what minimize(jac=True) calls."""
        evaluation = self.evaluate(theta)
        return evaluation.value + float(self.tilt @ theta), evaluation.gradient + self.tilt

    def converged(self) -> bool:
        """imitation's stopping rule on the latest evaluation."""
        return self.last.linf_delta <= self.linf_eps or self.last.grad_norm <= self.grad_l2_eps

    def after_iteration(self, theta: np.ndarray) -> None:
        """L-BFGS callback: record, report, honour should_stop, stop on convergence."""
        self.evaluate(np.asarray(theta, dtype=np.float64))
        self.iteration += 1
        self.record()
        if self.converged() or self.iteration >= self.max_iter:
            raise _EndRound
        if self.should_stop is not None and self.should_stop():
            raise Cancelled(f"stopped after {self.iteration} iterations")
        if self.tilt_is_stale():
            raise _EndRound

    def tilt_is_stale(self) -> bool:
        """Whether the frozen tilt, not the round's own gradient, now dominates the update."""
        tilted = float(np.linalg.norm(self.last.gradient + self.tilt))
        stale = float(np.linalg.norm(self.last.final_mismatch - self.tilt))
        return tilted <= STALE_TILT_RATIO * max(stale, self.grad_l2_eps)

    def record(self) -> None:
        """Append a curve entry for the latest evaluation and report progress."""
        metrics = {"linf_delta": self.last.linf_delta, "grad_norm": self.last.grad_norm}
        self.curve.append({"iteration": float(self.iteration), **metrics})
        if self.progress is not None:
            fraction = 1.0 if self.converged() else self.iteration / self.max_iter
            self.progress(Progress(self.iteration, self.max_iter, min(fraction, 1.0), metrics))


def fit_fast_mce(
    *,
    objective: MceObjective,
    max_iter: int,
    linf_eps: float,
    grad_l2_eps: float,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    initial_theta: np.ndarray | None = None,
) -> FastMceResult:
    """Solve imitation's MCE IRL fixed point from theta = 0 (or `initial_theta`, e.g. the
    full-data fit when refitting a bootstrap resample) with L-BFGS rounds (deterministic).

    Each round minimises the convex objective with the final-row tilt frozen at the current
    theta; progress is reported per L-BFGS iteration, should_stop() checked before the first and
    after every iteration (raising Cancelled), and imitation's stopping rule (linf_delta <=
    linf_eps or grad_norm <= grad_l2_eps) ends the fit as soon as it holds.
    """
    if should_stop is not None and should_stop():
        raise Cancelled("stopped after 0 iterations")
    start = (
        np.zeros(objective.n_parameters)
        if initial_theta is None
        else np.array(initial_theta, dtype=np.float64)
    )
    first = objective.evaluate(start)
    run = _Run(
        objective=objective,
        max_iter=max_iter,
        linf_eps=linf_eps,
        grad_l2_eps=grad_l2_eps,
        progress=progress,
        should_stop=should_stop,
        tilt=first.final_mismatch,
        last=first,
    )
    for _ in range(MAX_ROUNDS):
        if run.converged() or run.iteration >= max_iter:
            break
        before = run.iteration
        _lbfgs_round(run)
        run.tilt = run.last.final_mismatch.copy()
        if run.iteration == before:
            break
    if not run.curve or run.curve[-1]["iteration"] != run.iteration:
        run.record()
    return FastMceResult(
        theta=run.last.theta,
        curve=tuple(run.curve),
        n_iterations=run.iteration,
        converged=run.converged(),
    )


def successor_features(
    dynamics: SparseDynamics, features: np.ndarray, theta: np.ndarray
) -> np.ndarray:
    """(F, S) expected discounted feature counts over t = 0..H of the soft-optimal policy of
    features @ theta from each start state: Psi_t(s) = phi(s) + gamma E[Psi_t+1(S') | s],
    Psi_H = phi (one backward pass with F columns). features.T @ the occupancy of any start
    distribution rho is Psi_0 @ rho: the model part of imitation's update is linear in rho."""
    rewards = features @ theta
    values = soft_values(dynamics, rewards)
    n_actions, n_states = dynamics.n_actions, dynamics.n_states
    counts = np.array(features, dtype=np.float64)
    for t in reversed(range(dynamics.horizon)):
        policy = soft_policy_at(dynamics, rewards, values, t)
        expected = np.asarray(dynamics.by_action @ counts).reshape(n_actions, n_states, -1)
        counts = features + dynamics.discount * np.einsum("as,asf->sf", policy, expected)
    return np.asarray(counts.T)


@dataclass(frozen=True, eq=False)
class StartDecomposition:
    """imitation's update and its Jacobian at one theta as linear functions of the start
    distribution: for trajectories with start distribution rho and feature counts c, the update
    at theta is counts @ rho - c + l2 theta, with no pass over the MDP (the bootstrap's
    resamples differ only in starts and demonstrations)."""

    theta: np.ndarray
    counts: np.ndarray
    """(F, S) model feature counts from each start state at theta (successor_features)."""
    slopes: np.ndarray
    """(F, F, S) their derivative with respect to theta (forward differences)."""
    l2_penalty: float

    @classmethod
    def at(
        cls,
        dynamics: SparseDynamics,
        features: np.ndarray,
        theta: np.ndarray,
        *,
        l2_penalty: float,
        step: float = 1e-5,
    ) -> "StartDecomposition":
        """F + 1 pairs of backward passes (soft values, successor features)."""
        counts = successor_features(dynamics, features, theta)
        slopes = np.empty((len(theta), len(theta), dynamics.n_states))
        for j in range(len(theta)):
            h = step * max(1.0, abs(float(theta[j])))
            moved = theta.copy()
            moved[j] += h
            slopes[:, j, :] = (successor_features(dynamics, features, moved) - counts) / h
        return cls(theta.copy(), counts, slopes, l2_penalty)

    def update_and_jacobian(
        self, start_dist: np.ndarray, demo_counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(update (F,), Jacobian (F, F)) at theta for a start distribution (S,) and the
        demonstrations' feature counts (F,) over t = 0..H."""
        update = self.counts @ start_dist - demo_counts + self.l2_penalty * self.theta
        jacobian = self.slopes @ start_dist + self.l2_penalty * np.eye(len(self.theta))
        return update, jacobian


BACKTRACKING = (1.0, 0.25, 0.0625)
"""Step fractions a Broyden step tries before giving up to L-BFGS."""


def fit_by_broyden(
    *,
    objective: MceObjective,
    theta: np.ndarray,
    update: np.ndarray,
    jacobian: np.ndarray,
    max_iter: int,
    linf_eps: float,
    grad_l2_eps: float,
    max_steps: int = 15,
    relative_eps: float = 0.0,
) -> FastMceResult:
    """Solve the same fixed point as fit_fast_mce near a known point: Broyden's method on
    imitation's update, from theta where the update and a Jacobian are known without a pass
    (e.g. a bootstrap resample at the full-data fit, StartDecomposition), one evaluation per
    accepted step, under imitation's stopping rule. A step that does not shrink the update is
    backtracked (BACKTRACKING); if none does, or max_steps pass, fit_fast_mce finishes from the
    best point reached. With relative_eps > 0 it also stops once the update's norm is at most
    relative_eps times its norm at `theta` (the resample's own mismatch, mostly removed)."""
    enough = relative_eps * float(np.linalg.norm(update))
    matrix = jacobian.copy()
    current_theta, current_update = theta.copy(), update.copy()
    curve: list[Mapping[str, float]] = []
    for _ in range(max_steps):
        try:
            move = -np.linalg.solve(matrix, current_update)
        except np.linalg.LinAlgError:
            break
        accepted = None
        for fraction in BACKTRACKING:
            candidate = objective.evaluate(current_theta + fraction * move)
            curve.append(
                {
                    "iteration": float(len(curve) + 1),
                    "linf_delta": candidate.linf_delta,
                    "grad_norm": candidate.grad_norm,
                }
            )
            if candidate.grad_norm < float(np.linalg.norm(current_update)):
                accepted = candidate, fraction * move
                break
        if accepted is None:
            break
        candidate, taken = accepted
        if (
            candidate.linf_delta <= linf_eps
            or candidate.grad_norm <= grad_l2_eps
            or candidate.grad_norm <= enough
        ):
            return FastMceResult(candidate.theta, tuple(curve), len(curve), converged=True)
        change = candidate.update - current_update
        matrix += np.outer(change - matrix @ taken, taken) / float(taken @ taken)
        current_theta, current_update = candidate.theta, candidate.update
    rest = fit_fast_mce(
        objective=objective,
        max_iter=max(max_iter - len(curve), 1),
        linf_eps=linf_eps,
        grad_l2_eps=grad_l2_eps,
        initial_theta=current_theta,
    )
    return FastMceResult(
        rest.theta, (*curve, *rest.curve), len(curve) + rest.n_iterations, rest.converged
    )


def _lbfgs_round(run: _Run) -> None:
    """Minimise the tilted objective from the latest theta until L-BFGS or a stop rule ends it."""
    try:
        result = scipy.optimize.minimize(
            run.value_and_gradient,
            run.last.theta,
            jac=True,
            method="L-BFGS-B",
            callback=run.after_iteration,
            options={
                "maxiter": run.max_iter - run.iteration,
                "maxfun": 10 * (run.max_iter - run.iteration) + 20,
                "maxcor": LBFGS_MEMORY,
                "ftol": LBFGS_FTOL,
                "gtol": 0.0,
            },
        )
    except _EndRound:
        return
    run.evaluate(np.asarray(result.x, dtype=np.float64))


def _soft_q(dynamics: SparseDynamics, rewards: np.ndarray, next_values: np.ndarray) -> np.ndarray:
    """Q(a, s) = r(s) + gamma * E[V(s') | s, a], shape (A, S) (a fresh array)."""
    q = (dynamics.by_action @ next_values).reshape(dynamics.n_actions, -1)
    if dynamics.discount != 1.0:
        q *= dynamics.discount
    q += rewards
    return q
