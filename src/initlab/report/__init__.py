"""The study's one-page HTML report, split by job:

- inputs: the result files read and checked (ReportInputs, ReportError);
- measures: seed-averaged numbers off the diagnostics arrays;
- judgement: health flags (thresholds stated once) and the fallback summary sentences;
- tables: comparison table with its honest "best" marks, per-layer/weight rows, names;
- charts: data of the interactive charts (vendored uPlot draws them in the page);
- provenance: commit, versions, machine, benchmark times;
- theory, compare, sweeps, lessons: the sections of the analysis stages and their sentences;
- render: context assembly, feature sections, Jinja2 environment, data URIs, writing.
"""

from .charts import loss_chart
from .inputs import (
    REPO,
    ReportError,
    ReportInputs,
    by_folder,
    by_variant,
    need,
    read_diagnostics,
    read_losses,
)
from .judgement import (
    DEAD_FLAG,
    GRAD_SPREAD_FLAG,
    LOSS_RATIO_FLAG,
    SATURATED_FLAG,
    STD_SHRINK_FLAG,
    health_problems,
    summary_sentences,
    thresholds,
)
from .measures import capture_index, saturation_at
from .provenance import PACKAGES, git_commit, machine, package_versions, read_benchmarks
from .render import (
    CROSS_FIGURES,
    GROUP_FIGURES,
    TEMPLATE_DIR,
    VARIANT_FIGURES,
    build_context,
    data_uri,
    environment,
    render,
    write_report,
)
from .tables import (
    RANKED,
    SPLITS,
    comparison_rows,
    evenly_spaced,
    json_tables,
    layer_rows,
    sample_table,
    saturation_steps,
    to_yaml,
    weight_rows,
)

__all__ = [
    "CROSS_FIGURES", "DEAD_FLAG", "GRAD_SPREAD_FLAG", "GROUP_FIGURES", "LOSS_RATIO_FLAG",
    "PACKAGES", "RANKED", "REPO", "SATURATED_FLAG", "SPLITS", "STD_SHRINK_FLAG", "TEMPLATE_DIR",
    "VARIANT_FIGURES", "ReportError", "ReportInputs", "build_context", "by_folder", "by_variant",
    "capture_index", "comparison_rows", "data_uri", "environment", "evenly_spaced", "git_commit",
    "health_problems", "json_tables", "layer_rows", "loss_chart", "machine", "need",
    "package_versions", "read_benchmarks", "read_diagnostics", "read_losses",
    "render", "sample_table", "saturation_at", "saturation_steps",
    "summary_sentences", "thresholds", "to_yaml", "weight_rows", "write_report",
]
