"""Training data: parameter designs, Boltzmann backends, executors and the chunked store."""
