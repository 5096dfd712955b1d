"""Model names -> family, config class, model class; building and loading models by name."""

from dataclasses import dataclass
from importlib import import_module

from .errors import UnknownNameError, UsageError, suggest


@dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    module: str  # imported lazily so that `autogen --help` never pays for torch
    class_name: str
    description: str

    def model_class(self):
        return getattr(import_module(self.module, __package__), self.class_name)


MODELS = {
    spec.name: spec
    for spec in [
        ModelSpec("pixelcnn", "pixel", ".models.pixel.pixelcnn", "PixelCNN",
                  "PixelCNN with masked convolutions (van den Oord et al. 2016)"),
        ModelSpec("gated-pixelcnn", "pixel", ".models.pixel.gated_pixelcnn", "GatedPixelCNN",
                  "Gated PixelCNN, vertical + horizontal stacks, class-conditional (van den Oord et al. 2016)"),
        ModelSpec("pixelcnnpp", "pixel", ".models.pixel.pixelcnnpp", "PixelCNNPP",
                  "PixelCNN++ with a discretized logistic mixture (Salimans et al. 2017)"),
    ]
}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise UnknownNameError(f"unknown model '{name}'.{suggest(name, MODELS)}")
    return MODELS[name]


def make_config(name: str, values: dict):
    """Validate a config dict for model `name`; errors name the field and the allowed range."""
    from pydantic import ValidationError

    cls = get_spec(name).model_class().config_class
    try:
        return cls(**values)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise UsageError(f"bad value for {name} {where}: {err['msg']}") from None


def build_model(name: str, config: dict):
    return get_spec(name).model_class()(make_config(name, config))


def model_from_checkpoint(ckpt):
    """Rebuild a model from a loaded Checkpoint; a shape mismatch is a clear error."""
    from .errors import WeightsError

    model = build_model(ckpt.model, ckpt.config)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise WeightsError(f"checkpoint does not fit model '{ckpt.model}': {first}") from None
    return model


def checkpoint_ref(ref: str, manifest=None) -> str:
    """A model name means its default published checkpoint; anything else passes through."""
    if ref in MODELS:
        from . import hub

        manifest = manifest or hub.load_manifest()
        entry = manifest.default_for(ref)
        if entry is None:
            raise UsageError(f"no published checkpoint for model '{ref}' yet: train one with "
                             f"`autogen train {ref} --dataset ...` and pass its path")
        return entry.name
    return ref


def load_model(ref: str, device=None):
    """Model name, manifest name, path or hf:// ref -> (model in eval mode on device, Checkpoint)."""
    from . import hub
    from .checkpoints import load_checkpoint

    manifest = hub.load_manifest()
    name = checkpoint_ref(ref, manifest)
    from pathlib import Path

    is_file_ref = name.startswith("hf://") or hub.looks_like_path(name) or Path(name).is_file()
    if not is_file_ref and name not in manifest.names():
        choices = list(MODELS) + manifest.names()
        raise UnknownNameError(f"unknown model or checkpoint '{ref}'.{suggest(ref, choices)}")
    ckpt = load_checkpoint(hub.resolve(name, manifest=manifest))
    model = model_from_checkpoint(ckpt)
    if device is not None:
        model = model.to(device)
    return model.eval(), ckpt
