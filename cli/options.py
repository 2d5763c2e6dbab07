"""Option types shared by commands, so a bad value fails at parsing, naming the option."""
from __future__ import annotations

import dataclasses
import math
import re
import typing

import click

from petri.hull import COST_METRICS, cost_axis


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses nan and ±inf, which slip past open-ended bounds."""

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{rv} is not a finite number.", param, ctx)
        return rv


def setting_type(cls, name: str) -> click.ParamType:
    """The type of an option that sets field `name` of config dataclass `cls`: the range its
    `petri.config.setting` declares, so the command line and config files agree."""
    bounds = next(f for f in dataclasses.fields(cls) if f.name == name).metadata
    hint = typing.get_type_hints(cls)[name]
    kind = click.IntRange if int in (hint, *typing.get_args(hint)) else FiniteRange
    return kind(bounds.get("ge", bounds.get("gt")), bounds.get("le", bounds.get("lt")),
                min_open="gt" in bounds, max_open="lt" in bounds)


class CostAxis(click.Choice):
    """`--cost`: macs, params or memory, the names `hull.cost` takes; the value is the point
    field the cost is read from (memory: activation_bytes). A field name typed for an axis is
    refused with the axis's name, so one spelling holds on the command line and in configs."""

    def __init__(self):
        super().__init__(sorted(COST_METRICS))

    def convert(self, value, param, ctx):
        axis = cost_axis(value)
        if axis is not None and axis != value:
            self.fail(f"{value!r} is spelled {axis!r} (as in hull.cost).", param, ctx)
        return COST_METRICS[super().convert(value, param, ctx)]


def set_option(example: str):
    """`--set KEY=VALUE`, repeatable. `--set KEY VALUE` (a space) would leave VALUE to click,
    which calls it an unexpected extra argument; a value without `=` is refused here first,
    naming the form."""
    def check(ctx, param, values):
        for v in values:
            if "=" not in v:
                raise click.BadParameter(f"{v!r} is not KEY=VALUE; write it as one word, "
                                         f"--set {v}=VALUE (no space around '=')", ctx, param)
        return values

    return click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", callback=check,
                        help=f"Override a config value, e.g. --set {example} (repeatable).")


def cost_option(help: str):
    return click.option("--cost", type=CostAxis(), default=None, help=help)


class Device(click.ParamType):
    """cpu, cuda, cuda:N (checked against the GPUs torch sees) or auto: cuda if there is one."""

    name = "device"

    def convert(self, value, param, ctx):
        import torch

        if value == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        m = re.fullmatch(r"cpu|cuda(?::(\d+))?", value)
        if m is None:
            self.fail(f"{value!r} is not a device; use cpu, cuda, cuda:N or auto.", param, ctx)
        if value != "cpu":
            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if n == 0:
                self.fail(f"{value}: torch {torch.__version__} sees no CUDA GPU here; use cpu.",
                          param, ctx)
            if m.group(1) is not None and int(m.group(1)) >= n:
                self.fail(f"{value}: there {'is' if n == 1 else 'are'} {n} GPU(s) here, "
                          f"cuda:0 to cuda:{n - 1}.", param, ctx)
        return value


class RunPath(click.Path):
    """A run dir, or an archive `petri archive` wrote: read from its copy in the cache."""

    def __init__(self, exists: bool = False):
        super().__init__(exists=exists)

    def convert(self, value, param, ctx):
        from petri.archive import extracted, is_archive

        value = super().convert(value, param, ctx)
        return str(extracted(value)) if is_archive(value) else value
