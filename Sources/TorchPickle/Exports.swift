@_exported import TorchValues
