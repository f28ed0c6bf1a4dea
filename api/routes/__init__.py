"""The HTTP routes, one module per audience: thin calls into mpi, nothing decided here."""
