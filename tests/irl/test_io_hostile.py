"""Hostile uploads found in issue 17 (and 16's hostile text): each is a precise InvalidInputError,
never an overflow, a crash or a large allocation."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from irl.errors import InvalidInputError
from irl.io.environments import parse_environment
from irl.io.fields import numeric_array
from irl.io.trajectories import from_npz_bytes, parse_trajectories

DEFAULT_PATTERNS = ("mesascope/*", "seals/*", "CartPole-v1", "MountainCar-v0", "Pendulum-v1")


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def locs(error: pytest.ExceptionInfo[InvalidInputError]) -> list[str]:
    return [p.loc for p in error.value.problems]


@pytest.mark.parametrize("lengths", [[2**63 - 1, 2**63 - 1, 4], [2**62] * 4])
def test_npz_lengths_that_overflow_are_refused(lengths: list[int]) -> None:
    """Issue 17.1: the int64 sum wrapped to 2 (or 0) and the set was stored."""
    data = npz(
        obs=np.zeros((5, 4)),
        acts=np.zeros(2),
        terminal=np.ones(len(lengths), bool),
        lengths=np.array(lengths, dtype=np.int64),
    )
    with pytest.raises(InvalidInputError) as error:
        from_npz_bytes(data, loc="file")
    assert locs(error)[0] == "file.lengths[0]"


def test_npz_lengths_must_match_the_declared_shapes() -> None:
    data = npz(
        obs=np.zeros((5, 4)), acts=np.zeros(2), terminal=np.ones(3, bool), lengths=np.ones(3)
    )
    with pytest.raises(InvalidInputError) as error:
        from_npz_bytes(data, loc="file")
    assert "file.acts" in locs(error)


def _archive(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(f"{name}.npy", data)
    return buffer.getvalue()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_npy_header_declaring_a_huge_shape_is_refused_before_reading() -> None:
    """Issue 17.2: a 691-byte member declaring shape (10**11,) was an ArrayMemoryError (500)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**11,)}
    )
    data = _archive(
        {
            "obs": header.getvalue(),
            "acts": _npy(np.zeros(1)),
            "terminal": _npy(np.ones(1, bool)),
            "lengths": _npy(np.array([1])),
        }
    )
    assert len(data) < 1000
    with pytest.raises(InvalidInputError) as error:
        from_npz_bytes(data, loc="file")
    assert locs(error) == ["file.obs"]
    assert "declares shape [100000000000]" in error.value.problems[0].msg


def test_member_inflating_absurdly_is_refused_before_inflating() -> None:
    """Issue 17.2: a small compressed member inflating to a huge array."""
    data = _archive({"obs": _npy(np.zeros(80 * 1024**2 // 8))}, compression=zipfile.ZIP_DEFLATED)
    assert len(data) < 200_000
    with pytest.raises(InvalidInputError, match="more than 200x") as error:
        from_npz_bytes(data, loc="file")
    assert locs(error) == ["file.obs"]


def test_compressed_archives_of_ordinary_size_still_load() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        obs=np.zeros((5, 4)),
        acts=np.zeros(3),
        terminal=np.ones(2, bool),
        lengths=np.array([1, 2]),
    )
    assert from_npz_bytes(buffer.getvalue()).n_transitions == 3


def test_json_uploads_are_capped_before_per_trajectory_work() -> None:
    """Issue 17.2: 10**6 one-step trajectories took 81 s of CPU."""
    one = {"obs": [0, 1], "acts": [0]}
    with pytest.raises(InvalidInputError, match="above the limit of 10") as error:
        parse_trajectories([one] * 11, max_trajectories=10)
    assert locs(error) == ["trajectories"]
    assert parse_trajectories([one] * 10, max_trajectories=10).n_trajectories == 10


@pytest.mark.parametrize(
    "value", [[0, True, 2], [[0.0, 1.0], [False, 1.0]]], ids=["indices", "vectors"]
)
def test_booleans_are_not_numbers(value: list) -> None:
    """Issue 16: `true` was accepted as a state index."""
    with pytest.raises(InvalidInputError, match="got boolean"):
        numeric_array(value, "obs", ndims=(1, 2), integer=False)
    with pytest.raises(InvalidInputError):
        parse_trajectories([{"obs": [0, True, 1], "acts": [0, 1]}])


@pytest.mark.parametrize("env_id", ["seals/../os:system", "seals/x:os", "mesascope/x:this"])
def test_gym_ids_with_a_module_part_are_refused(env_id: str) -> None:
    """Issue 17.3: these passed the default glob patterns."""
    with pytest.raises(InvalidInputError) as error:
        parse_environment({"kind": "gymnasium", "id": env_id}, allowed_gym_ids=DEFAULT_PATTERNS)
    assert locs(error) == ["environment.id"]


def test_gym_ids_must_be_registered() -> None:
    with pytest.raises(InvalidInputError, match="not a registered environment"):
        parse_environment(
            {"kind": "gymnasium", "id": "seals/Nope-v0"}, allowed_gym_ids=DEFAULT_PATTERNS
        )


@pytest.mark.parametrize(
    ("kwargs", "loc"),
    [
        ({"entry_point": "os:system"}, "environment.kwargs.entry_point"),
        ({"max_episode_steps": 10**12}, "environment.kwargs.max_episode_steps"),
        ({"distribution": "train\x00"}, "environment.kwargs.distribution"),
        ({"maze": {"cells": []}}, "environment.kwargs.maze"),
        ({"size": "5"}, "environment.kwargs.size"),
        ({"unknown": 1}, "environment.kwargs.unknown"),
    ],
)
def test_gym_kwargs_are_checked_against_the_environment(kwargs: dict, loc: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        parse_environment(
            {"kind": "gymnasium", "id": "mesascope/Maze-test-v0", "kwargs": kwargs},
            allowed_gym_ids=DEFAULT_PATTERNS,
        )
    assert locs(error) == [loc]


def test_gym_kwargs_the_environment_takes_are_kept() -> None:
    spec = {"maze_seed": 0, "size": 4, "distribution": "test", "max_episode_steps": 50}
    parsed = parse_environment(
        {"kind": "gymnasium", "id": "mesascope/Maze-test-v0", "kwargs": spec},
        allowed_gym_ids=DEFAULT_PATTERNS,
    )
    assert dict(parsed.kwargs) == spec


def test_nul_in_cartpole_kwargs_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        parse_environment(
            {"kind": "gymnasium", "id": "CartPole-v1", "kwargs": {"a\x00": "b\x00"}},
            allowed_gym_ids=DEFAULT_PATTERNS,
        )
