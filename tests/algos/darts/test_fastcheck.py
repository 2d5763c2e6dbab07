"""The supernet's fast forms compute what the plain form computes, on this machine's kernels.

Float32, as training runs; 1 and 2 threads, as workers run (one slot per core, or one slot
with both); the native oneDNN ISA and AVX2 (`ONEDNN_MAX_CPU_ISA`, so an AVX-512 machine also
runs the kernels AVX2 users get, where oneDNN's strided-1×1 defect corrupted the heap); each
group of cases in a fresh process, so an abort or a hang is a failed test naming its case.
The bound each tensor must meet is derived in `petri.algos.darts.fastcheck`.
"""
from __future__ import annotations

import os

import pytest
import yaml

from petri.algos.darts.fastcheck import CHECK_TIMEOUT_S, FAST, run_in_subprocess
from petri.space.desc import PRIMITIVES
from tests.conftest import ROOT, noisy_conv_shim

CONFIGS = ROOT / "configs"
ISAS = {"native": None, "avx2": "AVX2"}
# Every input width an op sees: 1-17 covers each vector block boundary of AVX2 (8) and
# AVX-512 (16) floats, and PC-DARTS' slices (C/K: 2, 4, 8 in the toys, 4, 8, 16 on CIFAR).
WIDTHS = range(1, 18)
TIMEOUT_S = CHECK_TIMEOUT_S["eager"]


def _env(isa: str) -> dict:
    env = dict(os.environ)
    if ISAS[isa]:
        env["ONEDNN_MAX_CPU_ISA"] = ISAS[isa]
    return env


def op_cases(op: str) -> list[dict]:
    """One op at every width and stride it is built with, on ReLU-like offset inputs, at the
    resolutions of the toy searches' stages (odd 7×7 included: FactorizedReduce pads)."""
    cases = []
    for c in WIDTHS:
        for stride in (1, 2):
            if op == "relu_conv_bn" and stride == 2:
                continue  # the cell's 1×1 preprocessing never strides
            if op == "factorized_reduce" and stride == 1:
                continue
            if op == "skip_connect" and (stride == 1 or c % 2):
                continue  # the identity; odd widths are factorized_reduce's cases
            for hw in (14, 7) if stride == 2 else (14,):
                cases.append({"op": op, "c": c, "stride": stride, "hw": hw, "batch": 8,
                              "offset": 3.0})
    return cases


def assert_agrees(results, why, n_cases):
    assert why is None, why
    assert len(results) == n_cases
    bad = [f"{r.case}: {r.summary()}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


OPS = [p for p in PRIMITIVES if p != "none"] + ["factorized_reduce", "relu_conv_bn"]


@pytest.mark.slow
@pytest.mark.parametrize("isa", list(ISAS))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op", OPS)
def test_every_op_in_nhwc_agrees_with_nchw_at_every_width(op, threads, isa):
    cases = op_cases(op)
    results, why = run_in_subprocess(cases, FAST, threads, TIMEOUT_S, _env(isa))
    assert_agrees(results, why, len(cases))


def test_factorized_reduce_survives_the_widths_that_corrupted_the_heap():
    # The fast layer's sentinel of the case above: oneDNN's strided 1×1 backward, NHWC, AVX2,
    # one thread, 2 input channels aborted within 50 passes (oneDNN issue 6035).
    cases = [{"op": "factorized_reduce", "c": c, "stride": 2, "hw": 28, "batch": 16,
              "offset": 3.0} for c in (1, 2, 3, 4, 6)] * 10
    results, why = run_in_subprocess(cases, FAST, 1, TIMEOUT_S, _env("avx2"))
    assert_agrees(results, why, len(cases))


# ---- the whole search step of every shipped search config ------------------------------------

SEARCH_CONFIGS = {  # config -> batch (small: the float64 reference of a CIFAR supernet is slow)
    "darts_toy": 16, "darts2_toy": 16, "pc_darts_toy": 16, "mood_toy": 16,
    "darts_cifar10": 4, "darts2_cifar10": 4, "pc_darts_cifar10": 4, "mood_cifar10": 4,
}


def supernet_case(name: str, batch: int, tmp_path) -> dict:
    """The first search the config's algorithm proposes, as the fast-path check's case."""
    from petri.algos.darts.algorithm import DartsSearchSpec
    from petri.algos.registry import create_algo
    from petri.data.info import dataset_info
    from petri.store.store import RunStore

    cfg = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    algo = create_algo(cfg)
    proposed = algo.propose(RunStore.open(tmp_path, create=True).view, 1)[0]
    spec = DartsSearchSpec.from_dict(proposed.spec)
    info = dataset_info(spec.data["dataset"])
    return {"supernet": {**spec.supernet.__dict__, "compile": None},
            "in_channels": info.shape[0], "classes": info.num_classes, "hw": info.shape[1],
            "batch": batch, "second_order": spec.arch.second_order,
            "reg": spec.regulariser.kind, "nu": spec.regulariser.nu}


# The toys as `petri run` runs them on 2 cores (2 slots of 1 thread; 1 slot of 2), on both
# ISAs; the CIFAR-10 searches at the 2 threads their one slot gets.
STEP_CASES = ([(name, threads, isa) for name in SEARCH_CONFIGS if name.endswith("_toy")
               for threads in (1, 2) for isa in ISAS]
              + [(name, 2, "native") for name in SEARCH_CONFIGS if name.endswith("_cifar10")])


@pytest.mark.slow
@pytest.mark.parametrize("name,threads,isa", STEP_CASES)
def test_the_search_step_of_every_shipped_config_agrees_in_nhwc(name, threads, isa, tmp_path):
    case = supernet_case(name, SEARCH_CONFIGS[name], tmp_path)
    results, why = run_in_subprocess([case], FAST, threads, TIMEOUT_S, _env(isa))
    assert_agrees(results, why, 1)
    names = {t.name for t in results[0].tensors}
    # the step really compared α (and β), the weights and the BN statistics
    assert {"loss", "alpha_normal.grad", "alpha_reduce.grad"} <= names
    assert ("beta_normal.grad" in names) == bool(case["supernet"]["partial"])
    assert any(n.endswith("running_var") for n in names)
    assert len(names) > 500


def test_the_check_reports_a_disagreement_and_a_crash(tmp_path):
    # The check itself must fail loudly: a kernel that computes wrong numbers in NHWC (here a
    # conv that adds 1% noise to channels-last inputs, loaded into the check's fresh
    # interpreter), and one that aborts the process.
    env = {**os.environ, **noisy_conv_shim(tmp_path, abort_if="SHIM_ABORT")}
    case = {"op": "sep_conv_3x3", "c": 8, "stride": 1, "hw": 14, "batch": 8, "offset": 3.0}
    results, why = run_in_subprocess([case], FAST, 1, TIMEOUT_S, env)
    assert why is None and len(results) == 1 and not results[0].ok
    assert "DISAGREES" in results[0].summary()
    results, why = run_in_subprocess([case, case], FAST, 1, TIMEOUT_S,
                                     {**env, "SHIM_ABORT": "1"})
    assert results == [] and "exited with code" in why and '"sep_conv_3x3"' in why
