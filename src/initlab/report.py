"""The study's one-page HTML report: a template context built from the result files, rendered
with Jinja2 into a self-contained page (figures as data URIs, CSS and JavaScript inline).

Everything the page says is computed here from the numbers; the template only lays it out.
Jinja2 autoescapes every value, so names from the dataset or the model cannot inject markup.
A missing or malformed input is an error naming the file and key, never a half-empty page.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import math
import mimetypes
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path

import jinja2
import numpy as np
import yaml
from PIL import Image, UnidentifiedImageError  # Pillow, a dependency of matplotlib

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]  # the checkout the package is installed from
TEMPLATE_DIR = resources.files("initlab") / "resources" / "templates"  # package data
TEMPLATE = "report.html.j2"
CSS = "report.css"

# The figures each stage writes (the OUTPUT FILES contract): key -> (title, what it shows).
VARIANT_FIGURES: dict[str, tuple[str, str]] = {
    "loss": ("Loss curve", "Training loss (log10, smoothed), one band over seeds."),
    "activations": ("Activations", "Histogram of every tanh layer's outputs at each capture "
                    "step, with mean, std and the share saturated (|t| > 0.97)."),
    "gradients": ("Activation gradients", "Histogram of the gradient reaching each tanh "
                  "layer's output at each capture step."),
    "weight_gradients": ("Weight gradients", "Gradient histograms per weight matrix, with "
                         "the grad:data std ratio."),
    "saturation": ("Saturation map", "Tanh units (columns) by probe examples (rows); white "
                   "where |h| > 0.99."),
    "update_ratio": ("Update:data ratio", "log10(lr·std(grad)/std(data)) per weight matrix "
                     "over training; the dashed guide is at −3."),
}
CROSS_FIGURES: dict[str, tuple[str, str]] = {
    "loss_curves": ("Loss curves, all variants", "Smoothed training loss (log10) of every "
                    "variant, overlaid."),
    "initial_loss": ("Step-0 loss", "Loss before the first update, per variant, against "
                     "the uniform baseline −ln(1/V)."),
    "dev_loss": ("Final dev loss", "Dev loss after training, mean ± std over seeds."),
    "gain_activations": ("Gain vs activations", "Tanh activation histograms per layer of the "
                         "deep variants, side by side."),
    "gain_gradients": ("Gain vs gradients", "Tanh output-gradient histograms per layer of the "
                       "deep variants, side by side."),
}
WIDE_FIGURE_PX = 1000  # figures at least this wide (many panels) get the page's full width
PACKAGES = ("torch", "snakemake", "numpy", "matplotlib", "jinja2", "pyyaml")
SPLITS = ("train", "dev", "test")
SATURATION_STEPS = (0, 1000)  # the comparison table's "% saturated at step N" columns

# What the summary calls unhealthy. Thresholds are judgement calls, stated on the page.
LOSS_RATIO_FLAG = 1.5  # step-0 loss above this multiple of the uniform loss
SATURATED_FLAG = 0.25  # share of tanh outputs with |t| > 0.97 at step 0 (seed/layer mean)
DEAD_FLAG = 0.05  # share of units saturated on every probe example, at any capture step
STD_SHRINK_FLAG = 0.25  # last tanh layer's activation std / first layer's, at step 0
GRAD_SPREAD_FLAG = 10.0  # max / min tanh-output gradient std over layers, at step 0


class ReportError(ValueError):
    """An input the report cannot use; the message names the file and key."""


# ---------------------------------------------------------------------------------------------
# Reading inputs


def read_json(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err})") from None


def need(obj: dict, key: str, source: str | Path):
    """obj[key], or a ReportError naming the file and the missing key."""
    if not isinstance(obj, dict) or key not in obj:
        raise ReportError(f"{source}: missing key {key!r}")
    return obj[key]


def read_diagnostics(path: str | Path) -> dict[str, np.ndarray]:
    keys = ("capture_steps", "act_mean", "act_std", "act_saturated", "act_dead", "agrad_std",
            "wgrad_std", "wgrad_ratio", "layer_names", "weight_names")
    try:
        with np.load(path) as npz:
            missing = [k for k in keys if k not in npz.files]
            if missing:
                raise ReportError(f"{path}: missing arrays {missing}")
            return {k: npz[k] for k in keys}
    except FileNotFoundError:
        raise ReportError(f"{path}: file not found") from None


def by_variant(paths: Sequence[str | Path], variants: Sequence[str],
               keys: Sequence[str]) -> dict[str, dict[str, Path]]:
    """Regroup a flat, variant-major list of figure paths into {variant: {key: path}}.

    Checks every path's variant folder and file name, so a reordered input list fails loudly
    instead of captioning one variant's figure with another's name.
    """
    if len(paths) != len(variants) * len(keys):
        raise ReportError(f"expected {len(variants)} variants x {len(keys)} figures, "
                          f"got {len(paths)} paths")
    grouped: dict[str, dict[str, Path]] = {}
    it = iter(paths)
    for variant in variants:
        grouped[variant] = {}
        for key in keys:
            path = Path(next(it))
            if path.stem != key or variant not in path.parts:
                raise ReportError(f"figure {path} is not {key!r} of variant {variant!r}")
            grouped[variant][key] = path
    return grouped


def read_benchmarks(paths: Iterable[str | Path]) -> tuple[float, int]:
    """(sum of wall seconds, number of jobs) over Snakemake benchmark .tsv files."""
    total, jobs = 0.0, 0
    for path in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                try:
                    total += float(row["s"])
                except (KeyError, TypeError, ValueError):
                    raise ReportError(f"{path}: no numeric `s` column") from None
                jobs += 1
    return total, jobs


# ---------------------------------------------------------------------------------------------
# Numbers -> rows


def _mean(values: np.ndarray) -> float | None:
    """Mean over the finite entries (a diverged seed records NaN), None if there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else None


def capture_index(diag: dict, step: int) -> int | None:
    steps = [int(s) for s in diag["capture_steps"]]
    return steps.index(step) if step in steps else None


def saturation_at(diag: dict, step: int) -> float | None:
    """Share of tanh outputs with |t| > 0.97 at `step`, averaged over seeds and layers."""
    k = capture_index(diag, step)
    return None if k is None else _mean(diag["act_saturated"][k])


def layer_rows(diag: dict) -> list[dict]:
    """Per capture step and tanh layer: seed-averaged activation and gradient statistics."""
    rows = []
    for k, step in enumerate(diag["capture_steps"]):
        for layer, name in enumerate(diag["layer_names"]):
            rows.append({
                "step": int(step), "layer": str(name),
                "act_mean": _mean(diag["act_mean"][k, :, layer]),
                "act_std": _mean(diag["act_std"][k, :, layer]),
                "saturated": _mean(diag["act_saturated"][k, :, layer]),
                "dead": _mean(diag["act_dead"][k, :, layer]),
                "grad_std": _mean(diag["agrad_std"][k, :, layer]),
            })
    return rows


def weight_rows(diag: dict) -> list[dict]:
    """Per capture step and weight matrix: seed-averaged gradient std and grad:data ratio."""
    rows = []
    for k, step in enumerate(diag["capture_steps"]):
        for p, name in enumerate(diag["weight_names"]):
            rows.append({"step": int(step), "weight": str(name),
                         "grad_std": _mean(diag["wgrad_std"][k, :, p]),
                         "ratio": _mean(diag["wgrad_ratio"][k, :, p])})
    return rows


def health_problems(metrics: dict, diag: dict) -> list[str]:
    """Why a variant is unhealthy, most serious first; empty when nothing crossed a flag."""
    problems = []
    if metrics["status"] != "ok":
        diverged = [s for s, at in zip(metrics["seeds"], metrics["diverged_at"], strict=True)
                    if at is not None]
        steps = [at for at in metrics["diverged_at"] if at is not None]
        problems.append(f"{len(diverged)} of {len(metrics['seeds'])} seeds diverged "
                        f"(non-finite loss from step {min(steps)})" if steps else "it diverged")
    start, uniform = metrics["initial_loss"]["mean"], metrics["expected_initial_loss"]
    if start is not None and start > LOSS_RATIO_FLAG * uniform:
        problems.append(f"its step-0 loss was {start:.2f}, {start / uniform:.1f}× the uniform "
                        f"{uniform:.2f}")
    sat0 = saturation_at(diag, 0)
    if sat0 is not None and sat0 > SATURATED_FLAG:
        problems.append(f"{sat0:.0%} of its tanh outputs were saturated (|t| > 0.97) at step 0")
    dead = [_mean(diag["act_dead"][k]) for k in range(len(diag["capture_steps"]))]
    worst_dead = max((d for d in dead if d is not None), default=None)
    if worst_dead is not None and worst_dead > DEAD_FLAG:
        step = int(diag["capture_steps"][dead.index(worst_dead)])
        problems.append(f"{worst_dead:.0%} of its tanh units were dead (saturated on every "
                        f"probe example) at step {step}")
    k0 = capture_index(diag, 0)
    if k0 is not None and len(diag["layer_names"]) > 1:
        stds = [_mean(diag["act_std"][k0, :, layer]) for layer in range(len(diag["layer_names"]))]
        if None not in stds and stds[0] > 0 and stds[-1] / stds[0] < STD_SHRINK_FLAG:
            problems.append(f"its activation std shrank with depth from {stds[0]:.2f} "
                            f"({diag['layer_names'][0]}) to {stds[-1]:.2f} "
                            f"({diag['layer_names'][-1]}) at step 0")
        grads = [_mean(diag["agrad_std"][k0, :, layer])
                 for layer in range(len(diag["layer_names"]))]
        if None not in grads and min(grads) > 0 and max(grads) / min(grads) > GRAD_SPREAD_FLAG:
            problems.append(f"its tanh-output gradient std differed {max(grads) / min(grads):.0f}× "
                            "between layers at step 0")
    return problems


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _severity(variant: dict) -> tuple:
    """Sort key for 'least healthy': divergence, then how many flags, then the step-0 excess."""
    m = variant["metrics"]
    start = m["initial_loss"]["mean"]
    ratio = start / m["expected_initial_loss"] if start is not None else math.inf
    return (m["status"] != "ok", len(variant["problems"]), ratio, variant["sat0"] or 0.0)


def summary_sentences(variants: list[dict]) -> list[str]:
    """Three sentences answering the study's question, computed from the numbers."""
    uniform = variants[0]["metrics"]["expected_initial_loss"]
    started = [v for v in variants if v["metrics"]["initial_loss"]["mean"] is not None]
    if started:
        closest = min(started, key=lambda v: abs(v["metrics"]["initial_loss"]["mean"] - uniform))
        farthest = max(started, key=lambda v: abs(v["metrics"]["initial_loss"]["mean"] - uniform))
        far = farthest["metrics"]["initial_loss"]["mean"]
        first = (f"{closest['name']} started closest to the uniform loss −ln(1/V) = "
                 f"{uniform:.3f}, at {closest['metrics']['initial_loss']['mean']:.3f}; "
                 f"{farthest['name']} started farthest from it, at {far:.3f} "
                 f"({far / uniform:.1f}× uniform).")
    else:
        first = "No variant had a finite loss at step 0."

    finished = [v for v in variants if v["metrics"]["dev"]["mean"] is not None]
    if finished:
        best = min(finished, key=lambda v: v["metrics"]["dev"]["mean"])
        worst = max(finished, key=lambda v: v["metrics"]["dev"]["mean"])
        dev = best["metrics"]["dev"]
        second = (f"{best['name']} ended best on dev, at {dev['mean']:.3f} ± "
                  f"{_fmt(dev['std'])} over {len(dev['per_seed'])} seeds "
                  f"(test {_fmt(best['metrics']['test']['mean'])}); {worst['name']} ended worst, "
                  f"at {worst['metrics']['dev']['mean']:.3f}.")
    else:
        second = "No variant finished training: every seed of every variant diverged."

    flagged = sorted((v for v in variants if v["problems"]), key=_severity, reverse=True)
    if flagged:
        worst, others = flagged[0], flagged[1:]
        third = f"The least healthy was {worst['name']}: {'; '.join(worst['problems'])}"
        if others:
            third += "; also flagged: " + ", ".join(
                f"{v['name']} ({v['problems'][0]})" for v in others)
        third += "."
    else:
        third = ("No variant looked unhealthy: none diverged, started above "
                 f"{LOSS_RATIO_FLAG}× the uniform loss or had over {SATURATED_FLAG:.0%} of its "
                 "tanh outputs saturated at step 0.")
    return [first, second, third]


def comparison_rows(variants: list[dict]) -> tuple[list[dict], dict[str, set[str]]]:
    """One row per variant for the comparison table, and per column the best variant(s)."""
    rows = []
    for v in variants:
        m = v["metrics"]
        start = m["initial_loss"]["mean"]
        row = {
            "name": v["name"], "n_params": m["n_params"],
            "start": start, "start_std": m["initial_loss"]["std"],
            "excess": None if start is None else start - m["expected_initial_loss"],
            "train_seconds": m["train_seconds"], "status": m["status"],
            "saturation": {step: saturation_at(v["diag"], step) for step in SATURATION_STEPS},
        }
        for split in SPLITS:
            row[split] = m[split]["mean"]
            row[split + "_std"] = m[split]["std"]
        rows.append(row)

    def best(column: str, key) -> set[str]:
        scored = [(key(r), r["name"]) for r in rows if key(r) is not None]
        if not scored:
            return set()
        top = min(score for score, _ in scored)
        return {name for score, name in scored if score == top}

    best_of = {
        "start": best("start", lambda r: None if r["excess"] is None else abs(r["excess"])),
        **{split: best(split, lambda r, s=split: r[s]) for split in SPLITS},
        **{f"sat{step}": best(f"sat{step}", lambda r, s=step: r["saturation"][s])
           for step in SATURATION_STEPS},
        "train_seconds": best("train_seconds", lambda r: r["train_seconds"]),
    }
    return rows, best_of


def sample_table(samples: dict[str, dict]) -> list[list[dict | None]]:
    """Generated names side by side: row i holds every variant's i-th sample (or None)."""
    columns = [s["samples"] for s in samples.values()]
    height = max((len(c) for c in columns), default=0)
    return [[c[i] if i < len(c) else None for c in columns] for i in range(height)]


def json_tables(obj: dict) -> dict:
    """A JSON document (e.g. variance.json) as printable tables: top-level scalars and short
    lists as (key, value) rows, and every list of records as a table with one column per key."""
    scalars, tables = [], []
    for key, value in obj.items():
        if isinstance(value, list) and value and all(isinstance(x, dict) for x in value):
            columns = list(dict.fromkeys(k for record in value for k in record))
            tables.append({"name": key, "columns": columns,
                           "rows": [[_short(r.get(c, "–")) for c in columns] for r in value]})
        elif isinstance(value, dict):
            nested = json_tables(value)
            scalars += [(f"{key}.{k}", v) for k, v in nested["scalars"]]
            tables += [{**t, "name": f"{key}.{t['name']}"} for t in nested["tables"]]
        elif isinstance(value, list):
            shown = ", ".join(_short(x) for x in value[:12])
            scalars.append((key, f"[{shown}{', …' if len(value) > 12 else ''}]"))
        else:
            scalars.append((key, _short(value)))
    return {"scalars": scalars, "tables": tables}


def _short(x) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def evenly_spaced(items: Sequence[str], n: int) -> list[str]:
    if len(items) <= n:
        return list(items)
    return [items[round(i * (len(items) - 1) / (n - 1))] for i in range(n)]


class _PlainDumper(yaml.SafeDumper):
    """Writes shared objects out in full: schema defaults are one dict object reused by many
    variants, which plain safe_dump would print as &id001 anchors and *id001 aliases."""

    def ignore_aliases(self, data) -> bool:
        return True


def to_yaml(obj) -> str:
    """YAML as a person writes it: key order kept, innermost mappings on one line."""
    return yaml.dump(obj, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True,
                     default_flow_style=None, width=90)


# ---------------------------------------------------------------------------------------------
# Provenance


def git_commit(repo: str | Path) -> str:
    """HEAD of the repository the workflow ran from, marked when the tree has edits."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head} (with uncommitted changes)" if dirty else head


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine() -> dict[str, str]:
    return {"Platform": platform.platform(), "Architecture": platform.machine(),
            "Processor": platform.processor() or "unknown", "CPU count": str(os.cpu_count()),
            "Python": sys.executable}


# ---------------------------------------------------------------------------------------------
# Context and rendering


@dataclass
class ReportInputs:
    """Every file the report reads; the `report` rule fills it from its inputs."""

    config: dict
    variants: list[str]
    data_summary: Path
    clean_summary: Path
    names: Path
    metrics: dict[str, Path]
    diagnostics: dict[str, Path]
    samples: dict[str, Path]
    variant_figures: dict[str, dict[str, Path]]
    figures: dict[str, Path]
    variance: Path
    variance_figure: Path
    benchmarks: list[Path] = field(default_factory=list)
    repo: Path | None = REPO  # for the git commit; None: "unknown"


def _figure(path: Path, title: str, caption: str) -> dict:
    """A figure's path, words and pixel size; a wide one spans the page's full width."""
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except FileNotFoundError:
        raise ReportError(f"{path}: figure not found") from None
    except UnidentifiedImageError:
        raise ReportError(f"{path}: not a readable image") from None
    return {"path": str(path), "title": title, "caption": caption, "width": width,
            "height": height, "wide": width >= WIDE_FIGURE_PX}


def build_context(inputs: ReportInputs, now: datetime | None = None) -> dict:
    """Read every input and compute everything the template shows."""
    config = inputs.config
    data = read_json(inputs.data_summary)
    clean = read_json(inputs.clean_summary)
    names = inputs.names.read_text(encoding="utf-8").split()

    variants = []
    for name in inputs.variants:
        metrics = read_json(inputs.metrics[name])
        for key in ("n_params", "expected_initial_loss", "initial_loss", *SPLITS, "seeds",
                    "train_seconds", "diverged_at", "status"):
            need(metrics, key, inputs.metrics[name])
        diag = read_diagnostics(inputs.diagnostics[name])
        samples = read_json(inputs.samples[name])
        for key in ("samples", "copy_share", "mean_length", "dataset_mean_length"):
            need(samples, key, inputs.samples[name])
        figures = inputs.variant_figures[name]
        missing = [k for k in VARIANT_FIGURES if k not in figures]
        if missing:
            raise ReportError(f"variant {name!r}: no figures {missing}")
        declared = need(config["variants"], name, "config `variants`")
        variants.append({
            "name": name,
            "description": declared.get("description", ""),
            "spec_yaml": to_yaml({name: declared}),
            "metrics": metrics, "diag": diag, "samples": samples,
            "sat0": saturation_at(diag, 0),
            "layers": layer_rows(diag), "weights": weight_rows(diag),
            "figures": [_figure(figures[k], *VARIANT_FIGURES[k]) for k in VARIANT_FIGURES],
        })
        variants[-1]["problems"] = health_problems(metrics, diag)
    if not variants:
        raise ReportError("no variants to report")

    rows, best_of = comparison_rows(variants)
    missing = [k for k in CROSS_FIGURES if k not in inputs.figures]
    if missing:
        raise ReportError(f"no cross-variant figures {missing}")
    variance = read_json(inputs.variance)
    bench_seconds, bench_jobs = read_benchmarks(inputs.benchmarks)
    train_seconds = sum(v["metrics"]["train_seconds"] for v in variants)
    for v in variants:
        del v["diag"]  # arrays stay out of the template context

    return {
        "title": f"initlab: weight initialization study — {config.get('dataset_label', '')}",
        "summary": summary_sentences(variants),
        "flags": {"loss_ratio": LOSS_RATIO_FLAG, "saturated": SATURATED_FLAG, "dead": DEAD_FLAG,
                  "std_shrink": STD_SHRINK_FLAG, "grad_spread": GRAD_SPREAD_FLAG},
        "dataset": {
            "path": config["dataset"], "label": config.get("dataset_label", ""),
            "clean": clean, "summary": data,
            "examples_changed": clean.get("examples_changed", [])[:6],
            "examples_dropped": clean.get("examples_dropped", [])[:6],
            "examples": evenly_spaced(names, 12),
        },
        "uniform_loss": variants[0]["metrics"]["expected_initial_loss"],
        "saturation_steps": SATURATION_STEPS,
        "rows": rows, "best": best_of,
        "figures": [_figure(inputs.figures[k], *CROSS_FIGURES[k]) for k in CROSS_FIGURES],
        "variance": {"figure": _figure(inputs.variance_figure, "Variance growth",
                                       "Spread of x @ w for unit-variance x as the fan-in n "
                                       "grows: w ~ N(0, 1) against w / √n."),
                     **json_tables(variance)},
        "variants": variants,
        "sample_columns": [v["name"] for v in variants],
        "sample_rows": sample_table({v["name"]: v["samples"] for v in variants}),
        "provenance": {
            "config_yaml": to_yaml(config),
            "commit": git_commit(inputs.repo) if inputs.repo else "unknown",
            "versions": package_versions(), "machine": machine(),
            "date": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "train_seconds": train_seconds, "bench_seconds": bench_seconds,
            "bench_jobs": bench_jobs,
        },
    }


def data_uri(path: str | Path) -> str:
    """A file as a data: URI, so the page needs nothing beside itself."""
    path = Path(path)
    mime = mimetypes.guess_type(path.name)[0]
    if mime is None or not mime.startswith("image/"):
        raise ReportError(f"{path}: not an image file the report can embed")
    try:
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
    except FileNotFoundError:
        raise ReportError(f"{path}: figure not found") from None
    return f"data:{mime};base64,{payload}"


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"


def _sci(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}e}"


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f} %"


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 120:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s"


def environment(template_dir: str | Path = TEMPLATE_DIR) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                             autoescape=True,  # every value is escaped unless marked safe
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(data_uri=data_uri, num=_num, sci=_sci, pct=_pct, seconds=_seconds)
    return env


def render(context: dict, template_dir: str | Path = TEMPLATE_DIR) -> str:
    """The page as a string; the CSS file beside the template is inlined."""
    template_dir = Path(template_dir)
    css = (template_dir / CSS).read_text(encoding="utf-8")
    return environment(template_dir).get_template(TEMPLATE).render(**context, css=css)


def write_report(inputs: ReportInputs, output: str | Path,
                 template_dir: str | Path = TEMPLATE_DIR) -> int:
    """Build, render and write the report; returns its size in bytes."""
    html = render(build_context(inputs), template_dir)
    Path(output).write_text(html, encoding="utf-8")
    size = Path(output).stat().st_size
    log.info("wrote %s: %.2f MB, %d variants", output, size / 1e6, len(inputs.variants))
    return size
