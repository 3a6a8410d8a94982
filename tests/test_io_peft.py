"""The PEFT layout: the real `peft` loads our adapters onto the matching torch base model and
computes what our LoRA computes; we import what peft saves; bad adapters are refused."""
import json

import pytest

import io_support
from agentdb import io as aio
from agentdb.errors import FormatError
from agentdb.kernel import load
from agentdb.learn import LoRA

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")
nn = torch.nn


class Base(nn.Module):
    """A query map (identity Linear: PEFT adds the delta to q, as our residual adapter does)
    and, under enc, a rectangular map whose base output is zero (the delta alone)."""

    def __init__(self, dim, n_in, n_out):
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)
        self.enc = nn.Module()
        self.enc.wide = nn.Linear(n_in, n_out, bias=False)
        with torch.no_grad():
            self.query.weight.copy_(torch.eye(dim))
            self.enc.wide.weight.zero_()

    def forward(self, q, x):
        return self.query(q), self.enc.wide(x)


def rows(seed, n, dim):
    return io_support.floats(seed, n * dim)


def test_peft_loads_our_adapters_onto_the_base_model(tmp_path):
    m = io_support.model()
    q, wide = m.adapters["query"], m.adapters["enc.wide"]
    folder = aio.save_peft(m, tmp_path / "adapter", base_model="agentdb-test-base")
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["target_modules"] == ["enc.wide", "query"] and config["r"] == 3
    assert config["rank_pattern"] == {r"enc\.wide": 2} and config["alpha_pattern"] == {r"enc\.wide": 1.5}
    model = peft.PeftModel.from_pretrained(Base(17, 5, 3), str(folder)).eval()
    xq, xw = rows(1, 4, 17), rows(2, 4, 5)
    with torch.no_grad():
        yq, yw = model(torch.tensor(xq).reshape(4, 17), torch.tensor(xw).reshape(4, 5))
    ours_q = q.forward_batch(xq, 4, residual=True)
    ours_w = wide.forward_batch(xw, 4)
    assert torch.allclose(yq.flatten(), torch.tensor(ours_q), atol=1e-6, rtol=0)
    assert torch.allclose(yw.flatten(), torch.tensor(ours_w), atol=1e-6, rtol=0)
    assert (yw.abs() > 1e-3).any()                     # the adapter really loaded (B is not zero)


def test_we_import_what_peft_saves(tmp_path):
    torch.manual_seed(0)
    base = Base(17, 5, 3)
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "wide"], rank_pattern={"wide": 2},
                             alpha_pattern={"wide": 3}, init_lora_weights=False)
    model = peft.get_peft_model(base, config).eval()
    model.save_pretrained(str(tmp_path / "saved"))
    got = aio.load_peft(tmp_path / "saved")
    assert sorted(got) == ["enc.wide", "query"]
    assert (got["query"].rank, got["query"].alpha, got["enc.wide"].rank, got["enc.wide"].alpha) == (4, 8, 2, 3)
    xq, xw = rows(3, 2, 17), rows(4, 2, 5)
    with torch.no_grad():
        yq, yw = model(torch.tensor(xq).reshape(2, 17), torch.tensor(xw).reshape(2, 5))
    assert torch.allclose(yq.flatten(), torch.tensor(got["query"].forward_batch(xq, 2, residual=True)), atol=1e-6)
    assert torch.allclose(yw.flatten(), torch.tensor(got["enc.wide"].forward_batch(xw, 2)), atol=1e-6)
    # and back out: our export of what we imported loads in peft with the same outputs
    again = peft.PeftModel.from_pretrained(Base(17, 5, 3), str(aio.save_peft(got, tmp_path / "again"))).eval()
    with torch.no_grad():
        assert torch.allclose(again(torch.tensor(xq).reshape(2, 17), torch.tensor(xw).reshape(2, 5))[1], yw,
                              atol=1e-6)


def test_round_trip_through_our_layout_is_bit_exact():
    lora = LoRA(7, 4, rank=3, alpha=5, seed=9, kernel=load())
    lora.b = io_support.floats(1, len(lora.b))
    back = aio.load_peft(aio.to_peft({"dense": lora}))["dense"]
    assert (back.a.tobytes(), back.b.tobytes(), back.alpha, back.rank) == (lora.a.tobytes(), lora.b.tobytes(), 5, 3)


def test_bad_adapters_are_refused(tmp_path):
    files = aio.to_peft({"dense": LoRA(3, 3, rank=1)})
    config = json.loads(files["adapter_config.json"])

    def with_config(**change):
        return {**files, "adapter_config.json": json.dumps({**config, **change})}
    cases = [
        ({"adapter_model.safetensors": files["adapter_model.safetensors"]}, "needs both"),
        ({**files, "adapter_config.json": json.dumps({k: v for k, v in config.items() if k != "r"})}, r"lacks \['r'\]"),
        (with_config(peft_type="IA3"), "not LORA"),
        (with_config(use_dora=True), "use_dora"),
        (with_config(r=2), "the config's rank is 2"),
        (with_config(target_modules=["other"]), "not among the config's target_modules"),
        ({**files, "adapter_config.json": "{"}, "not JSON"),
    ]
    for source, message in cases:
        with pytest.raises(FormatError, match=message):
            aio.load_peft(source)
    with pytest.raises(FormatError, match="no adapter_config.json"):
        aio.load_peft(tmp_path)
