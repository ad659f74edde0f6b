"""hvlog: the live (or after-the-fact) viewer of the hypervisor's framed
serial line. See host-tools/hvlog --help.

    from hvtools.hvlog import LiveDecoder
"""
from ..stream import CatalogRefused, Line, StreamDecoder  # noqa: F401
from .filters import Filter, FilterError  # noqa: F401
from .live import LiveDecoder, TextDecoder, decode_bytes, live_decoder  # noqa: F401
