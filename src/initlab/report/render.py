"""Context assembly and rendering: read every input, ask the judgement, table, chart and
provenance modules for their parts, and render one self-contained page with Jinja2 (figures as
data URIs; CSS, JavaScript and chart data inline).

Jinja2 autoescapes every value, so names from the dataset or the model cannot inject markup.
Feature stages (theory, paired comparisons, sweeps, isometry, residual stacks) plug in through
their own `report_context` and partial template; a feature that is absent leaves its section out.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import jinja2
from PIL import Image, UnidentifiedImageError  # Pillow, a dependency of matplotlib

from initlab.activations import activation
from initlab.config.variants import palette_order, variant_groups
from initlab.data import SPLITS
from initlab.figures import registry as figures
from initlab.files import read_json
from initlab.numbers import duration, fmt, pct, signed
from initlab.report import compare, isometry, lessons, residual, sweeps, theory

from . import charts, judgement, provenance, tables
from .inputs import ReportError, ReportInputs, need, read_diagnostics, read_losses
from .measures import layer_profile, saturation_at

log = logging.getLogger(__name__)

RESOURCES = resources.files("initlab") / "resources"  # package data
TEMPLATE_DIR = RESOURCES / "templates"
VENDOR_DIR = RESOURCES / "vendor"
TEMPLATE = "report.html.j2"
CSS = "report.css"
SCRIPT = "charts.js"  # the page's own script: sortable table and interactive charts
VENDOR_SCRIPTS = ("uPlot.iife.min.js",)
VENDOR_STYLES = ("uPlot.min.css",)
# context key = partial _<key>.html.j2
FEATURES = ("theory", "comparisons", "sweeps", "isometry", "residual")
LAYER_FIGURE = "layer_stats"  # the theory stage's per-layer figure (results/theory/{key}.png)
WIDE_FIGURE_PX = 1000  # figures at least this wide (many panels) get the page's full width


def _titles(registry: dict) -> dict[str, tuple[str, str]]:
    return {key: (info.title, info.caption) for key, info in registry.items()}


def _in_words_of(info, act) -> tuple[str, str]:
    """(title, caption) of a registry figure in the words of one activation."""
    info = figures.for_activation(info, act)
    return info.title, info.caption


# The figures each stage writes, with their titles and captions: from the one registry
# (initlab.figures.registry) that the rules and the plots also read.
VARIANT_FIGURES = _titles(figures.VARIANT_FIGURES)
CROSS_FIGURES = _titles(figures.CROSS_FIGURES)
GROUP_FIGURES = _titles(figures.GROUP_FIGURES)


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


# Each feature stage's module turns its JSON into the context of its section (partial).
FEATURE_MODULES = {"theory": theory, "compare": compare, "sweeps": sweeps,
                   "isometry": isometry, "residual": residual}


def _feature_context(module: str, *args) -> dict:
    """initlab.<module>.report_context(*args): one seam, so tests can leave sections out."""
    return FEATURE_MODULES[module].report_context(*args)


def _summary(variants: list[dict], comparisons: dict | None, theory_json: dict | None
             ) -> tuple[list[str], bool]:
    """(sentences, from the lessons?): the lessons computed from the paired comparisons when
    the study has them, else the per-variant sentences of initlab.report.judgement."""
    if comparisons is not None:
        metrics = {v["name"]: v["metrics"] for v in variants}
        return lessons.summary_sentences(comparisons, theory_json, metrics), True
    return judgement.summary_sentences(variants), False


def _partials(template_dir: Path) -> list[str]:
    return [f for f in FEATURES if (Path(template_dir) / f"_{f}.html.j2").is_file()]


def _variant_section(inputs: ReportInputs, name: str) -> dict:
    """One variant's files read and checked, and what its section shows."""
    metrics = read_json(inputs.metrics[name])
    for key in ("n_params", "expected_initial_loss", "initial_loss", *SPLITS, "seeds",
                "train_seconds", "diverged_at", "status"):
        need(metrics, key, inputs.metrics[name])
    diag = read_diagnostics(inputs.diagnostics[name])
    samples = read_json(inputs.samples[name])
    for key in ("samples", "copy_share", "mean_length", "dataset_mean_length"):
        need(samples, key, inputs.samples[name])
    drawn = inputs.variant_figures[name]
    missing = [k for k in VARIANT_FIGURES if k not in drawn]
    if missing:
        raise ReportError(f"variant {name!r}: no figures {missing}")
    declared = need(inputs.config["variants"], name, "config `variants`")
    act = activation((declared.get("model") or {}).get("activation", "tanh"))
    variant = {
        "name": name,
        "description": declared.get("description", ""),
        "spec_yaml": tables.to_yaml({name: declared}),
        "metrics": metrics, "diag": diag, "samples": samples,
        "sat0": saturation_at(diag, 0),
        "layers": tables.layer_rows(diag), "weights": tables.weight_rows(diag),
        "figures": [_figure(drawn[k], *_in_words_of(figures.VARIANT_FIGURES[k], act))
                    for k in VARIANT_FIGURES],
        "problems": judgement.health_problems(metrics, diag, act.name),
        "activation": {"name": act.name, "label": act.label, "health": act.health,
                       "rule": act.health_rule, "short": act.health_short,
                       "dead": act.dead_rule},
    }
    variant["headline"] = tables.headline(variant)
    return variant


def _activations_used(variants: list[dict]) -> list[dict]:
    """The activations of the reported variants, in first-use order, for the page's keys."""
    seen: dict[str, dict] = {}
    for v in variants:
        seen.setdefault(v["activation"]["name"], v["activation"])
    return list(seen.values())


def _feature_sections(inputs: ReportInputs, metrics: dict[str, dict]
                      ) -> tuple[dict, dict | None, dict | None]:
    """(the sections of the features whose files the rule passed, theory.json,
    comparisons.json); a section is None when its feature is absent. The isometry section
    reads the theory's spectra, the comparisons and the sweeps (and `metrics`, per variant)."""
    theory_json = read_json(inputs.theory) if inputs.theory else None
    comparisons = read_json(inputs.comparisons) if inputs.comparisons else None
    sweep_jsons = {name: read_json(path) for name, path in inputs.sweeps.items()}
    features = {
        "theory": _feature_context("theory", theory_json, dict(inputs.theory_figures))
        if theory_json is not None else None,
        "comparisons": _feature_context("compare", comparisons, dict(inputs.comparison_figures))
        if comparisons is not None else None,
        "sweeps": _feature_context("sweeps", sweep_jsons, dict(inputs.sweep_figures))
        if sweep_jsons else None,
        "isometry": _feature_context("isometry", theory_json, comparisons, sweep_jsons, metrics,
                                     dict(inputs.theory_figures), dict(inputs.sweep_figures)),
        # None without a residual variant: a study of plain stacks has no such section
        "residual": _feature_context("residual", theory_json, dict(inputs.residual_figures))
        if theory_json is not None else None,
    }
    if features["isometry"] is not None and features["sweeps"] is not None:
        # a sweep's spectrum figure sits in the isometry section when that section tells it
        told = {s["name"] for s in features["isometry"]["sweeps"] if s["figure"]}
        for entry in features["sweeps"]["entries"]:
            if entry["name"] in told:
                entry["figures"] = [f for f in entry["figures"] if f["key"] != isometry.FIGURE]
    return features, theory_json, comparisons


def _without_charted_figures(features: dict, interactive: list[dict]) -> dict:
    """A PNG that is an interactive chart's fallback is embedded there, not a second time in
    its feature's section."""
    charted = {c["id"]: c for c in interactive}
    if features["comparisons"] is not None and charted.get("forest", {}).get("fallback"):
        features["comparisons"]["figure"] = None
    if features["theory"] is not None and charted.get("layers", {}).get("fallback"):
        features["theory"]["figures"] = [f for f in features["theory"].get("figures", [])
                                         if f.get("key") != LAYER_FIGURE]
    return features


def _dataset_section(inputs: ReportInputs) -> dict:
    config, clean = inputs.config, read_json(inputs.clean_summary)
    names = inputs.names.read_text(encoding="utf-8").split()
    return {
        "path": config["dataset"], "label": config.get("dataset_label", ""),
        "clean": clean, "summary": read_json(inputs.data_summary),
        "examples_changed": clean.get("examples_changed", [])[:6],
        "examples_dropped": clean.get("examples_dropped", [])[:6],
        "examples": tables.evenly_spaced(names, 12),
    }


def _provenance(inputs: ReportInputs, variants: list[dict], now: datetime | None) -> dict:
    bench_seconds, bench_jobs = provenance.read_benchmarks(inputs.benchmarks)
    return {
        "config_yaml": tables.to_yaml(inputs.config),
        "commit": provenance.git_commit(inputs.repo) if inputs.repo else "unknown",
        "versions": provenance.package_versions(), "machine": provenance.machine(),
        "date": (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "train_seconds": sum(v["metrics"]["train_seconds"] for v in variants),
        "bench_seconds": bench_seconds, "bench_jobs": bench_jobs,
    }


def build_context(inputs: ReportInputs, now: datetime | None = None) -> dict:
    """Read every input and compute everything the template shows."""
    config = inputs.config
    variants = [_variant_section(inputs, name) for name in inputs.variants]
    if not variants:
        raise ReportError("no variants to report")
    steps = tables.saturation_steps(config, inputs.variants)
    rows, best_of = tables.comparison_rows(variants, steps)
    missing = [k for k in CROSS_FIGURES if k not in inputs.figures]
    if missing:
        raise ReportError(f"no cross-variant figures {missing}")
    cross = {k: _figure(inputs.figures[k], *CROSS_FIGURES[k]) for k in CROSS_FIGURES}
    features, theory_json, comparisons = _feature_sections(
        inputs, {v["name"]: v["metrics"] for v in variants})
    colors = charts.hex_colors(inputs.variants, palette_order(config))
    interactive = _charts(inputs, variants, cross, comparisons, theory_json, colors)
    features = _without_charted_figures(features, interactive)
    summary, from_lessons = _summary(variants, comparisons, theory_json)
    for v in variants:
        del v["diag"]  # arrays stay out of the template context
    shown_in_charts = {c["fallback"]["path"] for c in interactive if c["fallback"]}
    variance = figures.VARIANCE_FIGURE
    study = config.get("study", "default")
    return {
        "title": f"initlab: {study} study — {config.get('dataset_label', '')}",
        "study": study,
        "question": config.get("question", ""),
        "studies": inputs.studies,
        "summary": summary,
        "summary_from_lessons": from_lessons,
        "flags": judgement.thresholds(),
        "dataset": _dataset_section(inputs),
        "uniform_loss": variants[0]["metrics"]["expected_initial_loss"],
        "saturation_steps": steps,
        "activations_used": _activations_used(variants),
        "rows": rows, "best": best_of,
        "charts": interactive,
        "chart_data": {c["id"]: c["spec"] for c in interactive},
        "figures": [f for f in cross.values() if f["path"] not in shown_in_charts],
        "groups": _group_sections(inputs, config),
        "variance": {"figure": _figure(inputs.variance_figure, variance.title, variance.caption),
                     **tables.json_tables(read_json(inputs.variance))},
        "variants": variants,
        "sample_columns": [v["name"] for v in variants],
        "sample_rows": tables.sample_table({v["name"]: v["samples"] for v in variants}),
        **features,
        "provenance": _provenance(inputs, variants, now),
    }


def _group_sections(inputs: ReportInputs, config: dict) -> list[dict]:
    """One subsection per variant group with its figures (results/figures/groups/{group}/)."""
    if not inputs.group_figures:
        return []
    described = {g.name: g for g in variant_groups(config)}
    sections = []
    for group, paths in inputs.group_figures.items():
        info = described.get(group)
        # a group of one activation is described in its words, a mixed one generically
        used = {(config["variants"][v].get("model") or {}).get("activation", "tanh")
                for v in (info.variants if info else [])}
        only = activation(next(iter(used))) if len(used) == 1 else None
        shown = []
        for key, path in paths.items():
            title, caption = GROUP_FIGURES.get(key, (key.replace("_", " ").capitalize(), ""))
            if only is not None and key in figures.GROUP_FIGURES:
                title, caption = _in_words_of(figures.GROUP_FIGURES[key], only)
            shown.append(_figure(path, title, caption))
        sections.append({"name": group, "figures": shown,
                         "description": info.description if info else "",
                         "members": list(info.variants) if info else []})
    return sections


def _charts(inputs: ReportInputs, variants: list[dict], cross: dict[str, dict],
            comparisons: dict | None, theory: dict | None, colors: dict[str, str]) -> list[dict]:
    """The interactive charts, each {id, title, caption, fallback figure or None, spec}."""
    out = []
    if inputs.train_logs:
        losses = {name: read_losses(inputs.train_logs[name]) for name in inputs.variants
                  if name in inputs.train_logs}
        if losses:
            out.append({"id": "loss-curves", "title": "Training loss, every variant",
                        "caption": "Seed mean (line) with the min–max band over seeds. Click a "
                        "legend entry to hide it, Ctrl/⌘-click to show it alone; drag to zoom "
                        "into steps, Ctrl-scroll to zoom, Shift-drag to pan, double-click to "
                        "reset; "
                        "the legend reads step and loss under the cursor.",
                        "fallback": cross.get("loss_curves"),
                        "spec": charts.loss_chart(losses, colors)})
    metrics = {v["name"]: v["metrics"] for v in variants}
    out.append({"id": "final-loss", "title": "Final loss with intervals",
                "caption": "Choose the loss; click a legend entry to hide a variant.",
                "fallback": cross.get("dev_loss"),
                "spec": charts.final_loss_chart(metrics, comparisons, colors)})
    if comparisons is not None:
        forest = charts.forest_chart(comparisons, colors)
        if forest is not None:
            fallback = inputs.comparison_figures.get("forest")
            out.append({"id": "forest", "title": "Paired differences (forest plot)",
                        "caption": "One point per declared comparison, with its interval.",
                        "fallback": _figure(Path(fallback), "Paired differences", "")
                        if fallback else None, "spec": forest})
    diags = {v["name"]: v["diag"] for v in variants}
    stds = {n: layer_profile(d, "act_std") for n, d in diags.items()}
    grads = {n: layer_profile(d, "agrad_std") for n, d in diags.items()}
    views = []
    if any(p is not None for p in stds.values()):
        views.append({**charts.layer_chart({n: p for n, p in stds.items() if p is not None},
                                           theory, "output_std", colors, "output std"),
                      "label": "activation output std"})
    if any(p is not None for p in grads.values()):
        views.append({**charts.layer_chart(
            {n: charts.relative_to_last(p) for n, p in grads.items() if p is not None},
            theory, "grad_std_rel_last", colors, "gradient std / last layer's", ylog=True),
            "label": "gradient std relative to the last layer"})
    if views:
        # the theory stage's per-layer figure shows the same comparison, statically
        fallback = inputs.theory_figures.get(LAYER_FIGURE)
        out.append({"id": "layers", "title": "Per-layer statistics at step 0 against depth",
                    "caption": "Choose the statistic: each activation layer's output std, or "
                    "the std of the gradient reaching each layer's output divided by the last "
                    "layer's. Solid: "
                    "measured (seed mean)" + ("; dashed: the mean-field prediction of "
                                              "results/theory/theory.json" if theory else "")
                    + ". Click a legend entry to hide a variant.",
                    "fallback": _figure(Path(fallback), "Theory beside measurement, per layer",
                                        "") if fallback else None,
                    "spec": {"kind": "views", "views": views}})
    return out


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


def _fixed(value, digits: int = 3) -> str:
    return fmt(value, f".{digits}f")


def _sci(value, digits: int = 2) -> str:
    return fmt(value, f".{digits}e")


def environment(template_dir: str | Path = TEMPLATE_DIR) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)),
                             autoescape=True,  # every value is escaped unless marked safe
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(data_uri=data_uri, num=_fixed, sci=_sci, pct=pct, signed=signed,
                       seconds=duration)
    # `tojson` escapes <, >, & and ' as \u003c etc., so chart data cannot close its <script>;
    # compact separators keep the page small
    env.policies["json.dumps_kwargs"] = {"separators": (",", ":"), "allow_nan": False}
    return env


def _read_inline(directory, names) -> str:
    text = "\n".join((Path(directory) / n).read_text(encoding="utf-8") for n in names)
    if "</script" in text.lower() or "</style" in text.lower():
        raise ReportError(f"{directory}: an inlined file contains a closing tag")
    return text


def render(context: dict, template_dir: str | Path = TEMPLATE_DIR) -> str:
    """The page as a string; the CSS and scripts beside the template (and the vendored chart
    library) are inlined."""
    template_dir = Path(template_dir)
    css = _read_inline(template_dir, [CSS])
    script = _read_inline(template_dir, [SCRIPT])
    vendor_css = _read_inline(VENDOR_DIR, VENDOR_STYLES)
    vendor_js = _read_inline(VENDOR_DIR, VENDOR_SCRIPTS)
    # the library's own first-line banner names it and its version: "/*! <url> (v1.6.32) */"
    banner = vendor_js.split("\n", 1)[0].removeprefix("/*!").removesuffix("*/").strip()
    return environment(template_dir).get_template(TEMPLATE).render(
        **context, partials=_partials(template_dir), css=css, script=script,
        vendor_css=vendor_css, vendor_js=vendor_js, vendor_banner=banner)


def write_report(inputs: ReportInputs, output: str | Path,
                 template_dir: str | Path = TEMPLATE_DIR) -> int:
    """Build, render and write the report; returns its size in bytes."""
    html = render(build_context(inputs), template_dir)
    Path(output).write_text(html, encoding="utf-8")
    size = Path(output).stat().st_size
    log.info("wrote %s: %.2f MB, %d variants", output, size / 1e6, len(inputs.variants))
    return size
