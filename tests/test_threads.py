"""CPU threads: the cores other petri daemons' workers leave free, or a fixed count."""
import os
import subprocess
import sys
from pathlib import Path

from petri.daemon.slots import plan_slots
from petri.threads import WORKER_MODULE, CoreUse, core_use, worker_threads


def fake_process(proc, pid, cmdline, ppid=1, state="S", env=None):
    d = proc / str(pid)
    d.mkdir()
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in cmdline) + b"\0")
    (d / "stat").write_text(f"{pid} (python3 x) {state} {ppid} 0 0")
    if env is not None:
        (d / "environ").write_bytes(b"\0".join(f"{k}={v}".encode() for k, v in env.items()))


def test_other_daemons_workers_count_their_threads_and_nothing_else_counts(tmp_path):
    worker = ["python3", "-m", WORKER_MODULE]
    fake_process(tmp_path, 10, worker, env={"OMP_NUM_THREADS": "3"})
    fake_process(tmp_path, 11, worker, env={"PATH": "/bin"})  # no count given: 1
    fake_process(tmp_path, 12, worker)  # environment unreadable (another user's): 1
    fake_process(tmp_path, 13, worker, ppid=99, env={"OMP_NUM_THREADS": "4"})  # our own
    fake_process(tmp_path, 14, worker, state="Z", env={"OMP_NUM_THREADS": "4"})  # a zombie
    fake_process(tmp_path, 15, ["python3", "-m", "busy"], env={"OMP_NUM_THREADS": "8"})
    (tmp_path / "self").mkdir()
    use = core_use(tmp_path, cores=8, own_pid=99)
    assert use == CoreUse(cores=8, used=5) and use.free == 3
    assert core_use(tmp_path, cores=4, own_pid=99).free == 1  # never below one


def test_cpu_slots_share_the_free_cores_or_take_the_set_count():
    slots, line = plan_slots(None, cpu_slots=2, use=CoreUse(cores=16, used=6))
    assert [s.env["OMP_NUM_THREADS"] for s in slots] == ["5", "5"]
    assert "5 thread(s) (16 cores, 6 used by other petri daemons)" in line
    slots, line = plan_slots(None, cpu_slots=3, threads=2, use=CoreUse(cores=2, used=2))
    assert {s.env["MKL_NUM_THREADS"] for s in slots} == {"2"} and "(set)" in line


def test_a_live_worker_counts_its_threads_unless_ours_and_they_reach_torch():
    slots, _ = plan_slots(None, threads=2)
    env = {**os.environ, **slots[0].env}
    worker = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert "ready" in worker.stdout.readline()  # exec'ed and started
        proc_dir = Path(f"/proc/{worker.pid}")
        assert worker_threads(proc_dir, own_pid=os.getpid()) == 0  # our child: not counted
        assert worker_threads(proc_dir, own_pid=-1) == 2  # as another daemon sees it
    finally:
        worker.stdin.close()  # end of stdin: the worker exits
        worker.wait(30)
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip() == "2"
