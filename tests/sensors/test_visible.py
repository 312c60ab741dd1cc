from __future__ import annotations

import pytest

from wattlm.sensors.visible import cuda_visible, habana_visible, hip_visible, parse_mask

UUIDS = ["GPU-aaaa1111-0000", "GPU-bbbb2222-0000", "GPU-cccc3333-0000", "GPU-dddd4444-0000"]


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        (None, [0, 1, 2, 3], False),
        ("", [], False),
        ("NoDevFiles", [], False),
        ("-1", [], False),              # hides on purpose: not bad input
        ("3,1", [3, 1], False),
        ("1,-1,2", [1], False),
        ("0,7,1", [0], True),           # 7 does not exist: the rest is ignored, as CUDA does
        ("1,1", [1], True),             # a repeat stops too
        ("GPU-cccc", [2], False),       # a UUID prefix
        ("cccc3333", [], True),         # CUDA needs the GPU- prefix (ROCm does not)
        ("GPU-", [], True),             # matches every UUID: ambiguous
        ("GPU-ffff", [], True),         # no such UUID
    ],
)
def test_cuda_style_masks(value: str | None, expected: list[int], problem: bool) -> None:
    result = parse_mask(value, UUIDS, "CUDA_VISIBLE_DEVICES")
    assert result.indices == expected
    assert result.problem is problem


def test_a_missing_device_is_named_with_what_exists() -> None:
    result = cuda_visible({"CUDA_VISIBLE_DEVICES": "0,9"}, UUIDS)
    assert result.note == ("CUDA_VISIBLE_DEVICES entry '9' is not a visible GPU here "
                           "(4 device(s) here: indices 0-3); it and the entries after it are "
                           "ignored, as the runtime does")


def test_rocr_filters_first_then_hip_indexes_what_is_left() -> None:
    env = {"ROCR_VISIBLE_DEVICES": "1,2,3", "HIP_VISIBLE_DEVICES": "2,0"}
    assert hip_visible(env, UUIDS).indices == [3, 1]
    assert hip_visible({"ROCR_VISIBLE_DEVICES": "GPU-dddd,0"}, UUIDS).indices == [3, 0]
    assert hip_visible({"HIP_VISIBLE_DEVICES": "cccc3333"}, UUIDS).indices == [2]


def test_hip_reads_cuda_visible_devices_when_hip_is_unset() -> None:
    assert hip_visible({"CUDA_VISIBLE_DEVICES": "2"}, UUIDS).indices == [2]
    # HIP_VISIBLE_DEVICES wins when both are set
    assert hip_visible({"CUDA_VISIBLE_DEVICES": "2", "HIP_VISIBLE_DEVICES": "1"},
                       UUIDS).indices == [1]


def test_hip_mask_beyond_what_rocr_left_is_a_problem() -> None:
    result = hip_visible({"ROCR_VISIBLE_DEVICES": "0", "HIP_VISIBLE_DEVICES": "1"}, UUIDS)
    assert result.indices == [] and result.problem
    assert "HIP_VISIBLE_DEVICES entry '1'" in result.note and "indices 0-0" in result.note


def test_habana_visible_modules_are_module_ids_not_indices() -> None:
    module_ids = [4, 5, 6, 7]  # as hl-smi reports them on a machine with 8 modules, half given
    assert habana_visible({}, module_ids).indices == [0, 1, 2, 3]
    assert habana_visible({"HABANA_VISIBLE_MODULES": "6,4"}, module_ids).indices == [2, 0]
    result = habana_visible({"HABANA_VISIBLE_MODULES": "6,1,x"}, module_ids)
    assert result.indices == [2] and result.problem
    assert "'1', 'x' are not module ids here (modules: 4, 5, 6, 7)" in result.note
    assert habana_visible({"HABANA_VISIBLE_MODULES": " "}, module_ids).indices == []
