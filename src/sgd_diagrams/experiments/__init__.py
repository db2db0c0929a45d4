"""The paper's experiments: runners that put simulations beside predictions."""
