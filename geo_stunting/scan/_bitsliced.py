"""The replication sweep of the Bernoulli scan with bit-sliced counters (numba).

When every location holds one subject, a random labelling puts 0 or 1 case
at each location, and the 256 labellings of a block fit in the bits of four
64-bit words per location (``bits[block, location, word]``; labelling ``r``
is bit ``r % 64`` of word ``r // 64``): 32 bytes a location instead of
`replication_maxima`'s 256, so a block's labels stay in a core's L2 cache
(1.6 MB at 50,000 locations) while the sweep jumps from location to location
in order of distance.

A running count per labelling is kept *bit-sliced*: plane ``p`` holds bit
``p`` of the 256 counts. Adding a location is a ripple-carry add of one bit
into each count, done on whole words (an AND and an XOR a plane). To keep
that short, locations go first into a small counter of `SMALL_PLANES`
planes, which is added into the full one (as two bit-sliced numbers) when
it could overflow or when the counts are needed.

The counts are needed as rarely as in `replication_maxima`: a block's
largest count is read (bit-sliced: the highest plane where some candidate
has a one, and so on down) only when an upper bound on it (the largest
count last read, plus one a location since) reaches the block's threshold
for the window's population; the smallest count likewise, from a lower
bound that never falls. Only when a threshold is actually reached are the
lanes at or beyond it found (a bit-sliced comparison), their counts read
and recorded as `replication_maxima` records them, with the same ratio
function, so every replication's best ratio is the same number, bit for bit.
"""

from __future__ import annotations

import numba
import numpy as np

from geo_stunting.scan._llr import interleaved, llr_bernoulli, thresholds

__all__ = ["LANES", "SMALL_PLANES", "pack_lanes", "replication_maxima_bits"]

#: Labellings per block in the bit-sliced sweep (four 64-bit words).
LANES = 256
_WORDS = LANES // 64
#: Planes of the small counter: it takes 2**SMALL_PLANES - 1 locations before it is added in.
SMALL_PLANES = 5
_SMALL_MAX = (1 << SMALL_PLANES) - 1
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


def pack_lanes(lab: np.ndarray) -> np.ndarray:
    """``(blocks, locations, 256)`` 0/1 labels as ``(blocks, locations, 4)`` uint64 words.

    >>> lab = np.zeros((1, 2, 256), dtype=np.uint8)
    >>> lab[0, 1, [0, 65, 255]] = 1
    >>> [hex(int(w)) for w in pack_lanes(lab)[0, 1]]
    ['0x1', '0x2', '0x0', '0x8000000000000000']
    """
    packed = np.packbits(lab.astype(bool), axis=2, bitorder="little")
    return np.ascontiguousarray(packed).view("<u8").astype(np.uint64)


@numba.njit(cache=True, inline="always")
def _flush(big: np.ndarray, small: np.ndarray) -> None:  # pragma: no cover - compiled
    """``big += small`` (bit-sliced numbers, plane by plane, word by word); ``small = 0``."""
    planes = big.shape[0]
    for w in range(_WORDS):
        carry = np.uint64(0)
        for p in range(planes):
            a = big[p, w]
            b = small[p, w] if p < SMALL_PLANES else np.uint64(0)
            if p >= SMALL_PLANES and carry == 0:
                break
            s = a ^ b
            big[p, w] = s ^ carry
            carry = (a & b) | (carry & s)
        for p in range(SMALL_PLANES):
            small[p, w] = 0


@numba.njit(cache=True, inline="always")
def _planes_max(big: np.ndarray) -> int:  # pragma: no cover - compiled
    """The largest of the bit-sliced counts."""
    cand = np.empty(_WORDS, np.uint64)
    for w in range(_WORDS):
        cand[w] = _ALL
    top = 0
    for p in range(big.shape[0] - 1, -1, -1):
        found = np.uint64(0)
        for w in range(_WORDS):
            found |= cand[w] & big[p, w]
        if found != 0:
            top |= 1 << p
            for w in range(_WORDS):
                cand[w] &= big[p, w]
    return top


@numba.njit(cache=True, inline="always")
def _planes_min(big: np.ndarray) -> int:  # pragma: no cover - compiled
    """The smallest of the bit-sliced counts."""
    cand = np.empty(_WORDS, np.uint64)
    for w in range(_WORDS):
        cand[w] = _ALL
    low = 0
    for p in range(big.shape[0] - 1, -1, -1):
        found = np.uint64(0)
        for w in range(_WORDS):
            found |= cand[w] & ~big[p, w]
        if found != 0:
            for w in range(_WORDS):
                cand[w] &= ~big[p, w]
        else:
            low |= 1 << p
    return low


@numba.njit(cache=True, inline="always")
def _lanes_beyond(big: np.ndarray, t: int, sign: int, out: np.ndarray) -> None:  # pragma: no cover
    """Bit masks (`out`, a word each) of the counts at least `t` (``sign`` 1) or at most `t` (-1).

    Compared plane by plane from the top, as two's numbers are: equal so far,
    and already above (below).
    """
    for w in range(_WORDS):
        eq = _ALL
        beyond = np.uint64(0)
        for p in range(big.shape[0] - 1, -1, -1):
            plane = big[p, w] if sign > 0 else ~big[p, w]
            if (t >> p) & 1 == (1 if sign > 0 else 0):
                eq &= plane
            else:
                beyond |= eq & plane
                eq &= ~plane
        out[w] = beyond | eq


@numba.njit(cache=True, inline="always")
def _record_masked(
    big: np.ndarray,
    mask: np.ndarray,
    n: int,
    record: np.ndarray,
    top_best: np.ndarray,
    n_total: int,
    c_total: int,
    sign: int,
) -> None:  # pragma: no cover - compiled
    """`record_lanes` for the lanes in `mask`: their counts read from the planes."""
    for w in range(_WORDS):
        m = mask[w]
        if m == 0:
            continue
        for k in range(64):
            if (m >> np.uint64(k)) & np.uint64(1) == 0:
                continue
            c = 0
            for p in range(big.shape[0]):
                c |= int((big[p, w] >> np.uint64(k)) & np.uint64(1)) << p
            r = w * 64 + k
            if c > record[r] if sign > 0 else c < record[r]:
                record[r] = c
                top_best[r] = max(top_best[r], llr_bernoulli(n, c, n_total, c_total))


@numba.njit(cache=True, parallel=True)
def replication_maxima_bits(
    starts: np.ndarray,
    nbr: np.ndarray,
    wsize: np.ndarray,
    bits: np.ndarray,
    maxc: np.ndarray,
    minc: np.ndarray,
    best: np.ndarray,
    level: np.ndarray,
    th: np.ndarray,
    tl: np.ndarray,
    n_total: int,
    c_total: int,
    sides: int,
) -> None:  # pragma: no cover - compiled
    """`replication_maxima` for one subject a location, on bit-sliced labels.

    The arguments are `replication_maxima`'s, with ``bits`` (`pack_lanes`)
    for its ``lab`` and no populations (all 1); blocks hold `LANES` lanes.
    """
    planes = 1
    while (1 << planes) <= th.shape[1]:  # counts up to the largest window
        planes += 1
    planes = max(planes, SMALL_PLANES)
    blocks = bits.shape[0]
    for k in numba.prange(blocks):
        b = interleaved(k, blocks)
        bitsb = bits[b]
        mx = maxc[b]
        mn = minc[b]
        top_best = best[b]
        thb = th[b]
        tlb = tl[b]
        big = np.zeros((planes, _WORDS), np.uint64)
        small = np.zeros((SMALL_PLANES, _WORDS), np.uint64)
        mask = np.zeros(_WORDS, np.uint64)
        for i in range(starts.size - 1):
            floor_best = top_best.min()
            if floor_best > level[b] * 1.01 or (floor_best > 0 and level[b] == 0):
                level[b] = floor_best
                thresholds(thb, tlb, floor_best, n_total, c_total, sides)
            big[:] = 0
            small[:] = 0
            pending = 0
            hi_bound = 0
            lo_bound = 0
            for j in range(starts[i], starts[i + 1]):
                row = bitsb[nbr[j]]
                for w in range(_WORDS):
                    v = row[w]
                    for p in range(SMALL_PLANES):
                        carry = small[p, w] & v
                        small[p, w] ^= v
                        v = carry
                pending += 1
                hi_bound += 1
                n = wsize[j]
                if pending == _SMALL_MAX or hi_bound >= thb[n] or lo_bound <= tlb[n]:
                    _flush(big, small)
                    pending = 0
                if hi_bound >= thb[n]:
                    hi_bound = _planes_max(big)
                    if hi_bound >= thb[n]:
                        _lanes_beyond(big, thb[n], 1, mask)
                        _record_masked(big, mask, n, mx[n], top_best, n_total, c_total, 1)
                if lo_bound <= tlb[n]:
                    lo_bound = _planes_min(big)
                    if lo_bound <= tlb[n]:
                        _lanes_beyond(big, tlb[n], -1, mask)
                        _record_masked(big, mask, n, mn[n], top_best, n_total, c_total, -1)
