"""Machine-learning models: regime, strategy selector, trade probability, patterns, optimizer."""
