# Diagnostics plots, sampling and the variance-growth demonstration (issue 4).


def analysis_outputs():
    return []
