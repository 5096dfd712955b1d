"""The mathematics of every pixel model: causality, exact normalisation, valid samples, batching."""

import itertools

import pytest
import torch

from autogen_cli.errors import UsageError
from tests.pixel_configs import MODEL_NAMES, NO_BLIND_SPOT, tiny


def output_map(model, x):
    """Per-pixel network output as [B, K, C_or_1, H, W]: channel c of a categorical model is the
    prediction of sub-pixel c; PixelCNN++ predicts all channels of a pixel from one vector."""
    out = model(x)
    return out if out.dim() == 5 else out[:, :, None]


def jacobian_support(model, channels, height, width, draws=4):
    """dep[c, i, j, c', i', j'] = True where output (c, i, j) has a non-zero gradient w.r.t. input
    (c', i', j') for at least one of a few random inputs (one input can hide a path behind a ReLU)."""
    torch.manual_seed(0)
    model.eval()
    dep = None
    for _ in range(draws):
        x = (torch.rand(1, channels, height, width) * (model.config.levels - 1)).requires_grad_(True)
        out = output_map(model, x)
        n_out = out.shape[2]
        if dep is None:
            dep = torch.zeros(n_out, height, width, channels, height, width, dtype=torch.bool)
        for c, i, j in itertools.product(range(n_out), range(height), range(width)):
            (g,) = torch.autograd.grad(out[:, :, c, i, j].sum(), x, retain_graph=True)
            dep[c, i, j] |= g[0] != 0
    return dep


def allowed(c, i, j, c2, i2, j2, per_channel: bool) -> bool:
    if (i2, j2) < (i, j):
        return True
    return per_channel and (i2, j2) == (i, j) and c2 < c


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("channels", [1, 3])
def test_causality_gradient_is_exactly_zero_on_the_future(name, channels):
    model = tiny(name, channels=channels, height=4, width=4, levels=4)
    dep = jacobian_support(model, channels, 4, 4)
    per_channel = dep.shape[0] == channels and name != "pixelcnnpp"
    n_out = dep.shape[0]
    for idx in itertools.product(range(n_out), range(4), range(4), range(channels), range(4), range(4)):
        if dep[idx]:
            assert allowed(*idx, per_channel), f"output {idx[:3]} depends on input {idx[3:]}"
    # The test can fail: the models do depend on the past (first pixel reaches the last one).
    assert dep[n_out - 1, 3, 3, 0, 0, 0]
    if channels == 3 and name != "pixelcnnpp":
        assert dep[2, 1, 1, 0, 1, 1] and dep[2, 1, 1, 1, 1, 1]  # blue sees red and green of its pixel


@pytest.mark.parametrize("name", NO_BLIND_SPOT)
def test_no_blind_spot(name):
    model = tiny(name, height=4, width=4, n_layers=4) if name == "gated-pixelcnn" else tiny(name)
    dep = jacobian_support(model, 1, 4, 4)
    for i, j in itertools.product(range(4), range(4)):
        for i2, j2 in itertools.product(range(4), range(4)):
            if (i2, j2) < (i, j):
                assert dep[0, i, j, 0, i2, j2], f"pixel {(i, j)} is blind to {(i2, j2)}"


def all_images(channels, height, width, levels):
    values = list(itertools.product(range(levels), repeat=channels * height * width))
    return torch.tensor(values).view(-1, channels, height, width)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("shape,levels", [((1, 2, 2), 2), ((3, 1, 2), 2), ((1, 2, 1), 5)])
def test_probabilities_over_all_images_sum_to_one(name, shape, levels):
    torch.manual_seed(1)
    model = tiny(name, channels=shape[0], height=shape[1], width=shape[2], levels=levels).eval()
    x = all_images(*shape, levels)
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(x).double(), 0).exp().item()
    assert abs(total - 1.0) < 1e-5


def test_pixelcnnpp_eight_bit_single_pixel_sums_to_one():
    torch.manual_seed(2)
    model = tiny("pixelcnnpp", height=1, width=1, levels=256).eval()
    x = torch.arange(256).view(-1, 1, 1, 1)
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(x).double(), 0).exp().item()
    assert abs(total - 1.0) < 1e-5


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_conditional_distributions_each_normalise_and_differ(name):
    torch.manual_seed(3)
    model = tiny(name, height=2, width=2, n_classes=3).eval()
    x = all_images(1, 2, 2, 2)
    with torch.no_grad():
        lps = [model.log_prob(x, torch.full((len(x),), k)) for k in range(3)]
    for lp in lps:
        assert abs(torch.logsumexp(lp.double(), 0).exp().item() - 1.0) < 1e-5
    with torch.no_grad():
        for p in model.parameters():  # push the label embeddings apart so that labels matter visibly
            p.add_(torch.randn_like(p) * 0.5)
        a = model.log_prob(x, torch.zeros(len(x), dtype=torch.long))
        b = model.log_prob(x, torch.ones(len(x), dtype=torch.long))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("levels", [2, 256])
def test_batched_log_prob_equals_per_item(name, levels):
    torch.manual_seed(4)
    model = tiny(name, height=5, width=5, levels=levels).eval()
    x = torch.randint(0, levels, (6, 1, 5, 5))
    with torch.no_grad():
        batched = model.log_prob(x)
        single = torch.cat([model.log_prob(x[k : k + 1]) for k in range(6)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-4)
    assert batched.shape == (6,) and torch.isfinite(batched).all() and (batched < 0).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("channels,levels", [(1, 2), (1, 256), (3, 4)])
def test_samples_are_valid_levels_and_reproducible(name, channels, levels):
    torch.manual_seed(5)
    model = tiny(name, channels=channels, height=3, width=3, levels=levels)
    a = model.sample(4, generator=torch.Generator().manual_seed(7))
    b = model.sample(4, generator=torch.Generator().manual_seed(7))
    assert a.shape == (4, channels, 3, 3) and a.dtype == torch.long
    assert int(a.min()) >= 0 and int(a.max()) <= levels - 1
    assert torch.equal(a, b)
    assert model.training  # sampling restores the mode it found


def test_sampling_follows_the_model_distribution():
    """On a 1x2 binary image the empirical sample frequencies match exp(log_prob)."""
    torch.manual_seed(6)
    model = tiny("gated-pixelcnn", height=1, width=2).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    x = all_images(1, 1, 2, 2)
    probs = model.log_prob(x).exp()
    s = model.sample(4000, generator=torch.Generator().manual_seed(0))
    codes = s.view(-1, 2) @ torch.tensor([2, 1])
    freq = torch.bincount(codes, minlength=4).double() / len(codes)
    assert (freq - probs.double()).abs().max() < 0.03


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bad_labels_and_values_are_usage_errors(name):
    model = tiny(name, height=2, width=2, n_classes=3)
    x = torch.zeros(2, 1, 2, 2, dtype=torch.long)
    with pytest.raises(UsageError):
        model.log_prob(x)  # conditional model without a label
    with pytest.raises(UsageError):
        model.log_prob(x, torch.tensor([0, 3]))
    with pytest.raises(UsageError):
        model.sample(0)
    with pytest.raises(UsageError):
        model.sample(2, temperature=0.0)
    y = model.sample(3)  # unlabelled sampling of a conditional model cycles through the classes
    assert y.shape == (3, 1, 2, 2)


def test_temperature_sharpens_samples():
    torch.manual_seed(8)
    model = tiny("pixelcnnpp", height=1, width=1, levels=256).eval()
    hot = model.sample(500, temperature=1.0, generator=torch.Generator().manual_seed(1)).float().std()
    cold = model.sample(500, temperature=0.05, generator=torch.Generator().manual_seed(1)).float().std()
    assert cold < hot
