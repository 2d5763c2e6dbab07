"""`petri archive`: a run as one portable file, and reading one back.

A `.tar.gz` holding, under one folder named after the run: a consistent copy of the store,
the config, every point's weights, the jobs' TensorBoard event files, and `ARCHIVE.json`
naming the format. Nothing else of the run travels (checkpoints no point keeps, progress
files, logs): it is a finished record, not a run to resume.

`status`, `export`, `plot` and `compare` read an archive where they take a run dir: it is
extracted once into the cache, in a folder named by the archive's SHA-256, so the same
bytes are never extracted twice and changed bytes never meet a stale copy. The extracted
files are made read-only; the store is opened read-only as any reader opens it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

from petri.errors import PetriError
from petri.rundir import RunDir
from petri.store.store import RunStore

FORMAT = "petri-archive-1"
MANIFEST = "ARCHIVE.json"
EVENTS = "events.out.tfevents"  # how TensorBoard's event files begin


@dataclass(frozen=True)
class Archived:
    path: str
    weights: int  # point weight files
    events: int  # TensorBoard event files
    bytes: int  # the archive's size

    def to_dict(self) -> dict:
        return asdict(self)


def members(rd: RunDir, weights: list[str]) -> list[str]:
    """Run-relative files an archive holds besides the store: config, weights, events."""
    events = sorted(rd.relative(p) for p in rd.jobs.glob(f"*/{EVENTS}*") if p.is_file())
    kept = [w for w in weights if (rd.root / w).is_file()]
    return [rd.relative(rd.config), *kept, *events]


def write(run_dir: str | Path, out: str | Path) -> Archived:
    """Archive the run at `run_dir` as `out` (replaced whole, or not at all)."""
    rd, out = RunDir(run_dir), Path(out)
    name = rd.root.resolve().name
    if rd.db.is_file() and not rd.config.is_file():
        raise PetriError(f"{rd} has no {rd.config.name}, so no command could read its "
                         f"archive; archive a whole run dir")
    with RunStore.open(rd.root, readonly=True, verify=True) as store, \
            tempfile.TemporaryDirectory(prefix="petri-archive-") as tmp:
        db = Path(tmp) / rd.db.name
        store.copy_to(db)
        weights = sorted({p.checkpoint for p in store.view.points() if p.checkpoint})
        files = members(rd, weights)
        manifest = Path(tmp) / MANIFEST
        manifest.write_text(json.dumps({"format": FORMAT}))
        staged = out.with_name(f".{out.name}.tmp")
        try:
            with tarfile.open(staged, "w:gz") as tar:
                tar.add(manifest, f"{name}/{MANIFEST}")
                tar.add(db, f"{name}/{rd.db.name}")
                for rel in files:
                    tar.add(rd.root / rel, f"{name}/{rel}")
            os.replace(staged, out)
        except OSError as e:
            staged.unlink(missing_ok=True)
            raise PetriError(f"cannot write the archive {out}: {e.strerror or e}; choose "
                             f"another place with -o") from None
    n_weights = sum(f in weights for f in files)
    return Archived(str(out), n_weights, len(files) - 1 - n_weights, out.stat().st_size)


def is_archive(path: str | Path) -> bool:
    """Whether `path` names a file (a run dir is a folder): commands read it as an archive."""
    return Path(path).is_file()


def extracted(path: str | Path) -> Path:
    """The run inside the archive at `path`, extracted (once) into the cache; a damaged or
    foreign file is refused in one line and left as it is."""
    from petri.latency.run import cache_dir

    path = Path(path)
    try:
        digest = _sha256(path)
    except OSError as e:
        raise _damaged(path, e.strerror or str(e)) from None
    home = cache_dir() / "archives" / digest[:32]
    if not home.is_dir():
        home.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extracting-", dir=home.parent))
        tmp.chmod(0o755)
        try:
            _extract(path, tmp)
            os.replace(tmp, home)  # whole, or another reader's whole copy is already there
        except OSError:
            if not home.is_dir():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return next(home.iterdir())  # the archive's one folder


def _extract(path: Path, into: Path) -> None:
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = tar.getnames()
            tops = {n.split("/", 1)[0] for n in names}
            top = tops.pop() if len(tops) == 1 else ""
            for need in (MANIFEST, RunDir(top).db.name, RunDir(top).config.name):
                if f"{top}/{need}" not in names:
                    raise _damaged(path, f"it holds no {need}: `petri archive` did not write it")
            tar.extractall(into, filter="data")
        manifest = json.loads((into / top / MANIFEST).read_text())
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as e:
        raise _damaged(path, " ".join(str(e).split()) or type(e).__name__) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _damaged(path, f"its {MANIFEST} names another format")
    for p in into.rglob("*"):
        if p.is_file():
            p.chmod(0o444)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _damaged(path: Path, why: str) -> PetriError:
    return PetriError(f"{path} is not a readable petri archive ({why}); it was left "
                      f"untouched: pass a run dir, or an archive `petri archive RUN -o FILE` "
                      f"wrote")
