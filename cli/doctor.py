"""`petri doctor`: what a bug report needs, and whether this machine's kernels compute the
supernet's fast forms (NHWC, compiled) as the plain form does."""
from __future__ import annotations

import json
from dataclasses import asdict

import click


@click.command()
@click.option("--threads", "threads", type=int, multiple=True,
              help="Thread counts to check the fast forms at (repeatable; default: 1 and the "
                   "number torch uses here, as workers run with either).")
@click.option("--form", "forms", multiple=True, default=None,
              help="Fast forms to check (default: eager-nhwc, what workers run): eager-nhwc, "
                   "inductor-nchw, inductor-nhwc, ... (compiled forms take minutes the first "
                   "time).")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default=None,
              help="Where to check (default: cuda where torch sees one, and the cpu).")
@click.option("--recheck", is_flag=True, help="Check again instead of reading the cached "
                                               "verdicts.")
@click.option("--json", "as_json", is_flag=True, help="Print the facts and verdicts as JSON.")
def doctor(threads, forms, device, recheck, as_json):
    """Versions, kernels, devices and disk, then this machine's verdict on each fast form.

    A verdict compares the form's gradients with the plain form's (eager NCHW, float32) and a
    float64 reference on the device itself, in a fresh process (a kernel that aborts or hangs
    is a finding, not a crash). Workers read the same cached verdicts and train in NCHW with
    one warning line where a form disagrees. Exit code 1 when any form disagrees.
    """
    import torch

    from petri.algos.darts import fastcheck
    from petri.doctor import facts

    forms = forms or (fastcheck.FAST,)
    bad = [f for f in forms if f not in fastcheck.FORMS or f == fastcheck.PLAIN]
    if bad:
        raise click.UsageError(f"unknown fast form {bad[0]!r}; choose from "
                               f"{', '.join(f for f in fastcheck.FORMS if f != fastcheck.PLAIN)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise click.UsageError("--device cuda: torch sees no CUDA device here "
                               f"(torch {torch.__version__})")
    devices = [device] if device else (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]
    threads = sorted(set(threads or (1, torch.get_num_threads())))
    report = facts()
    if not as_json:
        width = max(len(f.name) for f in report)
        for f in report:
            click.echo(f"{f.name:<{width}}  {f.value}")
        click.echo(f"fast forms (cache {fastcheck.cache_path()}):")
    verdicts = []
    for dev in devices:
        for form in forms:
            for n in threads:
                v = fastcheck.verdict(form, n, dev, refresh=recheck)
                verdicts.append(v)
                if not as_json:
                    use = "used" if v.ok else f"not used: workers train in {fastcheck.PLAIN}"
                    click.echo(f"  {form} on {dev}, {n} thread(s): {v.detail} -> {use}")
    if as_json:
        click.echo(json.dumps({"facts": {f.name: f.value for f in report},
                               "fast_forms": [asdict(v) for v in verdicts]}))
    if not all(v.ok for v in verdicts):
        raise SystemExit(1)
