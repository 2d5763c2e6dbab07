import time
from pathlib import Path
from types import SimpleNamespace

from petri.daemon.executor import LocalExecutor
from petri.daemon.slots import plan_slots, query_gpus
from petri.threads import CoreUse


class FakeNVML:
    """A test double at the NVML boundary: two GPUs, one with a foreign process."""

    class NVMLError(Exception):
        pass

    def __init__(self, gpus, fail_init=False):
        self.gpus, self.fail_init = gpus, fail_init

    def nvmlInit(self):
        if self.fail_init:
            raise self.NVMLError("Driver Not Loaded")

    def nvmlShutdown(self):
        pass

    def nvmlDeviceGetCount(self):
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i):
        return self.gpus[i]

    def nvmlDeviceGetUUID(self, h):
        return h["uuid"].encode()

    def nvmlDeviceGetName(self, h):
        return "Fake H100"

    def nvmlDeviceGetMemoryInfo(self, h):
        return SimpleNamespace(total=80 << 30, free=h["free"] << 20, used=0)

    def nvmlDeviceGetUtilizationRates(self, h):
        raise self.NVMLError("Not Supported")  # must become None, not an error

    def nvmlDeviceGetComputeRunningProcesses(self, h):
        return [SimpleNamespace(pid=p, usedGpuMemory=None) for p in h["procs"]]


GPUS = [{"uuid": "GPU-aaaa", "free": 70000, "procs": []},
        {"uuid": "GPU-bbbb", "free": 79000, "procs": []}]


def test_no_driver_means_cpu_mode():
    assert query_gpus(FakeNVML(GPUS, fail_init=True)) is None
    slots, line = plan_slots(None, cpu_slots=2, use=CoreUse(cores=8, used=0))
    assert [s.device for s in slots] == ["cpu", "cpu"]
    assert slots[0].env["OMP_NUM_THREADS"] == "4" and slots[0].env["CUDA_VISIBLE_DEVICES"] == ""
    assert "CPU mode" in line and "no NVIDIA driver" in line


def test_two_fake_gpus_give_two_slots_by_uuid():
    gpus = query_gpus(FakeNVML(GPUS))
    assert [g.uuid for g in gpus] == ["GPU-aaaa", "GPU-bbbb"] and gpus[0].util is None
    slots, line = plan_slots(gpus)
    # Most free memory first, each worker pinned by UUID and seeing its GPU as cuda:0.
    assert [s.env["CUDA_VISIBLE_DEVICES"] for s in slots] == ["GPU-bbbb", "GPU-aaaa"]
    assert all(s.device == "cuda:0" and s.env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for s in slots)
    slots, _ = plan_slots(gpus, slots_per_gpu=2)
    assert len(slots) == 4


def test_busy_or_full_gpus_are_skipped():
    gpus = query_gpus(FakeNVML([{"uuid": "GPU-x", "free": 70000, "procs": [999]},
                                {"uuid": "GPU-y", "free": 100, "procs": []}]))
    slots, line = plan_slots(gpus, min_free_mb=1024)
    assert all(s.device == "cpu" for s in slots) and "foreign" in line and "MiB free" in line
    slots, _ = plan_slots(gpus, allow_shared=True, min_free_mb=1024)
    assert [s.gpu_uuid for s in slots] == ["GPU-x"]


def test_worker_process_gets_the_slot_environment(tmp_path):
    slots, _ = plan_slots(query_gpus(FakeNVML(GPUS)))
    with open(tmp_path / "log", "ab") as log:
        ex = LocalExecutor(log)
        h = ex.spawn(slots[0])
        try:
            deadline = time.time() + 30
            while not h.ready and time.time() < deadline:
                ex.poll(0.05)
            env = dict(kv.split("=", 1) for kv in
                       Path(f"/proc/{h.pid}/environ").read_text().split("\0") if "=" in kv)
            assert env["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb"
        finally:
            ex.kill(h, "test over")
            h.proc.wait()
