"""``python -m mgc.models.kernels``: build the CNN's kernels (if needed) and say where they are, or why not."""

import sys

from . import KernelsUnavailable, build


def main() -> int:
    """Build, print the library's path; on failure print the reason and return 1 (training then runs TF's ops)."""
    try:
        print(f"mgc CNN kernels: {build()}")
    except KernelsUnavailable as exc:
        print(f"mgc CNN kernels not built ({exc}); the CNN trains on TensorFlow's own ops", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
