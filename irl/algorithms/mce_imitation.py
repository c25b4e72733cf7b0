"""imitation's MCEIRL behind mce_irl's `solver="imitation"` and mlp reward model (imports torch).

Dense transitions, Adam in chunks of CHUNK_ITERATIONS; irl.algorithms.mce_irl imports this module
only when one of these is asked for.
"""

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch as th
from imitation.algorithms.mce_irl import MCEIRL
from imitation.rewards.reward_nets import BasicRewardNet, RewardNet
from imitation.util import logger as imitation_logger
from seals.base_envs import TabularModelPOMDP
from stable_baselines3.common import logger as sb3_logger

from irl.algorithms.base import Cancelled, InferenceResult, Progress, ProgressCallback
from irl.algorithms.mce_irl import MceIrlParams, demo_occupancy, empirical_initial_dist
from irl.environments.tabular import TabularMDP
from irl.rewards import LinearReward, TabularReward
from irl.trajectories import TrajectorySet

CHUNK_ITERATIONS = 10


def imitation_mce_irl(
    mdp: TabularMDP,
    trajectories: TrajectorySet,
    reward_model: str,
    rng: np.random.Generator,
    params: MceIrlParams,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> InferenceResult:
    """MCE IRL with imitation's MCEIRL (dense transitions, Adam in chunks of CHUNK_ITERATIONS)."""
    demo = demo_occupancy(mdp, trajectories)
    observations = mdp.features if reward_model != "tabular" else np.eye(mdp.n_states)
    env = TabularModelPOMDP(
        transition_matrix=mdp.dense_transitions(),
        observation_matrix=np.array(observations, dtype=np.float64),
        reward_matrix=np.zeros(mdp.n_states),
        horizon=mdp.horizon,
        initial_state_dist=empirical_initial_dist(mdp, trajectories),
    )
    seed = int(rng.integers(0, 2**63 - 1))
    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        net = _reward_net(reward_model, env, observations.shape[1])
    penalty = 0.0 if reward_model == "mlp" else params.l2_penalty
    trainer = MCEIRL(
        demo,
        env,
        net,
        rng,
        optimizer_kwargs={"lr": params.learning_rate, "weight_decay": penalty},
        discount=mdp.discount,
        linf_eps=params.linf_eps,
        grad_l2_eps=params.grad_l2_eps,
        log_interval=None,
        custom_logger=_silent_logger(),
    )
    curve, converged, iteration = _train(trainer, demo, params, penalty, progress, should_stop)
    return InferenceResult(
        reward=_read_reward(reward_model, net, mdp, observations),
        curve=tuple(curve),
        n_iterations=iteration,
        converged=converged,
    )


def _train(
    trainer: MCEIRL,
    demo: np.ndarray,
    params: MceIrlParams,
    penalty: float,
    progress: ProgressCallback | None,
    should_stop: Callable[[], bool] | None,
) -> tuple[list[Mapping[str, float]], bool, int]:
    """Run MCEIRL.train in chunks until converged or out of budget: (curve, converged, iters)."""
    curve: list[Mapping[str, float]] = []
    iteration = 0
    converged = False
    while iteration < params.max_iter and not converged:
        if should_stop is not None and should_stop():
            raise Cancelled(f"stopped after {iteration} iterations")
        visitations = trainer.train(max_iter=min(CHUNK_ITERATIONS, params.max_iter - iteration))
        iteration = _steps_taken(trainer.optimizer)
        metrics = {
            "linf_delta": float(np.max(np.abs(demo - visitations))),
            "grad_norm": _grad_norm(trainer.reward_net, penalty),
        }
        converged = metrics["linf_delta"] <= params.linf_eps or metrics["grad_norm"] <= (
            params.grad_l2_eps
        )
        curve.append({"iteration": float(iteration), **metrics})
        if progress is not None:
            fraction = 1.0 if converged else iteration / params.max_iter
            progress(Progress(iteration, params.max_iter, fraction, metrics))
    return curve, converged, iteration


class _LinearStateRewardNet(RewardNet):
    """r(s) = w . obs(s) (+ b), float64, starting at zero (the MaxEnt prior: uniform behaviour)."""

    def __init__(self, env: TabularModelPOMDP, n_inputs: int, *, bias: bool) -> None:
        """One linear layer over the observation matrix's columns."""
        super().__init__(env.observation_space, env.action_space, normalize_images=False)
        self.linear = th.nn.Linear(n_inputs, 1, bias=bias, dtype=th.float64)
        th.nn.init.zeros_(self.linear.weight)
        if self.linear.bias is not None:
            th.nn.init.zeros_(self.linear.bias)

    def forward(self, state: th.Tensor, action: Any, next_state: Any, done: Any) -> th.Tensor:
        """(S,) rewards of the (S, F) observations."""
        return self.linear(state).squeeze(-1)


def _reward_net(reward_model: str, env: TabularModelPOMDP, n_inputs: int) -> RewardNet:
    """The reward network for the chosen model (initialised from torch's seeded global RNG)."""
    if reward_model == "mlp":
        return BasicRewardNet(env.observation_space, env.action_space, use_action=False)
    return _LinearStateRewardNet(env, n_inputs, bias=reward_model == "linear")


def _read_reward(
    reward_model: str, net: RewardNet, mdp: TabularMDP, observations: np.ndarray
) -> TabularReward | LinearReward:
    """The learned reward as a LinearReward (by feature name) or state TabularReward."""
    if isinstance(net, _LinearStateRewardNet) and reward_model == "linear":
        weights = net.linear.weight.detach().cpu().numpy()[0]
        bias = net.linear.bias
        return LinearReward(
            weights=dict(zip(mdp.feature_names, weights.tolist(), strict=True)),
            bias=float(bias.item()) if bias is not None else 0.0,
        )
    with th.no_grad():
        obs = th.as_tensor(np.array(observations), dtype=net.dtype, device=net.device)
        values = net(obs, None, None, None).cpu().numpy()
    return TabularReward(np.asarray(values, dtype=np.float64).reshape(mdp.n_states))


def _steps_taken(optimizer: th.optim.Optimizer) -> int:
    """Total optimizer steps so far (MCEIRL.train may stop a chunk early on convergence)."""
    state = optimizer.state
    for group in optimizer.param_groups:
        for parameter in group["params"]:
            if parameter in state and "step" in state[parameter]:
                return int(state[parameter]["step"])
    return 0


def _grad_norm(net: RewardNet, l2_penalty: float) -> float:
    """L2 norm of the last gradient of the penalised objective (occupancy mismatch + prior)."""
    squares = [
        float(((p.grad.detach() + l2_penalty * p.detach()) ** 2).sum())
        for p in net.parameters()
        if p.grad is not None
    ]
    return float(np.sqrt(sum(squares)))


def _silent_logger() -> imitation_logger.HierarchicalLogger:
    """A logger that writes nothing (imitation's default prints and creates temp folders)."""
    return imitation_logger.HierarchicalLogger(
        sb3_logger.Logger(folder=None, output_formats=[]), format_strs=()
    )
