"""pardus: individual-based simulation of the Amur leopard, its threats and the actions that save it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pardus")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
