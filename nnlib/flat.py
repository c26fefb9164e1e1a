"""Speed, outside the reading path: all parameters in one flat vector, and tiny float32 values flushed.

`pack_parameters` lets an optimizer update every parameter with a few whole-vector operations instead of a
few per parameter (`Parameter.value` and `.grad` become views of two flat vectors). `flush_tiny` keeps
float32 subnormals from slowing late epochs down (see its docstring).
"""

from __future__ import annotations

import numpy as np

from nnlib.layers import Parameter


def pack_parameters(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray]:
    """Put all parameters into one flat value vector and one flat grad vector, `(total_size,)` each;
    every `.value` and `.grad` becomes a view into them, so an optimizer step is a few whole-vector
    operations. Parameters that already sit, in order, in one flat buffer are left where they are."""
    if not params:
        raise ValueError("no parameters to optimise")
    dtypes = {p.value.dtype for p in params}
    if len(dtypes) != 1:
        raise ValueError(f"parameters must share one dtype, got {sorted(map(str, dtypes))}")
    if (existing := _flat_buffers(params)) is not None:
        return existing
    values = np.empty(sum(p.value.size for p in params), dtype=dtypes.pop())
    grads, offset = np.zeros_like(values), 0
    for p in params:
        end = offset + p.value.size
        p.rebind(values[offset:end].reshape(p.shape), grads[offset:end].reshape(p.shape))
        offset = end
    return values, grads


def _flat_buffers(params: list[Parameter]) -> tuple[np.ndarray, np.ndarray] | None:
    """The flat buffers the parameters already live in, in order, or None."""
    found = []
    for attribute in ("value", "grad"):
        arrays = [getattr(p, attribute) for p in params]
        base = arrays[0].base
        if base is None or base.ndim != 1 or base.size != sum(a.size for a in arrays):
            return None
        start, offset = base.__array_interface__["data"][0], 0
        for array in arrays:
            if array.base is not base or array.__array_interface__["data"][0] != start + offset:
                return None
            offset += array.nbytes
        found.append(base)
    return found[0], found[1]


FLUSH_EVERY = 20
FLUSH_BELOW = 1e-20


def flush_tiny(arrays: list[np.ndarray], below: float = FLUSH_BELOW) -> None:
    """Set entries with `|x| < below` to zero, in place (float32 arrays only).

    Why: with L2, weights that never receive a data gradient (border pixels that are always 0) decay
    geometrically, and so do Adam's moments. In float32 they reach the subnormal range (below ~1.2e-38),
    where the CPU handles every operation on them in slow microcode: late epochs ran 1.4-2.6x slower.
    Values below 1e-20 are far too small to change any prediction. float64 is left alone."""
    for array in arrays:
        if array.dtype == np.float32:
            array[np.abs(array) < below] = 0.0
