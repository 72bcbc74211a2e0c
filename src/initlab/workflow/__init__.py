"""Workflow support, used by the Snakefile and the rule scripts: the study-wide config check
(study), the config one job reads rebuilt from its rule's params (params), code inputs that
follow the imports (depends), the run lock (runlock), logging into a rule's log (logs) and
cluster resources (resources)."""
