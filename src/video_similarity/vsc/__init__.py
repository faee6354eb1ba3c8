"""The VSC-2022 descriptor track's domain code: what the descriptor settings are, how the training split is
folded, how the settings are tuned, how query rows are cut to the descriptor budget."""
