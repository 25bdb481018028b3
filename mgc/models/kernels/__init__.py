"""The CNN's CPU kernels (``cnn_ops.cc``): built once per machine with the C++ compiler, then loaded into TensorFlow.

TensorFlow spends most of a training step of the study's CNN in two places that need no more
arithmetic than a few million multiply-adds: the first convolution (one input channel, which its
general kernels handle poorly) and max pooling's gradient (``MaxPoolGrad`` searches every window
again for its maximum). ``cnn_ops.cc`` holds four small ops for them:

- ``MgcConvRelu1`` / ``MgcConvRelu1Grad``: a 'valid', stride-1 convolution of a one-channel input,
  with its bias and ReLU, and the gradients of its kernel and bias;
- ``MgcMaxPool`` / ``MgcMaxPoolGrad``: max pooling ('same' or 'valid' padding) that also returns
  where each maximum was (the first in the window, as TensorFlow picks it), so the gradient is a scatter.

Each op splits its work by sample over TensorFlow's intra-op threads and sums the kernel's
gradient from per-sample parts in sample order, so results do not depend on the thread count
(op determinism holds). :mod:`mgc.models.fused_conv` wraps them as Keras layers.

The library is compiled against the installed TensorFlow's headers (``tf.sysconfig``) with the
system's ``g++`` (``$CXX`` to choose another), into ``$MGC_KERNEL_DIR`` or
``~/.cache/mgc/kernels``, under a name keyed by the source, the flags, TensorFlow's version and
the compiler, so an upgrade rebuilds it. A SHA-256 digest written beside the library is checked
before it is loaded (a damaged shared library would crash the process): one that does not match,
or has no digest, is built again. ``scripts/setup-env.sh`` builds it at install time
(about 20 s); without a compiler, or if the build fails, :func:`load` says why and the layers
run TensorFlow's own ops (the manifest's ``execution`` records which ran).

Run ``python -m mgc.models.kernels`` to build it and print where it is.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

#: The C++ source, shipped with the package.
SOURCE = Path(__file__).with_name("cnn_ops.cc")

#: Seconds the compiler may take before the build counts as failed.
BUILD_TIMEOUT_S = 300


class KernelsUnavailable(RuntimeError):
    """The CNN's kernels could not be built or loaded; the message says why."""


def cache_dir() -> Path:
    """Where built libraries are kept: ``$MGC_KERNEL_DIR``, else ``$XDG_CACHE_HOME/mgc/kernels`` (``~/.cache``)."""
    if os.environ.get("MGC_KERNEL_DIR"):
        return Path(os.environ["MGC_KERNEL_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mgc" / "kernels"


def _cpu_flags() -> list[str]:
    """Vector-instruction flags this CPU supports (AVX2 and FMA on x86-64 Linux), else none."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return []
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    words = set(info.split())
    return ["-mavx2", "-mfma"] if {"avx2", "fma"} <= words else []


def _compiler() -> str:
    cxx = os.environ.get("CXX") or "g++"
    found = shutil.which(cxx)
    if not found:
        raise KernelsUnavailable(f"no C++ compiler: {cxx!r} is not on the PATH (set CXX, or install g++)")
    return found


def _command(tf, cxx: str, source: Path, target: Path) -> list[str]:
    return [
        cxx,
        "-shared",
        "-fPIC",
        "-O3",
        *_cpu_flags(),
        "-Wno-deprecated-declarations",
        *tf.sysconfig.get_compile_flags(),
        str(source),
        "-o",
        str(target),
        *tf.sysconfig.get_link_flags(),
    ]


def library_path(tf=None) -> Path:
    """The path the library for this source, TensorFlow and compiler has (built or not).

    Raises
    ------
    KernelsUnavailable
        No C++ compiler is on the PATH.
    """
    if tf is None:
        import tensorflow as tf
    cxx = _compiler()
    key = hashlib.sha256()
    key.update(SOURCE.read_bytes())
    key.update(" ".join(_command(tf, cxx, Path("s"), Path("t"))).encode())
    key.update(tf.__version__.encode())
    try:  # the compiler's version: another compiler, another build
        key.update(subprocess.run([cxx, "--version"], capture_output=True, timeout=30).stdout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise KernelsUnavailable(f"the C++ compiler {cxx!r} does not run: {exc}") from exc
    return cache_dir() / f"mgc_cnn_ops-{key.hexdigest()[:16]}.so"


def build(*, force: bool = False) -> Path:
    """Compile ``cnn_ops.cc`` into the cache unless it is there; return the library's path.

    Parameters
    ----------
    force : bool
        Compile even if the library exists.

    Returns
    -------
    Path
        The shared library (written atomically: another process building at once is harmless).

    Raises
    ------
    KernelsUnavailable
        No compiler, the cache folder is not writable, or the compiler failed (its last lines of output).
    """
    import tensorflow as tf

    target = library_path(tf)
    if not force and _intact(target):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".building-", suffix=".so")
        os.close(fd)
    except OSError as exc:
        raise KernelsUnavailable(f"cannot write the kernel cache {target.parent}: {exc} (set MGC_KERNEL_DIR)") from exc
    try:
        done = subprocess.run(
            _command(tf, _compiler(), SOURCE, Path(tmp)), capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
        )
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
            raise KernelsUnavailable(f"compiling {SOURCE.name} failed (exit {done.returncode}):\n{tail}")
        digest = _digest(Path(tmp))
        os.replace(tmp, target)
        _checksum(target).write_text(digest)  # read back by _intact before every load
    except subprocess.TimeoutExpired as exc:
        raise KernelsUnavailable(f"compiling {SOURCE.name} took over {BUILD_TIMEOUT_S} s") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _checksum(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _intact(library: Path) -> bool:
    """Whether ``library`` is there and is what the build wrote (a damaged shared library crashes
    the process that loads it, so it is checked first, against the digest written beside it)."""
    try:
        return _checksum(library).read_text().strip() == _digest(library)
    except OSError:
        return False


@functools.cache
def _loaded():
    """``(module, None)`` with the loaded ops, or ``(None, reason)``; tried once per process."""
    if os.environ.get("MGC_NO_KERNELS"):
        return None, "turned off by MGC_NO_KERNELS"
    try:
        import tensorflow as tf

        return tf.load_op_library(str(build())), None
    except KernelsUnavailable as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a library TensorFlow refuses to load: run its own ops instead
        return None, f"TensorFlow could not load the kernels: {type(exc).__name__}: {exc}"


def load():
    """The ops of ``cnn_ops.cc`` (a module with ``mgc_conv_relu1``, ...), or ``None`` when they cannot be had.

    Built on first use if ``scripts/setup-env.sh`` did not build them; :func:`unavailable_reason` says why not.
    """
    return _loaded()[0]


def unavailable_reason() -> str | None:
    """Why :func:`load` returns ``None`` (``None`` when the kernels are loaded)."""
    return _loaded()[1]
