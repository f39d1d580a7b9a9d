"""Render benchmark: 1,000 sites the size of the full example, against two yardsticks measured in the same run.

- floor: dumping the very same final objects to YAML with libyaml (the least any YAML renderer must pay);
- kubectl kustomize over the same rendered folder (the step GitOps pipelines run today).
Goals: the whole render costs at most 3x the floor, and is at least 3x faster than kustomize.
Prints figures; asserts nothing (performance targets live here, not in timed tests).
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from edgesite.output import kustomize_files, to_yaml, write_folder
from edgesite.render import render
from edgesite.validation import load_sites

REPO = Path(__file__).resolve().parents[1]
SITES = int(os.environ.get("BENCH_SITES", "1000"))
KUSTOMIZE_SITES = int(os.environ.get("BENCH_KUSTOMIZE_SITES", "100"))


def site_texts(count: int) -> list[str]:
    template = (REPO / "examples" / "full.yaml").read_text()
    return [template.replace("plant-hamburg", f"plant-{index:04d}") for index in range(count)]


def kubectl() -> str | None:
    cache = Path.home() / ".cache" / "edgesite-cluster" / "bin"
    built = sorted(cache.glob("*/kubectl"))
    return str(built[-1]) if built else shutil.which("kubectl")


def timed(function, *args):  # type: ignore[no-untyped-def]
    gc.collect()
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    print(f"python {sys.version.split()[0]}, libyaml {yaml.__with_libyaml__}, {SITES} sites like examples/full.yaml")
    texts = site_texts(SITES)

    def whole(texts: list[str]) -> str:
        sites = load_sites([(f"site-{i}.yaml", text) for i, text in enumerate(texts)])
        return to_yaml(o for site in sites for o in render(site))

    def objects_only(texts: list[str]) -> list[dict]:
        sites = load_sites([(f"site-{i}.yaml", text) for i, text in enumerate(texts)])
        return [o for site in sites for o in render(site)]

    objects, operator_seconds = timed(objects_only, texts)
    _, floor_seconds = timed(to_yaml, objects)
    text, render_seconds = timed(whole, texts)
    count = len(objects)
    print(f"objects: {count} ({count // SITES} per site), YAML {len(text) / 2**20:.1f} MiB")
    print(f"render (parse + validate + render + YAML): {render_seconds:.2f} s = {SITES / render_seconds:,.0f} sites/s, "
          f"{count / render_seconds:,.0f} objects/s")
    print(f"floor  (CSafeDumper of the same objects):  {floor_seconds:.2f} s = {SITES / floor_seconds:,.0f} sites/s"
          f"  -> render/floor = {render_seconds / floor_seconds:.2f}x (goal <= 3x)")
    print(f"operator path (objects, no YAML text):     {operator_seconds:.2f} s = {SITES / operator_seconds:,.0f} sites/s")
    binary = kubectl()
    if binary:
        # kustomize grows faster than linearly with the folder (200 sites took 104 s here), so it builds
        # the first KUSTOMIZE_SITES sites; per-site figures are compared, which favours kustomize.
        few = min(SITES, KUSTOMIZE_SITES)
        per_site = count // SITES
        _, few_render_seconds = timed(whole, texts[:few])
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "site"
            write_folder(target, kustomize_files(objects[: few * per_site]))
            start = time.perf_counter()
            subprocess.run([binary, "kustomize", str(target)], check=True, stdout=subprocess.DEVNULL)
            kustomize_seconds = time.perf_counter() - start
        print(f"kubectl kustomize over the rendered folder of {few} sites: {kustomize_seconds:.2f} s = {few / kustomize_seconds:,.1f} sites/s;"
              f" edgesite on the same {few} sites: {few_render_seconds:.2f} s"
              f"  -> kustomize/render = {kustomize_seconds / few_render_seconds:.1f}x (goal >= 3x)  [{binary}]")
    else:
        print("kubectl kustomize: no kubectl found (make cluster-binaries)")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
