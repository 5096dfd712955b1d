"""Tiny configurations of every pixel model, shared by the mathematics tests."""

from autogen_cli.registry import build_model


def tiny(name: str, channels=1, height=4, width=4, levels=2, n_classes=0, **extra):
    base = {"channels": channels, "height": height, "width": width, "levels": levels, "n_classes": n_classes}
    hyper = {
        "pixelcnn": {"hidden": 6 * channels, "n_layers": 2, "head_hidden": 6 * channels, "first_kernel": 3},
        "gated-pixelcnn": {"hidden": 4 * channels, "n_layers": 4, "kernel": 3, "head_hidden": 4 * channels},
        "pixelcnnpp": {"filters": 6, "n_resnet": 1, "n_scales": 2, "n_mix": 2},
    }[name]
    return build_model(name, {**base, **hyper, **extra})


MODEL_NAMES = ["pixelcnn", "gated-pixelcnn", "pixelcnnpp"]
# Models without a blind spot: every earlier pixel reaches the prediction.
NO_BLIND_SPOT = ["gated-pixelcnn", "pixelcnnpp"]
