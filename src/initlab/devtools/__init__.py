"""Developer tools apart from the pipeline (nothing in the pipeline imports them): the
benchmark (bench) and the reference training loops it and the tests measure against
(reference)."""
