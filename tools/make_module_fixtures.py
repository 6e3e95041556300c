#!/usr/bin/env python3
"""What PyTorch says about the module contract (tools/module_classes.py):
state dicts torch.save writes, and load_state_dict's messages.

usage: make_module_fixtures.py [OUTDIR]    (default fixtures/modules)

Writes:
  net.pth              torch.save(Net().state_dict())
  net_epoch350.pth     the same after `late` is assigned a [3] tensor (epoch 350)
  net_old.pth          a state dict saved before the modules had extra state (no _extra_state keys)
  messages.json        load_state_dict(...) messages for mismatching state dicts, strict and not
  layouts/             where training code puts a state dict, each loaded into Net() strictly by torch
                       after the usual extraction: ddp.pth (nn.DataParallel(Net()).state_dict(),
                       keys "module."), ddp_consumed.pth (the same after torch's
                       consume_prefix_in_state_dict_if_present(sd, "module.")), training.ckpt
                       ({"model_state_dict": ..., "optimizer_state_dict": ..., "epoch": ...}),
                       lightning.ckpt ({"state_dict": keys "model."}), model_key.pth ({"model": ...})
"""
import copy
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
from torch import nn  # noqa: E402
from module_classes import Net  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "modules")
    os.makedirs(out, exist_ok=True)
    net = Net()
    torch.save(net.state_dict(), os.path.join(out, "net.pth"))

    net.late = torch.tensor([1.5, -2.0, 0.25])
    torch.save(net.state_dict(), os.path.join(out, "net_epoch350.pth"))

    old = copy.copy(Net().state_dict())
    for key in [k for k in old if k.endswith("_extra_state")]:
        del old[key]
    torch.save(old, os.path.join(out, "net_old.pth"))

    # Mismatches: each is a list of edits applied to Net().state_dict(), then loaded into Net().
    cases = {
        "missing": [["drop", "head.bias"], ["drop", "norm.running_var"]],
        "unexpected": [["add", "head.extra", [2]], ["add", "encoder.nothing.weight", [1]]],
        "size_mismatch": [["reshape", "head.weight", [4, 2]], ["reshape", "norm.num_batches_tracked", [2]]],
        "all_three": [["drop", "encoder.layers.1.conv2.bias"], ["add", "q", [1]], ["reshape", "norm.weight", [3]]],
        "extra_state_missing": [["drop", "encoder.layers.0.conv2._extra_state"], ["drop", "_extra_state"]],
        "not_a_tensor": [["set_int", "head.bias", 7]],
        "late_unexpected_without_hook": [["add", "late", [3]]],
    }
    messages = {}
    for name, edits in cases.items():
        for strict in (True, False):
            sd = Net().state_dict()
            for edit in edits:
                if edit[0] == "drop":
                    del sd[edit[1]]
                elif edit[0] == "add":
                    sd[edit[1]] = torch.zeros(edit[2])
                elif edit[0] == "reshape":
                    sd[edit[1]] = torch.zeros(edit[2], dtype=sd[edit[1]].dtype)
                elif edit[0] == "set_int":
                    sd[edit[1]] = edit[2]
            model = Net()
            if name == "late_unexpected_without_hook":
                model._load_state_dict_pre_hooks.clear()
            try:
                result = model.load_state_dict(sd, strict=strict)
                messages[f"{name}/{'strict' if strict else 'lenient'}"] = {"edits": edits, "returned": repr(result)}
            except RuntimeError as e:
                messages[f"{name}/{'strict' if strict else 'lenient'}"] = {"edits": edits, "raised": str(e)}
    with open(os.path.join(out, "messages.json"), "w") as fh:
        json.dump(messages, fh, indent=1, sort_keys=True)
        fh.write("\n")
    write_layouts(os.path.join(out, "layouts"))


class Lightning(nn.Module):
    """A LightningModule's state: the model is an attribute, so its keys start with "model."."""

    def __init__(self):
        super().__init__()
        self.model = Net()


def write_layouts(out):
    from torch.nn.modules.utils import consume_prefix_in_state_dict_if_present
    os.makedirs(out, exist_ok=True)
    ddp = nn.DataParallel(Net()).state_dict()
    torch.save(ddp, os.path.join(out, "ddp.pth"))
    consumed = nn.DataParallel(Net()).state_dict()
    consume_prefix_in_state_dict_if_present(consumed, "module.")
    Net().load_state_dict(consumed, strict=True)
    torch.save(consumed, os.path.join(out, "ddp_consumed.pth"))
    net = Net()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    torch.save({"epoch": 3, "model_state_dict": net.state_dict(), "optimizer_state_dict": optimizer.state_dict(), "loss": 0.25},
               os.path.join(out, "training.ckpt"))
    lightning = Lightning().state_dict()
    consume_prefix_in_state_dict_if_present(lightning, "model.")
    Net().load_state_dict(lightning, strict=True)
    torch.save({"epoch": 1, "global_step": 10, "pytorch-lightning_version": "2.4.0", "state_dict": Lightning().state_dict()},
               os.path.join(out, "lightning.ckpt"))
    torch.save({"model": Net().state_dict(), "args": {"lr": 0.1}}, os.path.join(out, "model_key.pth"))


if __name__ == "__main__":
    main()
