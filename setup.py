"""Build the optional Cython fast paths in src/_fastpath.

Every extension is optional: without a compiler, Cython or OpenSSL headers the
build still succeeds and pymosh runs on its pure-Python twins.
"""

import os
import sys

import setuptools
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class OptionalBuildExt(build_ext):
    """Build each extension if possible; never fail the install over one."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure means "use the twin"
            self._warn(f"fast paths not built ({exc}); using pure-Python twins")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(f"{ext.name} not built ({exc}); its pure-Python twin will serve")

    @staticmethod
    def _warn(message: str) -> None:
        sys.stderr.write(f"pymosh build: {message}\n")


def extensions() -> list:
    if os.environ.get("PYMOSH_NO_EXTENSIONS"):
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        sys.stderr.write("pymosh build: Cython missing; using pure-Python twins\n")
        return []
    flags = ["-O3"]
    exts = [
        Extension("_fastpath.crypto", ["src/_fastpath/crypto.pyx"],
                  libraries=["crypto"], extra_compile_args=flags),
        # the terminal: cells.pxd and output.pxd are inlined into the emulator and the
        # differ; terminal gathers both (it fails to import if either is missing)
        Extension("_fastpath.emulator", ["src/_fastpath/emulator.pyx"],
                  extra_compile_args=flags),
        Extension("_fastpath.display", ["src/_fastpath/display.pyx"],
                  extra_compile_args=flags),
        Extension("_fastpath.terminal", ["src/_fastpath/terminal.pyx"],
                  extra_compile_args=flags),
    ]
    directives = {"boundscheck": False, "wraparound": False, "cdivision": True}
    built = []
    for ext in exts:
        if not all(os.path.exists(src) for src in ext.sources):
            continue
        try:  # a .pyx that fails to translate must not break the install
            built += cythonize([ext], language_level=3, quiet=True, include_path=["src"],
                               compiler_directives=directives)
        except Exception as exc:  # noqa: BLE001
            sys.stderr.write(f"pymosh build: {ext.name} not translated ({exc})\n")
    return built


MAN_PAGES = ["man/pymosh.1", "man/pymosh-server.1", "man/pymosh-client.1"]

# man pages under the install prefix: ``man -M <prefix>/share/man pymosh`` in a venv

def licence() -> dict:
    """GPL-3.0-or-later as an SPDX expression (setuptools >= 77, which the isolated build
    uses) or as the older free-text field (an older setuptools building in place)."""
    major = int(setuptools.__version__.split(".")[0])
    if major >= 77:
        return {"license_expression": "GPL-3.0-or-later", "license_files": ["LICENSE"]}
    return {"license": "GPL-3.0-or-later", "license_files": ["LICENSE"]}


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt},
      data_files=[("share/man/man1", MAN_PAGES)], **licence())
