"""Python classes that the fixtures in ../fixtures refer to.

The pickles name them as module `fixture_classes`, so loading those fixtures
with torch.load needs this folder on the import path (PYTHONPATH=tools).
"""
import torch
from torch import nn


class OpaqueRecord:
    """A plain object with attributes; pickles as copyreg.__newobj__ + BUILD of its __dict__."""

    def __init__(self, name, version, tags, config, weights):
        self.name = name
        self.version = version
        self.tags = tags
        self.config = config
        self.weights = weights

    def __repr__(self):
        return f"OpaqueRecord(name={self.name!r}, version={self.version!r})"


class TaggedTensor(torch.Tensor):
    """A torch.Tensor subclass with one attribute; pickles through
    torch._tensor._rebuild_from_type_v2."""

    @staticmethod
    def tagged(data, tag):
        tensor = data.as_subclass(TaggedTensor)
        tensor.tag = tag
        return tensor


class ExtraStateMixin:
    """Gives a module extra state: whatever value it was built with."""

    def get_extra_state(self):
        return self.extra

    def set_extra_state(self, state):
        self.extra = state


class ExtraConv2d(ExtraStateMixin, nn.Conv2d):
    def __init__(self, *args, extra=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = extra


class ExtraLinear(ExtraStateMixin, nn.Linear):
    def __init__(self, *args, extra=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = extra


class ExtraLayerNorm(ExtraStateMixin, nn.LayerNorm):
    def __init__(self, *args, extra=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra = extra


class EncoderLayer(nn.Module):
    """conv1 (plain), conv2 (extra state), norm."""

    def __init__(self, channels, conv2_extra):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = ExtraConv2d(channels, channels, 1, extra=conv2_extra)
        self.norm = nn.BatchNorm2d(channels)


class Encoder(ExtraStateMixin, nn.Module):
    """A container module that has extra state of its own, then children."""

    def __init__(self, channels, extras, extra=None):
        super().__init__()
        self.extra = extra
        self.scale = nn.Parameter(torch.ones(channels))
        self.layers = nn.ModuleList(EncoderLayer(channels, e) for e in extras)


class ExtraStateNet(nn.Module):
    def __init__(self, channels, encoder_extra, layer_extras, head_extra,
                 norm_extra):
        super().__init__()
        self.encoder = Encoder(channels, layer_extras, extra=encoder_extra)
        self.norm = ExtraLayerNorm(channels, extra=norm_extra)
        self.head = ExtraLinear(channels, 3, extra=head_extra)
