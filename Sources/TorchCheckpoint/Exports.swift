// One import gives the whole library: the object model (values, tensors,
// storages) lives in TorchPickle, the container in TorchZip.
@_exported import TorchPickle
@_exported import TorchZip
