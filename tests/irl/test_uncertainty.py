"""Bootstrap intervals are order statistics of the resamples."""

from irl.uncertainty import Bootstrap
from irl.verdict import Evidence


def _evidence(p_value: float) -> Evidence:
    return Evidence(
        normalized_training_return=0.5,
        p_value=p_value,
        log_likelihood_ratio_per_step=0.1,
        epic=0.2,
        n_trajectories=10,
        n_actions=4,
    )


def test_interval_bounds_are_values_some_resample_had() -> None:
    p_values = [1e-60] * 19 + [1.0]
    resampled = Bootstrap(
        evidence=tuple(_evidence(p) for p in p_values),
        verdicts=("generalises",) * 20,
        interval=(0.05, 0.95),
    )
    bounds = resampled.bounds("p_value")
    assert bounds is not None
    assert set(bounds) <= set(p_values)  # interpolation would give 0.05 for the upper bound
