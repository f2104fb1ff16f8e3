"""Block shapes of the row kernels (reductions and scans over a (M, R) view) and how few rows are split.

A row kernel's program owns BLOCK_M rows and walks R in BLOCK_R chunks. Rows contiguous along R read a
tile of about 1024 elements: one row's chunk when rows are long, several short rows side by side when
they are not (rows of 32 run 32 rows per program, not one row in a 1024-wide block of idle lanes). Rows
whose elements are strided (R is an outer dim: reducing dim 0) read many rows side by side, so loads
coalesce across M.

When even those blocks give fewer than 2 x SM-count programs (a full `x.sum()`, a bias gradient's
column sums, a 1-D cumsum), `split_plan` cuts every row into chunks so that the first stage of the
split kernels (kernels/reduction_split.py, the scans of kernels/scan.py) runs about 4 x SM-count
programs; a second stage combines the per-chunk partials in a fixed order.
"""

from __future__ import annotations

from . import tuning
from .device_array import DeviceArray
from .tuning import next_pow2

# (BLOCK_M, BLOCK_R, num_warps) per row length (the next power of two of R, 16 to 1024): ~1024-element tiles.
ROW_BLOCKS = [dict(BLOCK_M=min(64, 1024 // r), BLOCK_R=r, num_warps=4) for r in (16, 32, 64, 128, 256, 512, 1024)]
ROW_CONTIGUOUS = ROW_BLOCKS[-1]
ROW_STRIDED = dict(BLOCK_M=64, BLOCK_R=16, num_warps=4)
# Tuning candidates per layout. Every row kernel loops over R, so any block serves any row length.
CONTIG_SPACE = ROW_BLOCKS + [dict(BLOCK_M=1, BLOCK_R=2048, num_warps=8)]
STRIDED_SPACE = [ROW_STRIDED, dict(BLOCK_M=32, BLOCK_R=32, num_warps=4)]
SPACE = CONTIG_SPACE + STRIDED_SPACE  # every config a space can hold (the AOT check's --full)
HEURISTIC_CONFIGS = ROW_BLOCKS + [ROW_STRIDED]  # every config the heuristic returns (the AOT check's default)

# 1-byte elements (bool, int8, uint8) take tiles of twice the elements on the same warps: 16 per thread, so a
# thread's contiguous run is 16 bytes (one 128-bit access) rather than 8. `row_config(..., narrow=True)`.
ONE_BYTE = frozenset({"bool", "int8", "uint8"})  # dtype names as the keys hold them
NARROW_ROW_BLOCKS = [dict(BLOCK_M=min(128, 2048 // r), BLOCK_R=r, num_warps=4) for r in (16, 32, 64, 128, 256, 512,
                                                                                         1024)]
NARROW_ROW_STRIDED = dict(BLOCK_M=128, BLOCK_R=16, num_warps=4)
NARROW_HEURISTIC_CONFIGS = NARROW_ROW_BLOCKS  # what row_config(narrow=True) returns (the strided tile is the first)

# Chunk lengths of a split row are multiples of these: a contiguous chunk starts 4 KiB-aligned (fp32) and
# holds whole 1024-wide blocks; a strided one whole 32-row blocks.
CONTIG_GRANULE = 1024
STRIDED_GRANULE = 32


def row_config(rb: int, contiguous: bool, narrow: bool = False) -> dict:
    """The heuristic block for rows of next_pow2(R) = rb: the row block of rb (clamped to 16..1024);
    `narrow` for 1-byte elements (NARROW_ROW_BLOCKS: twice the elements)."""
    if not contiguous:
        return dict(NARROW_ROW_STRIDED if narrow else ROW_STRIDED)
    return dict((NARROW_ROW_BLOCKS if narrow else ROW_BLOCKS)[min(max(rb, 16), 1024).bit_length() - 5])


def row_heuristic(key: tuple) -> dict:
    """Keys end with (next_pow2(M), next_pow2(R), rows contiguous along R)."""
    return row_config(key[-2], key[-1])


def row_space(key: tuple, space: str) -> list[dict]:
    """The heuristic first, then the layout's other candidates ("max": both layouts'), without blocks far
    wider than the row (they would only mask lanes) or far narrower than a long one (many short steps)."""
    own, other = (CONTIG_SPACE, STRIDED_SPACE) if key[-1] else (STRIDED_SPACE, CONTIG_SPACE)
    first = row_heuristic(key)
    narrowest = min(key[-2], 1024) // 4 if key[-1] else 0  # strided rows read many rows side by side instead
    return [first] + [c for c in own + (other if space == "max" else [])
                      if c != first and narrowest <= c["BLOCK_R"] <= max(32, 2 * key[-2])]


def dtype_aware(dtype_field: int):
    """(heuristic, space) for a Tunable whose keys hold the read dtype's name at `dtype_field` and end as
    row_heuristic's: 1-byte elements get the NARROW_ROW_BLOCKS (16 per thread: 128-bit loads), first in
    the space; others row_heuristic / row_space. Their specs ship NARROW_HEURISTIC_CONFIGS for 1-byte
    dtypes, and list them in the space."""
    def heuristic(key: tuple) -> dict:
        return row_config(key[-2], key[-1], key[dtype_field] in ONE_BYTE)

    def space(key: tuple, space: str) -> list[dict]:
        first = heuristic(key)
        return [first] + [c for c in row_space(key, space) if c != first]

    return heuristic, space


def contiguous_rows(x: DeviceArray) -> bool:
    """Whether x (M, R) is read along R (unit stride, or a single row)."""
    return x.strides[1] == 1 or x.shape[0] == 1


def layout(x: DeviceArray) -> tuple:
    """A key's shape part for an (M, R) view: (next_pow2(M), next_pow2(R), rows contiguous along R)."""
    return next_pow2(x.shape[0]), next_pow2(x.shape[1]), contiguous_rows(x)


# Below this many elements the second launch costs more than the idle SMs do (an MLP's bias gradients).
MIN_SPLIT_NUMEL = 1 << 15


def split_plan(M: int, R: int, contiguous: bool) -> tuple[int, int] | None:
    """(chunk, n_chunks) cutting each of M rows of length R into n_chunks pieces of `chunk` elements (the
    last one shorter), or None when the row kernel alone fills the GPU or the rows are too short to cut.

    Rows are split when the heuristic row block gives fewer than 2 x SM-count programs; chunks aim at
    4 x SM-count programs in all, never shorter than one granule, so at least 2 x SM-count programs run
    whenever R holds that many granules. Depends only on (M, R, layout, SM count): the op layer sizes the
    scratch with it before the launch wrapper plans the same split.
    """
    if M <= 0 or R <= 0 or M * R < MIN_SPLIT_NUMEL:
        return None
    row_programs = -(-M // row_config(next_pow2(R), contiguous)["BLOCK_M"])
    sms = tuning.sm_count()
    if row_programs >= 2 * sms:
        return None
    granule = CONTIG_GRANULE if contiguous else STRIDED_GRANULE
    want = -(-4 * sms // row_programs)  # chunks per row
    chunk = max(granule, (R // want) // granule * granule)  # rounded down: at least `want` chunks fit
    n_chunks = -(-R // chunk)
    return (chunk, n_chunks) if n_chunks >= 2 else None
