"""Training: the lockstep trainer of a variant's seeds and of a sweep job's models (train),
what it records on the way (diagnostics), and one sweep job end to end (sweep)."""
