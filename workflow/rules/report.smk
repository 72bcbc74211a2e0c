# The self-contained HTML report (issue 5).


def report_outputs():
    return []
