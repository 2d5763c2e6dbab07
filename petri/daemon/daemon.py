"""The daemon: one per run dir, the only writer of the store, the keeper of the workers.

Loop: read worker events → ingest results (one transaction each) → reap dead and hung
workers → hand ready jobs to idle workers → ask the algorithm for more work → stop when it
says the search is done. Everything it needs to continue lives in the store and the job
directories, so `kill -9` of the daemon loses nothing: on restart, running rows are
reconciled (a finished result is ingested, anything else requeued from its checkpoint).
"""
from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

from petri.algos.registry import EXCLUSIVE_KINDS, job_kind
from petri.config import DaemonCfg, RayCfg
from petri.constraints import Costing
from petri.daemon.executor import Event, LocalExecutor
from petri.daemon.fatal import FatalRecord
from petri.daemon.lock import RunLock, already_running, write_pid
from petri.daemon.process import kill_if_same
from petri.daemon.slots import plan_slots, query_gpus
from petri.disk import free_finished
from petri.errors import PetriError, StoreError
from petri.io import read_json, remove_stale_temps_in
from petri.job import Assignment
from petri.latency.job import MEASURE, measure_jobs, measured
from petri.launch import open_run
from petri.daemon.life import Reply, Request, note_plan, perform, serve
from petri.rundir import PROGRESS, RESULT, RunDir, tensorboard_name
from petri.store.store import RunStore

log = logging.getLogger("petri.daemon")


class Daemon:
    def __init__(self, run_dir: Path, nvml=None, opened=None):
        self.run_dir = Path(run_dir)
        self.rd = RunDir(run_dir)
        # The algorithm is built once, here (it checks its own sections as it is built), or
        # given as `opened`, (config, algorithm), by a caller in this process that built it
        # from the run's config already (`petri start --foreground`).
        self.cfg, self.algo = opened or open_run(run_dir)
        self.dcfg = DaemonCfg.from_dict(self.cfg.get("daemon"))
        self.rcfg = RayCfg.from_dict(self.cfg.get("ray"))
        self.costing = Costing.from_cfg(self.cfg)
        self.nvml = nvml
        self.stopping = False
        self.stop_now = False

    # ---- life cycle -------------------------------------------------------------------
    def run(self) -> int:
        lock = RunLock(self.run_dir)
        if not lock.acquire():
            raise StoreError(already_running(self.run_dir))
        fatal = FatalRecord(self.run_dir)
        try:
            return self._run_locked()
        except Exception as e:
            fatal.record(str(e) if isinstance(e, PetriError) else f"{type(e).__name__}: {e}")
            raise
        finally:
            fatal.close()
            lock.release()

    def _run_locked(self) -> int:
        # Only `petri start` on a new run dir creates a schema; here a DB without one (zero
        # bytes, a deleted WAL) is refused rather than silently restarted from job 1.
        self.store = RunStore.open(self.run_dir)
        self.rd.check_job_dirs(self.store.ids())
        self.view = self.store.view
        # Before the pid file: a cluster that cannot be reached fails `petri start` in one line.
        self.executor = self.open_executor()
        line = self.slots_line = self.executor.describe()
        log.info(line)
        self.store.set_meta(daemon_pid=os.getpid(), daemon_state="running", slots=line,
                            started=time.time())
        note_plan(self.store, self.algo)
        self.store.log_event("daemon", f"daemon {os.getpid()} started: {line}")
        self.recover()
        for folder in (self.rd.root, *self.rd.job_dirs()):  # left by killed writes
            remove_stale_temps_in(folder)
        write_pid(self.run_dir)  # only now may `petri start` report that the daemon started
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        for slot in self.executor.slots:
            self.executor.spawn(slot)
        last_propose = 0.0
        done = False
        while not self.stopping:
            for ev in self.executor.poll(self.dcfg.poll_s):
                self.handle(ev)
            serve(self.run_dir, self.carry_out)
            self.note_slots()
            self.check_hung()
            if any(h.idle for h in self.executor.handles) and \
                    (time.time() - last_propose > 0.2 or self._ready_jobs()):
                self.dispatch()
                last_propose = time.time()
            if not self._busy() and self.algo.is_done(self.view):
                done = True
                break
        self.shutdown(done)
        return 0

    def open_executor(self):
        if self.dcfg.executor == "ray":
            from petri.daemon.ray_executor import RayExecutor  # only Ray runs import ray

            return RayExecutor(self.rcfg)
        gpus = query_gpus(self.nvml) if self.dcfg.use_gpus else None
        slots, line = plan_slots(gpus, self.dcfg.cpu_slots, self.dcfg.slots_per_gpu,
                                 self.dcfg.min_free_mb, self.dcfg.allow_shared_gpus,
                                 threads=self.dcfg.threads)
        return LocalExecutor(open(self.rd.workers_log, "ab"), slots, line)

    def note_slots(self) -> None:
        """Keep the store's slot line current: a Ray slot's node is known once its actor
        runs, and changes when the actor is replaced."""
        line = self.executor.describe()
        if line != self.slots_line:
            self.slots_line = line
            self.store.set_meta(slots=line)

    def _on_signal(self, signum, frame) -> None:
        if self.stopping:  # a second signal: stop without waiting
            self.stop_now = True
        self.stopping = True

    def _busy(self) -> bool:
        return any(h.job is not None for h in self.executor.handles)

    def _ready_jobs(self) -> bool:
        return self.store.has_ready()

    def shutdown(self, done: bool) -> None:
        if not done:
            for h in self.executor.handles:
                self.executor.request_stop(h)
            deadline = time.time() + (0 if self.stop_now else self.dcfg.stop_grace_s)
            while self._busy() and time.time() < deadline and not self.stop_now:
                for ev in self.executor.poll(0.05):
                    self.handle(ev, respawn=False)
            for h in list(self.executor.handles):
                if h.job is not None:
                    self.executor.kill(h, "daemon stopping")
        self.executor.close_all()
        end = time.time() + 10
        while self.executor.handles and time.time() < end:
            for ev in self.executor.poll(0.05):
                self.handle(ev, respawn=False)
        for h in self.executor.handles:
            self.executor.kill(h, "daemon exiting")
        state = "done" if done else "stopped"
        if done:
            reason = self.algo.stop_reason(self.view)
            if reason:
                self.store.log_event("search", f"search done: {reason}")
        self.store.set_meta(daemon_state=state, done=int(done), stopped_at=time.time())
        self.store.log_event("daemon", f"daemon {os.getpid()} {state}")
        self.store.close()
        self.rd.pid.unlink(missing_ok=True)

    # ---- requests of `petri retry | cancel | resume --set` (petri/daemon/life.py) ---------------
    def carry_out(self, request: Request) -> Reply:
        reply, extended = perform(request, self.store, self.run_dir, self.stop_job, "daemon")
        if extended is not None:
            self.cfg, self.algo = extended
        return reply

    def stop_job(self, job) -> None:
        """Kill the worker of a cancelled job; the store fences whatever it still reports."""
        for h in self.executor.handles:
            if h.job is not None and h.job.job_id == job.id:
                self.executor.kill(h, "cancelled")

    # ---- restart ------------------------------------------------------------------------
    def recover(self) -> None:
        """Reconcile rows left running by a daemon that died."""
        for job in self.store.running():
            d = self.rd.job(job.id)
            record = read_json(d / RESULT)
            if record and record.get("lease") == job.lease:
                self.ingest(job.id, job.lease, record)
                continue
            kill_if_same(job.pid, job.pid_start)  # an orphaned worker must not write on
            self.store.release(job.id, job.lease, "daemon restarted; resuming from checkpoint")

    # ---- events ------------------------------------------------------------------------
    def handle(self, ev: Event, respawn: bool = True) -> None:
        h = ev.handle
        if ev.kind == "done":
            job = h.job
            h.job = None
            if job is not None and job.job_id == ev.data["job_id"]:
                record = read_json(job.job_dir / RESULT)
                if record is None:
                    record = {"status": "failed", "fail_class": "infra",
                              "error": "worker reported done but result.json is unreadable"}
                self.ingest(job.job_id, job.lease, record)
        elif ev.kind == "exited":
            if (job := h.job) is not None:
                code = ev.data["returncode"]
                why = h.exit_reason or f"worker exited with code {code} without a result"
                record = read_json(job.job_dir / RESULT)
                if record and record.get("lease") == job.lease:
                    self.ingest(job.job_id, job.lease, record)
                else:
                    state = self.store.fail(job.job_id, job.lease, "infra", why,
                                            self.dcfg.backoff_s)
                    log.warning("job %s lost (%s) -> %s", job.job_id, why, state)
                h.job = None
            if respawn and not self.stopping:
                self.executor.spawn(h.slot)

    def ingest(self, job_id: int, lease: int, record: dict) -> None:
        status = record.get("status")
        if status == "ok":
            job = self.store.get(job_id)
            result = job_kind(job.kind).read_result(record["result"])
            if job.kind == MEASURE:  # the daemon's own: no algorithm asked for it
                self.store.complete(job_id, lease, record["result"], [], [],
                                    measured=measured(result))
                return
            outcome = self.algo.on_result(job, result, self.view)
            jobs = outcome.jobs
            if (latency := self.costing.latency) is not None:
                jobs = jobs + measure_jobs(outcome.points, latency.to_target(),
                                           self.costing.input_shape)
            if self.store.complete(job_id, lease, record["result"], outcome.points, jobs,
                                   self.dcfg.max_attempts, outcome.events) \
                    and self.dcfg.keep == "final":
                self.free_weights(job)
        elif status == "stopped":
            self.store.release(job_id, lease, record.get("error", "stopped"))
        else:
            self.store.fail(job_id, lease, record.get("fail_class", "deterministic"),
                      record.get("error", "unknown error"), self.dcfg.backoff_s)

    def free_weights(self, job) -> None:
        """Delete the checkpoints of `job`, whose result has just landed, that nothing needs
        any more (`daemon.keep: final`; see petri.disk). A file that cannot go stays."""
        try:
            free_finished(self.rd, self.view, job)
        except OSError as e:
            log.warning("job %s keeps its checkpoints: %s", job.id, e)

    # ---- liveness ------------------------------------------------------------------------
    def check_hung(self) -> None:
        """Kill a job whose reports stopped (`hang_grace_s`), or whose busy phase, one that
        cannot report from inside, has run too long (`busy_grace_s`)."""
        now = time.time()
        for h in self.executor.handles:
            if h.job is None or h.exit_reason:
                continue
            progress = read_json(h.job.job_dir / PROGRESS)
            if progress and progress.get("lease") == h.job.lease:
                stale = now - float(progress["t"])
                busy = now - float(progress.get("busy_since") or now)
                if stale > self.dcfg.hang_grace_s:
                    self.executor.kill(h, f"hung: no progress for {stale:.0f}s")
                elif busy > self.dcfg.busy_grace_s:
                    self.executor.kill(h, f"hung: {progress.get('phase')} took over "
                                          f"{self.dcfg.busy_grace_s:.0f}s (daemon.busy_grace_s)")
            elif now - h.assigned_at > self.dcfg.first_progress_grace_s:
                self.executor.kill(h, f"hung: no first progress report after "
                                      f"{now - h.assigned_at:.0f}s")

    def link_tensorboard(self, job) -> None:
        # A measurement is the daemon's, not the algorithm's: it names no planned point.
        ordinal = None if job.kind == MEASURE else self.algo.point_ordinal(job)
        point = ordinal + 1 if ordinal is not None and self.view.numbers_by_plan() else None
        try:
            self.rd.link_tensorboard(job.id, tensorboard_name(job.id, job.kind, point))
        except OSError as e:  # a file system without links: TensorBoard still finds jobs/
            log.warning("no TensorBoard link for job %s: %s", job.id, e.strerror)

    # ---- scheduling ------------------------------------------------------------------------
    def _claim(self, h):
        """The next job for idle worker `h`, or None. An exclusive kind (a measurement) runs
        alone on its device: nothing joins it there, and while one waits its device takes
        no new work until the jobs on it finish."""
        device = h.slot.gpu_uuid or "cpu"
        beside = [o.job.kind for o in self.executor.handles
                  if o is not h and o.job is not None and (o.slot.gpu_uuid or "cpu") == device]
        if any(kind in EXCLUSIVE_KINDS for kind in beside) or \
                (beside and self.store.has_ready(kinds=EXCLUSIVE_KINDS)):
            return None
        return self.store.claim(h.slot.name, h.placement, h.pid, h.pid_start)

    def dispatch(self) -> None:
        idle = [h for h in self.executor.handles if h.idle]
        if not idle:
            return
        if not self._ready_jobs():
            specs = self.algo.propose(self.view, len(idle))
            if specs:
                self.store.enqueue(specs, self.dcfg.max_attempts)
        for h in idle:
            job = self._claim(h)
            if job is None:
                continue
            d = self.rd.job(job.id)
            d.mkdir(parents=True, exist_ok=True)
            (d / RESULT).unlink(missing_ok=True)  # a result of an older lease is void
            self.link_tensorboard(job)
            self.executor.assign(h, Assignment(job.id, job.lease, job.kind, job.spec, d,
                                               self.run_dir, h.slot.device,
                                               self.dcfg.progress_every_s))
