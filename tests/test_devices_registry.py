"""Device selection and the model registry."""

import pytest
import torch

from autogen_cli import registry
from autogen_cli.devices import resolve_device
from autogen_cli.errors import UnknownNameError, UsageError


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("AUTOGEN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto").type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert resolve_device("auto").type == "mps"
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto").type == "cpu"
    assert resolve_device(None).type == "cpu"


def test_environment_default(monkeypatch):
    monkeypatch.setenv("AUTOGEN_DEVICE", "cpu")
    assert resolve_device(None) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["gpu7", "tpu", "cuda:x"])
def test_bad_device_names(spec):
    with pytest.raises(UsageError):
        resolve_device(spec)


def test_unavailable_cuda_is_a_usage_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UsageError, match="CUDA is not available"):
        resolve_device("cuda")


def test_registry_builds_every_model_from_name_and_config():
    for name in registry.MODELS:
        model = registry.build_model(name, {"height": 4, "width": 4})
        again = registry.build_model(name, model.config.model_dump())
        assert again.config == model.config


def test_registry_errors_name_the_field_and_suggest():
    with pytest.raises(UnknownNameError, match="Did you mean: .*pixelcnnpp"):
        registry.get_spec("pixelcnn+")
    with pytest.raises(UsageError, match="levels"):
        registry.build_model("pixelcnn", {"levels": 1})
