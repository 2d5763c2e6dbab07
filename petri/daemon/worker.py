"""A long-lived worker process: takes jobs from the daemon one after another.

Protocol: the daemon writes one JSON line per command on the worker's stdin
(`{"cmd": "run", ...}`, the rest an `Assignment`, or `{"cmd": "stop"}`); the worker answers
with JSON lines on its own channel (`ready`, `done`). The outcome of a job is its
`result.json`, written atomically in the job directory before `done` is sent, so a daemon
that dies in between finds it on restart.
End of stdin means the daemon is gone: the running job checkpoints and the worker exits.
"""
from __future__ import annotations

import json
import os
import queue
import sys
import threading
import traceback

from petri.algos.registry import job_kind
from petri.job import Assignment, JobContext, JobFailed, JobStopped
from petri.io import atomic_write_json
from petri.rundir import RESULT


def _out_of_memory(e: BaseException) -> bool:
    return type(e).__name__ in ("OutOfMemoryError", "MemoryError")


def run_one(job: Assignment, stop: threading.Event) -> dict:
    job.job_dir.mkdir(parents=True, exist_ok=True)
    ctx = JobContext(job_id=job.job_id, lease=job.lease, job_dir=job.job_dir, device=job.device,
                     progress_every_s=job.progress_every_s, stop_event=stop,
                     run_dir=job.run_dir)
    # Busy until the job's own first report: importing its code (torch) takes a while.
    ctx.progress(busy=True, phase="start")
    record = {"job_id": job.job_id, "lease": job.lease}
    try:
        kind = job_kind(job.kind)
        result = kind.run(kind.read_spec(job.spec), ctx)
        record.update(status="ok", result=kind.write_result(result))
    except JobStopped as e:
        record.update(status="stopped", error=str(e))
    except JobFailed as e:
        record.update(status="failed", fail_class=e.fail_class, error=traceback.format_exc())
    except Exception as e:
        # Code errors, bad descs and NaN losses repeat on retry; memory exhaustion may not.
        cls = "infra" if _out_of_memory(e) else "deterministic"
        record.update(status="failed", fail_class=cls, error=traceback.format_exc())
    finally:
        ctx.end_busy()  # a job that raised inside a busy phase must not look alive
    atomic_write_json(job.job_dir / RESULT, record)
    return record


def main() -> int:
    # Job code may print; keep the protocol on a private copy of stdout and send fd 1 to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    commands: queue.Queue = queue.Queue()
    stop = threading.Event()

    def read_commands() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            if msg.pop("cmd") == "stop":
                stop.set()
                commands.put(None)
            else:
                commands.put(Assignment.from_dict(msg))
        stop.set()  # stdin closed: the daemon is gone
        commands.put(None)

    threading.Thread(target=read_commands, daemon=True).start()
    channel.write(json.dumps({"event": "ready", "pid": os.getpid()}) + "\n")
    while not stop.is_set():
        job = commands.get()
        if job is None:
            break
        record = run_one(job, stop)
        try:
            channel.write(json.dumps({"event": "done", "job_id": record["job_id"],
                                      "lease": record["lease"], "status": record["status"]}) + "\n")
        except BrokenPipeError:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
