# cython: language_level=3
"""The fast-path terminal API, the twin of ``pymosh.terminal.emulator``'s module surface:
``Emulator`` (``_fastpath.emulator``) and ``new_frame`` (``_fastpath.display``).

Compiled like the modules it gathers, so a build always replaces the previous
``_fastpath.terminal`` and a missing piece makes the import fail (the twin serves).
"""

from _fastpath.display import new_frame
from _fastpath.emulator import Emulator, _char_width

__all__ = ["Emulator", "new_frame"]
