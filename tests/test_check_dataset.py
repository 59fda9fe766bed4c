"""`check_dataset`: the contract every dataset meets, in-tree or plugged in, with the failing rule named."""

from __future__ import annotations

import numpy as np
import pytest

from mirbench.testing import ConformanceError, SyntheticDataset, check_dataset


def test_the_synthetic_dataset_meets_the_contract():
    passed = check_dataset(SyntheticDataset, {"per_class": 2, "task": "multi-label"})
    assert passed[0].startswith("builds from its parameters") and len(passed) == 6


class Shuffled(SyntheticDataset):
    """Its index comes out in another order on every build."""

    builds = 0

    def __init__(self, **params):
        super().__init__(**params)
        Shuffled.builds += 1
        self.tracks = self.tracks[::-1] if Shuffled.builds % 2 else self.tracks


class Stereo(SyntheticDataset):
    def load_audio(self, track, sample_rate):
        audio = super().load_audio(track, sample_rate)
        return np.stack([audio, audio])


class NeedsData(SyntheticDataset):
    needs_root = True


@pytest.mark.parametrize("factory, message", [
    (Shuffled, "two builds from the same parameters give different indexes"),
    (Stereo, "must give finite 1-D float32 samples"),
    (NeedsData, "give --data-root DIR"),
])
def test_a_dataset_that_breaks_the_contract_is_named(factory, message):
    with pytest.raises(ConformanceError, match=message):
        check_dataset(factory, {"per_class": 2})


def test_parameters_it_does_not_take_are_a_failure_not_a_traceback():
    with pytest.raises(ConformanceError, match="cannot be built with"):
        check_dataset(SyntheticDataset, {"per_klass": 2})
