"""Analysis of the trained variants: mean-field theory beside the step-0 measurements (theory),
paired-seed comparisons (compare), a sweep's points gathered and judged (sweep), loss-curve
smoothing (curves), the variance-growth demonstration (variance) and the tidy tables (tables)."""
