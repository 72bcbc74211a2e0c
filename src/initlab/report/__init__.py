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
