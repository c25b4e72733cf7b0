"""The client's array conversions: every input form flattens the same way, and splits keep
whole trajectories."""

from __future__ import annotations

import numpy as np

from service.client import TrajectoryArrays, to_arrays
from service.client.arguments import parse_tags
from tests.service.data import imitation_trajectories


def _items() -> list[dict]:
    return [
        {"obs": [0, 1, 2], "acts": [1, 1], "rews": [0.0, 1.0], "terminal": True},
        {"obs": [3, 4, 5, 6], "acts": [0, 1, 0], "rews": [1.0, 0.0, 2.0], "terminal": False},
        {"obs": [7, 8], "acts": [1], "rews": [5.0], "terminal": False},
    ]


def test_dicts_imitation_and_minari_forms_agree() -> None:
    items = _items()
    imitation = imitation_trajectories(items)
    minari = [
        {
            "observations": t["obs"],
            "actions": t["acts"],
            "rewards": t["rews"],
            "terminations": [False] * (len(t["acts"]) - 1) + [t["terminal"]],
        }
        for t in items
    ]
    flat = [to_arrays(form) for form in (items, imitation, minari)]
    for arrays in flat:
        np.testing.assert_array_equal(arrays.obs, np.arange(9))
        np.testing.assert_array_equal(arrays.lengths, [2, 3, 1])
        np.testing.assert_array_equal(arrays.terminal, [True, False, False])
        np.testing.assert_array_equal(arrays.rews, [0, 1, 1, 0, 2, 5])
    assert flat[0].to_json() == items


def test_split_keeps_whole_trajectories_in_order() -> None:
    arrays = to_arrays(_items())
    pieces = arrays.split(3)
    assert [p.lengths.tolist() for p in pieces] == [[2], [3], [1]]
    assert [p.obs.tolist() for p in pieces] == [[0, 1, 2], [3, 4, 5, 6], [7, 8]]
    assert [p.rews.tolist() for p in pieces if p.rews is not None] == [[0, 1], [1, 0, 2], [5]]
    assert [p.lengths.tolist() for p in arrays.split(1)] == [[2], [3], [1]]
    assert [p.lengths.tolist() for p in arrays.split(100)] == [[2, 3, 1]]


def test_npz_round_trip_is_pickle_free() -> None:
    arrays = to_arrays(_items())
    data = arrays.to_npz()
    with np.load(__import__("io").BytesIO(data), allow_pickle=False) as archive:
        again = TrajectoryArrays(**{k: archive[k] for k in archive.files})
    np.testing.assert_array_equal(again.obs, arrays.obs)
    np.testing.assert_array_equal(again.lengths, arrays.lengths)


def test_parse_tags() -> None:
    assert parse_tags(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
