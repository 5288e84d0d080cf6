"""Build the optional Cython fast paths in src/_fastpath and the pymosh-server launcher.

Every extension is optional: without a compiler, Cython or OpenSSL headers the
build still succeeds and pymosh runs on its pure-Python twins. Likewise the C launcher
(launcher/pymosh-server.c): without a compiler, bin/pymosh-server is the Python entry
script (scripts/pymosh-server), which the launcher otherwise runs as its fallback.
``PYMOSH_REQUIRE_EXTENSIONS=1`` makes a launcher that does not build a failure.
"""

import os
import re
import sys

import setuptools
from setuptools import Distribution, Extension, setup
from setuptools.command.build_ext import build_ext  # noqa: I001 (setuptools first: its distutils)
from distutils.command.build_scripts import build_scripts


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
        Extension("_fastpath.codec", ["src/_fastpath/codec.pyx"],
                  libraries=["z"], extra_compile_args=flags),
        # the terminal: cells.pxd and output.pxd are inlined into the emulator and the
        # differ; terminal gathers both (it fails to import if either is missing)
        Extension("_fastpath.emulator", ["src/_fastpath/emulator.pyx"],
                  extra_compile_args=flags),
        Extension("_fastpath.display", ["src/_fastpath/display.pyx"],
                  extra_compile_args=flags),
        Extension("_fastpath.terminal", ["src/_fastpath/terminal.pyx"],
                  extra_compile_args=flags),
        # pymosh-server's idle lane: its twin's source, compiled (no interpreter loop nor
        # frames on an idle server's wake-up)
        Extension("_fastpath.lane", ["src/pymosh/frontend/lane.py"], extra_compile_args=flags),
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


LAUNCHER = "launcher/pymosh-server.c"


def _constant(path: str, name: str) -> str:
    """A string constant ``NAME = "..."`` from a Python source (not imported: the build
    environment need not be able to import pymosh)."""
    with open(path, encoding="utf-8") as f:
        match = re.search(rf'^{name} = "([^"]+)"$', f.read(), re.M)
    if match is None:
        raise RuntimeError(f"no {name} in {path}")
    return match.group(1)


class BuildScripts(build_scripts):
    """The scripts; then pymosh-server replaced by the C launcher, built with the compiler
    the extensions use, when it builds."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.force = True  # never keep a launcher an earlier build left in build/

    def run(self) -> None:
        super().run()
        try:
            self._launcher()
        except Exception as exc:  # noqa: BLE001 - the Python entry script serves
            if os.environ.get("PYMOSH_REQUIRE_EXTENSIONS") == "1":
                raise
            OptionalBuildExt._warn(f"launcher not built ({exc}); pymosh-server stays Python")

    def _launcher(self) -> None:
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler

        compiler = new_compiler(force=True)  # (a few ms: always compiled and linked afresh)
        customize_compiler(compiler)
        macros = [
            ("PYMOSH_VERSION", '"%s"' % _constant("src/pymosh/__init__.py", "__version__")),
            ("PYMOSH_MAGIC", '"%s"' % _constant("src/pymosh/frontend/handoff.py", "MAGIC")),
            ("PYMOSH_PYVER", '"%d.%d"' % sys.version_info[:2]),
        ]
        temp = self.get_finalized_command("build").build_temp
        objects = compiler.compile([LAUNCHER], output_dir=temp, macros=macros,
                                   extra_postargs=["-O2"])
        target = os.path.join(self.build_dir, "pymosh-server")
        if os.path.exists(target):
            os.unlink(target)  # (the Python script copied there a moment ago)
        compiler.link_executable(objects, "pymosh-server", output_dir=self.build_dir)


class BinaryDistribution(Distribution):
    """A platform wheel even when no extension builds: the launcher is machine code."""

    def has_ext_modules(self) -> bool:
        return True


MAN_PAGES = ["man/pymosh.1", "man/pymosh-server.1", "man/pymosh-client.1"]

# man pages under the install prefix: ``man -M <prefix>/share/man pymosh`` in a venv

def licence() -> dict:
    """GPL-3.0-or-later as an SPDX expression (setuptools >= 77, which the isolated build
    uses) or as the older free-text field (an older setuptools building in place)."""
    major = int(setuptools.__version__.split(".")[0])
    if major >= 77:
        return {"license_expression": "GPL-3.0-or-later", "license_files": ["LICENSE"]}
    return {"license": "GPL-3.0-or-later", "license_files": ["LICENSE"]}


# share/pymosh/pymosh-server: the Python entry script, the launcher's fallback
setup(ext_modules=extensions(), distclass=BinaryDistribution,
      cmdclass={"build_ext": OptionalBuildExt, "build_scripts": BuildScripts},
      data_files=[("share/man/man1", MAN_PAGES), ("share/pymosh", ["scripts/pymosh-server"])],
      **licence())
