"""autogen: train, evaluate (exact NLL) and sample classic autoregressive generative models."""

__version__ = "0.1.0"
