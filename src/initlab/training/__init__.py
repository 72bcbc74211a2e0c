"""Training: the lockstep loop and the trainer of a variant's seeds (train), what it records on
the way (diagnostics), and the trainer of a sweep job's models, one job end to end (sweep)."""
