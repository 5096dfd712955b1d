"""Autoregressive image models: every one is an ImageModel (exact log_prob, loss, sample)."""
