"""Seeds from your own networks: `petridish.seeds_from`, and the `seed_import` job.

A source is a gallery (`GALLERY.h5`: every model; `GALLERY.h5:ID`: one), a desc file (.json,
.yaml) or a known genotype name. What a seed keeps of its macro settings:

- a gallery model keeps its own (channels, cells, reductions, stem); only its input channels
  and classes follow the run's dataset when that differs;
- a desc file or genotype keeps its cells, reductions and stem, and takes the run's dataset
  (input channels, classes) and `petridish.channels` and `stem_multiplier`.

A gallery model trained on the run's data and split (same dataset, val_size, split_seed and
subset) brings its weights: its `seed_import` job copies them into the run as its checkpoint
(the search job warm-starts from it) and reports the gallery's figures, with no training.
Every other seed trains first (`seed_train`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from petri.errors import ConfigError, DescError, StoreError
from petri.job import JobContext, JobFailed, JobSpecData
from petri.train.job import TrainJobResult

GALLERY_SUFFIXES = (".h5", ".hdf5")
# The data settings that decide which images a model was trained and validated on.
SAME_DATA = ("dataset", "val_size", "split_seed", "subset")


@dataclass(frozen=True)
class SeedImportSpec(JobSpecData):
    desc: dict  # ModelDesc fields
    gallery: str  # absolute path
    model: int  # its id in the gallery
    val_error: float | None
    test_error: float | None
    params: int
    macs: int
    activation_bytes: int


@dataclass(frozen=True)
class Seed:
    desc: object  # ModelDesc
    weights: SeedImportSpec | None  # None: it trains first


def run(spec: SeedImportSpec, ctx: JobContext) -> TrainJobResult:
    from petri.gallery import load_model
    from petri.train import checkpoint

    try:  # built, so weights that do not fit the desc fail here, not in the search
        state = load_model(spec.gallery, spec.model).state_dict()
    except StoreError as e:
        raise JobFailed(str(e)) from None
    # Nothing trained in this run: no optimizer or schedule to resume; readers take "model".
    checkpoint.save({"model": state, "optimizer": None, "scheduler": None, "epoch": 0,
                     "step": 0}, ctx.checkpoint_path)
    return imported(spec, ctx.relative(ctx.checkpoint_path))


def imported(spec: SeedImportSpec, checkpoint: str) -> TrainJobResult:
    """The result of an import: the gallery's figures, no epochs spent in this run."""
    return TrainJobResult(
        val_error=spec.val_error, val_loss=None, train_loss=0.0, epochs=0, steps=0,
        images_per_s=0.0, wall_s=0.0, test_error=spec.test_error, params=spec.params,
        macs=spec.macs, activation_bytes=spec.activation_bytes, batch_size=0,
        checkpoint=checkpoint)


def sourced_seeds(sources: tuple[str, ...], data: dict, channels: int,
                  stem_multiplier: int) -> dict[str, Seed]:
    """The seeds of `petridish.seeds_from` by key, in the order given; bad input is one
    ConfigError naming the fix."""
    seeds = {}
    for i, source in enumerate(sources):
        try:
            found = _gallery_seeds(source, data) if _gallery_part(source) else \
                {_stem(source): Seed(_desc_seed(source, data, channels, stem_multiplier), None)}
        except (ConfigError, DescError, StoreError) as e:
            raise ConfigError(f"petridish.seeds_from[{i}]: {e}") from None
        seeds.update({f"from{i}-{k}": s for k, s in found.items()})
    return seeds


def _stem(source: str) -> str:
    return Path(source).stem if Path(source).suffix else source


def _gallery_part(source: str) -> tuple[str, str | None] | None:
    """(path, model id or None) when `source` names a gallery."""
    path, _, model = source.rpartition(":")
    if path and Path(path).suffix.lower() in GALLERY_SUFFIXES:
        return path, model
    return (source, None) if Path(source).suffix.lower() in GALLERY_SUFFIXES else None


def _scaled(desc, data: dict, **changes):
    from petri.data.info import dataset_info

    info = dataset_info(data["dataset"])
    return desc.scaled(in_channels=info.shape[0], num_classes=info.num_classes,
                       **changes).validate()


def _desc_seed(source: str, data: dict, channels: int, stem_multiplier: int):
    from petri.space.desc import load_desc
    from petri.space.genotypes import genotype, is_genotype, list_genotypes

    if is_genotype(source):
        desc = genotype(source)
    elif Path(source).suffix:
        desc = load_desc(source)
    else:
        raise ConfigError(f"{source!r} is neither a file nor a known genotype; name a "
                          f"gallery (.h5), a desc file (.json, .yaml) or one of "
                          f"{', '.join(list_genotypes())}")
    return _scaled(desc, data, channels=channels, stem_multiplier=stem_multiplier)


def _gallery_seeds(source: str, data: dict) -> dict[str, Seed]:
    from petri.space.desc import model_desc
    from petri.store.gallery import read_model, read_models

    path, model_id = _gallery_part(source)
    path = Path(path).resolve()
    models = [read_model(path, model_id, with_weights=False)] if model_id else \
        read_models(path)
    seeds = {}
    for m in models:
        desc = model_desc(m, path)
        if all(m.data.get(k) == data.get(k) for k in SAME_DATA):
            seeds[f"g{m.id}"] = Seed(desc, SeedImportSpec(
                desc.to_dict(), str(path), m.id, m.val_error, m.test_error, m.params, m.macs,
                m.activation_bytes))
            continue
        try:
            seeds[f"g{m.id}"] = Seed(_scaled(desc, data), None)
        except DescError as e:
            raise ConfigError(f"gallery {path}: model {m.id} cannot be built for "
                              f"{data['dataset']} ({e}); name models of a gallery made "
                              f"for it") from None
    return seeds
