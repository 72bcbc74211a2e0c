"""The study's configuration: the JSON Schema and its helpers (schema), the variants and their
resolved specs (variants), and what is declared over the variants: the paired comparisons
(comparisons) and the sweeps with their lockstep jobs (sweeps)."""
