"""nn.Module classes equivalent to the Swift test models of the module contract
(Tests/TorchCheckpointTests/ModuleTests.swift). Values are deterministic and
exactly representable, so both sides build identical tensors."""
import torch
from torch import nn


def det(shape, seed):
    n = 1
    for s in shape:
        n *= s
    return ((torch.arange(n) % 7 - 3).float() * 0.25 + seed).reshape(shape)


class Conv(nn.Module):
    """Parameters plus extra state: a label and a configuration dict."""

    def __init__(self, label, seed):
        super().__init__()
        self.weight = nn.Parameter(det([2, 3], seed))
        self.bias = nn.Parameter(det([2], seed + 1))
        self.label = label
        self.config = {"kernel": 3, "stride": 1, "scale": 0.5}

    def get_extra_state(self):
        return {"label": self.label, "config": self.config}

    def set_extra_state(self, state):
        self.label = state["label"]
        self.config = state["config"]


class Block(nn.Module):
    def __init__(self, i):
        super().__init__()
        self.conv1 = Conv("".join(["block", str(i), "/conv1"]), 10 * i + 1)
        self.conv2 = Conv("".join(["block", str(i), "/conv2"]), 10 * i + 2)


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([Block(0), Block(1)])


class RunningStats(nn.Module):
    """BatchNorm's state: affine parameters and running statistics."""
    _version = 2

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))


class Net(nn.Module):
    """Parameters, buffers (persistent, non-persistent, None until assigned), plain attributes,
    nested modules, a ModuleList, and class labels as extra state."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.norm = RunningStats(4)
        self.head = nn.Linear(4, 2)
        with torch.no_grad():
            self.head.weight.copy_(det([2, 4], 5))
            self.head.bias.copy_(det([2], 6))
        self.register_buffer("mask", torch.ones(4), persistent=False)
        self.register_buffer("late", None)
        self.plain = 3
        self.classes = ["".join(c) for c in (["c", "at"], ["d", "og"], ["b", "ird"])]
        # The buffer that is None until epoch 350 takes the checkpoint's value when loaded.
        self.register_load_state_dict_pre_hook(Net._take_late)

    @staticmethod
    def _take_late(module, state_dict, prefix, *args):
        if module.late is None and prefix + "late" in state_dict:
            module.late = state_dict[prefix + "late"].clone()

    def get_extra_state(self):
        return {"classes": self.classes}

    def set_extra_state(self, state):
        self.classes = state["classes"]
