"""Random streams that compiled code advances directly: one per (replicate, process).

The engine advances many replicates together (a *batch*), so a process cannot hold one
``np.random.Generator`` per replicate and call it from Python for every draw: that is the Python
work the batch removes. Instead a process owns a :class:`Streams` object, an array of generator
states with one row per replicate of the batch, and its kernels draw for an animal or a cell from
the row of that animal's replicate. Each row is seeded from the replicate's ``SeedSequence``
with the process's fixed key (:func:`pardus.engine.stream_key`), so

* a replicate's draws do not depend on which batch, worker or machine runs it, or on the
  other replicates of its batch (results are identical for any worker count);
* replicate *i* of every scenario gets the same streams (common random numbers);
* adding a process adds a stream and shifts no other process's draws.

The generator is xoshiro256** (Blackman & Vigna 2021, *ACM Trans. Math. Softw.* 47:36), 256 bits
of state, period 2²⁵⁶ − 1; uniforms are the top 53 bits, offset by half a step so that they lie
strictly inside (0, 1) (a normal deviate by inversion is then always finite).
"""

from __future__ import annotations

import numpy as np
from numba import njit, uint64

_MULT5 = uint64(5)
_MULT9 = uint64(9)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2⁻⁵³


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(cache=True, inline="always")
def next_u64(s, r):
    """The next 64-bit output of stream ``r`` (row of the state array ``s``)."""
    s0 = s[r, 0]
    s1 = s[r, 1]
    s2 = s[r, 2]
    s3 = s[r, 3]
    result = _rotl(s1 * _MULT5, 7) * _MULT9
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    s[r, 0] = s0
    s[r, 1] = s1
    s[r, 2] = s2
    s[r, 3] = s3
    return result


@njit(cache=True, inline="always")
def uniform(s, r):
    """A uniform deviate in (0, 1) from stream ``r``."""
    return (float(next_u64(s, r) >> uint64(11)) + 0.5) * _TO_UNIT


@njit(cache=True)
def _by_item(s, reps, m):
    """m uniforms for each item, from the stream of the item's replicate, in item order."""
    n = reps.shape[0]
    out = np.empty((n, m))
    for i in range(n):
        r = reps[i]
        for j in range(m):
            out[i, j] = uniform(s, r)
    return out


@njit(cache=True)
def _block(s, r, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = uniform(s, r)
    return out


class Streams:
    """The generator states of one process for the replicates of a batch (rows)."""

    def __init__(self, states: np.ndarray):
        states = np.ascontiguousarray(states, dtype=np.uint64)
        if states.ndim != 2 or states.shape[1] != 4:
            raise ValueError("stream states must have shape (replicates, 4)")
        if np.any(~states.any(axis=1)):
            raise ValueError("a xoshiro256** state must not be all zero")
        self.s = states

    @classmethod
    def from_seeds(cls, seqs: list[np.random.SeedSequence]) -> "Streams":
        return cls(np.stack([seq.generate_state(4, np.uint64) for seq in seqs]))

    @classmethod
    def from_generator(cls, rng: np.random.Generator, n: int = 1) -> "Streams":
        """Streams seeded from a numpy Generator (for a state set up by hand)."""
        return cls(rng.integers(1, 2**63, size=(n, 4), dtype=np.uint64))

    @property
    def n(self) -> int:
        return self.s.shape[0]

    def by_item(self, reps: np.ndarray, m: int = 1) -> np.ndarray:
        """(len(reps), m) uniforms; row i from the stream of replicate ``reps[i]``."""
        return _by_item(self.s, np.asarray(reps, dtype=np.int64), m)

    def per_replicate(self, m: int) -> np.ndarray:
        """(replicates, m) uniforms: m from each replicate's stream."""
        return _by_item(self.s, np.arange(self.n, dtype=np.int64), m)

    def random(self, r: int, shape=()) -> np.ndarray | float:
        """Uniforms of replicate r's stream in C order (for rare events handled in Python)."""
        size = int(np.prod(shape)) if shape != () else 1
        out = _block(self.s, int(r), size)
        return float(out[0]) if shape == () else out.reshape(shape)

    def permutation(self, r: int, items: np.ndarray) -> np.ndarray:
        """A uniformly random order of ``items`` from replicate r's stream."""
        items = np.asarray(items)
        return items[np.argsort(self.random(r, (items.size,)), kind="stable")]


def as_streams(rng, n: int = 1) -> Streams:
    """A process's streams: given, or seeded from a numpy Generator (a state built by hand)."""
    if isinstance(rng, Streams):
        return rng
    if isinstance(rng, np.random.Generator):
        return Streams.from_generator(rng, n)
    raise TypeError(f"expected Streams or numpy Generator, got {type(rng).__name__}")
