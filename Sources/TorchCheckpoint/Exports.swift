// One import gives the whole library: the object model (values, tensors,
// storages) lives in TorchValues, the pickle machine in TorchPickle, the
// container in TorchZip.
@_exported import TorchValues
@_exported import TorchPickle
@_exported import TorchZip
