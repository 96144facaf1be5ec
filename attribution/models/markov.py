"""Markov: credit each dimension value by its removal effect in an absorbing Markov chain (ATTRIBUTION.md).

The journeys, converting and non-converting, are read as walks through a chain whose states are
``(start)``, the values of the credited dimension (for order k, the tuples of the last k values),
and the absorbing ``(conversion)`` and ``(null)``. Each journey adds its weight (conversions +
non-converting journeys it stands for) to every transition it makes: ``(start)`` to its first state,
state to state, and from its last state to ``(conversion)`` (weight: its conversions) and to
``(null)`` (weight: its non-converting journeys). Row-normalised, the counts give the transition
matrix. For order 1, consecutive repeats are merged (``A > A > B`` walks ``A > B``, as
ChannelAttribution does); for order k > 1 the path is kept as it is and its first states are
padded with ``(start)``.

P, the probability of being absorbed in ``(conversion)`` from ``(start)``, is solved exactly as the
sparse linear system ``(I - Q) x = r`` (Q: transitions among the transient states, r: into
``(conversion)``; P = x at ``(start)``), with no simulation and no truncation of paths. Removing a
value c sends every transition into a state containing c to ``(null)``; its removal effect is
RE_c = 1 - P(without c) / P, and c is credited RE_c / sum_j RE_j of all conversions and of all value.
Where every removal effect is 0 (no conversions: P = 0) the credits fall back to linear.

References: E. Anderl, I. Becker, F. von Wangenheim and J. H. Schumann (2016), "Mapping the customer
journey: lessons learned from graph-based online attribution modeling", International Journal of
Research in Marketing 33(3), 457-474. ChannelAttribution's ``markov_model`` estimates the same
quantities by simulation.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order
from scipy.sparse.linalg import spsolve

from attribution.models.base import COUNT, NULLS, AttributionModel, JourneyIndex, credit_sums, journey_counts
from attribution.models.coding import value_codes

__all__ = ["CONVERSION", "NULL", "START", "Markov", "MarkovFit", "MarkovReplicator"]

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
MAX_ORDER = 4
JOINER = " / "  # between the values of several ``by`` columns in state labels
_INT_LIMIT = 1 << 62  # mixed-radix codes are re-ranked before they could overflow int64


# ---- integer coding of values, states and transitions --------------------------------------------------

def _rank(codes: np.ndarray, holders: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return each code's rank among the distinct codes, the sorted distinct codes, and (with ``holders``)
    a row holding each distinct code.

    Codes in a small range are ranked through a table over the range; others by hash factorization
    followed by a sort of the distinct codes. Either way the result depends on the codes only, never
    on hash order.
    """
    n = len(codes)
    top = int(codes.max()) + 1 if n else 0
    if top <= max(4 * n, 1 << 20):  # the table costs no more than the codes themselves
        seen = np.zeros(top, dtype=bool)
        seen[codes] = True
        distinct = np.flatnonzero(seen)
        lookup = np.cumsum(seen, dtype=np.int64) - 1
        found = codes
    else:
        found, distinct = pd.factorize(codes)
        order = np.argsort(distinct, kind="stable")
        distinct = np.asarray(distinct)[order]
        lookup = np.empty(len(distinct), dtype=np.int64)
        lookup[order] = np.arange(len(distinct))
    if len(distinct) < 2**31:
        lookup = lookup.astype(np.int32)
    rank = lookup[found]
    holder = None
    if holders:
        holder = np.empty(len(distinct), dtype=np.int64)
        holder[rank] = np.arange(n)  # any row of a code will do: they all hold the same tuple
    return rank, distinct, holder


def _combine(high: np.ndarray, low: np.ndarray, radix: int) -> np.ndarray:
    """Return ``high * radix + low`` as int64, re-ranking ``high`` first when the product could overflow."""
    if len(high) and (int(high.max()) + 1) * radix >= _INT_LIMIT:
        high = _rank(high)[0]
    return high.astype(np.int64) * radix + low


def _label(keys: pd.DataFrame) -> list[str]:
    """Return a label per key: its values joined by `` / `` (a missing value is blank, as in path strings)."""
    parts = [["" if v is None or v != v else str(v) for v in keys[c].tolist()] for c in keys.columns]
    return [JOINER.join(p) for p in zip(*parts, strict=True)]


# ---- the chain -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Solution:
    conversions: np.ndarray       # credited conversions per key
    value: np.ndarray             # credited value per key
    removal_effects: np.ndarray   # per key
    present: np.ndarray           # per key: in a journey of positive weight
    probability: float            # P
    fell_back: bool
    counts: np.ndarray            # weighted count per state-to-state transition
    to_conversion: np.ndarray     # weighted count per state into (conversion)
    to_null: np.ndarray           # weighted count per state into (null)


class MarkovReplicator:
    """The Markov chain of a set of journeys, rebuilt for any re-weighting of them (for the bootstrap).

    Everything that depends on the journeys' paths only is built once: the value codes, the states,
    a sparse incidence matrix (journey x transition: how often each journey makes each transition)
    and which states hold which value. A call re-weights the journeys, so it only multiplies the
    weights by the incidence matrix, row-normalises and solves the K + 1 sparse systems (removing a
    value drops the states that hold it, which is where their incoming transitions went: to (null)).

    Parameters
    ----------
    journeys
        Journeys as :func:`attribution.build_journeys` or :func:`attribution.journeys_from_paths` return them.
    by
        The column(s) credited; with several, each distinct tuple of values is one value.
    order
        The chain's order, 1 to 4.

    Attributes
    ----------
    keys : DataFrame
        The ``by`` columns, one row per credited value, in a fixed (sorted) order; the arrays a call
        returns are aligned with it.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> j = journeys_from_paths(pd.DataFrame({"path": ["A > B", "B"], "value": [10.0, 5.0]}))
    >>> replicate = Markov().replicator(j)
    >>> replicate.keys["channel"].tolist()
    ['A', 'B']
    >>> conversions, value = replicate(np.array([1.0, 3.0]), np.array([2.0, 0.0]), np.array([10.0, 30.0]))
    >>> conversions.round(6).tolist(), value.round(6).tolist()
    ([1.333333, 2.666667], [13.333333, 26.666667])
    """

    def __init__(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel", order: int = 1) -> None:
        columns = [by] if isinstance(by, str) else list(by)
        if not columns:
            raise ValueError("by needs at least one column")
        missing = [c for c in columns if c not in journeys.columns]
        if missing:
            raise ValueError(f"cannot group by {', '.join(missing)}: the journeys have no such column")
        index = JourneyIndex.of(journeys)
        self.order = _check_order(order)
        self.columns = columns
        self.n_journeys = len(index.starts)
        value, self.keys = value_codes(journeys, columns)
        n_keys = len(self.keys)
        first = journeys["position"].to_numpy() == 0  # each journey's first touch
        self._value = value  # per touch, for the linear fallback
        self._index = index
        self._linear: sp.csr_array | None = None

        # The state of every step (1..S; 0 is (start)) and which values each state holds.
        if self.order == 1:
            step = first.copy()  # consecutive repeats are one step
            np.not_equal(value[1:], value[:-1], out=step[1:], where=~first[1:])
            state = value[step] + 1
            first = first[step]
            n_states = n_keys + 1
            members = sp.csr_array((np.ones(n_keys), (np.arange(n_keys), np.arange(1, n_keys + 1))),
                                   shape=(n_keys, n_states))
        else:
            position = journeys["position"].to_numpy()
            code = value.astype(np.int64)
            for lag in range(1, self.order):
                code = _combine(code, _lagged(value, position, lag, n_keys), n_keys + 1)
            state, _, holder = _rank(code, holders=True)
            del code
            state += 1
            n_states = len(holder) + 1
            # A state holds its touch's value and the ones before it (n_keys: the (start) padding).
            held = np.stack([_lagged(value, position, lag, n_keys)[holder] for lag in range(self.order)])
            owner = np.broadcast_to(np.arange(1, n_states), held.shape)
            real = held < n_keys
            members = sp.csr_array((np.ones(int(real.sum())), (held[real], owner[real])), shape=(n_keys, n_states))
        self.n_states = n_states  # the transient states: (start) and the S value states
        self._members = members.tocsr()
        self._members.data[:] = 1.0  # a value held twice by a state (A > A) is held once

        # Transitions between transient states: (start) -> first state, then state -> next state.
        previous = np.empty_like(state)
        previous[1:] = state[:-1]
        previous[first] = 0
        width = np.int64 if n_states * n_states >= 2**31 else np.int32
        transition, distinct, _ = _rank(previous.astype(width) * n_states + state)
        del previous
        self._from = (distinct // n_states).astype(np.int64)
        self._to = (distinct % n_states).astype(np.int64)
        # Journey x transition, one entry per step (a journey's steps are consecutive); duplicates add up.
        indptr = np.append(np.flatnonzero(first), len(first)).astype(np.int32 if len(first) < 2**31 else np.int64)
        self._incidence = sp.csr_array((np.ones(len(transition)), transition, indptr),
                                       shape=(self.n_journeys, len(distinct)))
        self._last = state[indptr[1:] - 1].astype(np.int64)  # each journey's last state, where it is absorbed

    def __call__(self, conversions: np.ndarray, nulls: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the conversions and value credited to each of :attr:`keys` under these journey weights.

        Parameters
        ----------
        conversions, nulls, values
            Per journey (in journey order), the conversions and non-converting journeys it stands for
            and its total value (counted only where it has conversions).

        Returns
        -------
        tuple of ndarray
            Credited conversions and credited value, aligned with :attr:`keys`.
        """
        solution = self._solve(conversions, nulls, values)
        return solution.conversions, solution.value

    def _weights(self, name: str, array: np.ndarray, counts: bool = True) -> np.ndarray:
        out = np.asarray(array, dtype=float)
        if out.shape != (self.n_journeys,):
            raise ValueError(f"{name} needs one number per journey ({self.n_journeys}), got shape {out.shape}")
        if counts and (np.isnan(out).any() or (out < 0).any()):
            raise ValueError(f"{name} must be counts (numbers >= 0) for every journey")
        return out

    def _solve(self, conversions: np.ndarray, nulls: np.ndarray, values: np.ndarray) -> _Solution:
        conversions = self._weights(f"conversions ({COUNT})", conversions)
        nulls = self._weights(f"nulls ({NULLS})", nulls)
        values = self._weights("values", values, counts=False)
        n = self.n_states
        counts = self._incidence.T @ (conversions + nulls)
        to_conversion = np.bincount(self._last, weights=conversions, minlength=n)
        to_null = np.bincount(self._last, weights=nulls, minlength=n)
        out = np.bincount(self._from, weights=counts, minlength=n) + to_conversion + to_null
        scale = np.divide(1.0, out, out=np.zeros(n), where=out > 0)
        diagonal = np.arange(n)
        system = sp.csc_array((np.concatenate([np.ones(n), -counts * scale[self._from]]),
                               (np.concatenate([diagonal, self._from]), np.concatenate([diagonal, self._to]))),
                              shape=(n, n))  # I - Q; a self-loop adds to the diagonal
        absorb = to_conversion * scale
        probability = _absorption(system, absorb)

        present = (self._members @ (out > 0).astype(float)) > 0
        effects = np.zeros(len(self.keys))
        if probability > 0:
            # Values none of whose states can reach (conversion) have an effect of exactly 0: skip their solves.
            converts = _reaches(self._from[counts > 0], self._to[counts > 0], np.flatnonzero(to_conversion > 0), n)
            members = self._members
            for key in range(len(self.keys)):
                states = members.indices[members.indptr[key]:members.indptr[key + 1]]
                if not converts[states].any():
                    continue
                keep = np.ones(n, dtype=bool)
                keep[states] = False
                kept = np.flatnonzero(keep)  # (start) stays first: it holds no value
                without = _absorption(system[kept][:, kept], absorb[kept])
                effects[key] = 1.0 - without / probability
            np.maximum(effects, 0.0, out=effects)  # an absorbing chain has none < 0: float noise only
        total_conversions = float(conversions.sum())
        total_value = float(values[conversions > 0].sum())
        fell_back = not effects.sum() > 0
        if fell_back:
            linear = self._linear_matrix()
            credited = linear @ conversions
            credited_value = linear @ np.where(conversions > 0, values, 0.0)
        else:
            share = effects / effects.sum()
            credited, credited_value = share * total_conversions, share * total_value
        return _Solution(credited, credited_value, effects, present, probability, fell_back,
                         counts, to_conversion, to_null)

    def _linear_matrix(self) -> sp.csr_array:
        """Return the key x journey matrix of linear weights (1/n per touch), made on first use."""
        if self._linear is None:
            sizes = self._index.sizes
            journey = np.repeat(np.arange(self.n_journeys), sizes)
            weight = 1.0 / np.repeat(sizes, sizes).astype(float)
            self._linear = sp.csr_array((weight, (self._value, journey)), shape=(len(self.keys), self.n_journeys))
        return self._linear

    def state_labels(self) -> list[str]:
        """Return the label of every state, by state number: ``(start)``, the values (order 1), then the
        absorbing ``(conversion)`` and ``(null)``."""
        if self.order != 1:
            raise ValueError("state labels are given for order 1 only")
        return [START, *_label(self.keys), CONVERSION, NULL]


def _lagged(value: np.ndarray, position: np.ndarray, lag: int, padding: int) -> np.ndarray:
    """Return the value ``lag`` touches earlier in the same journey at every touch (``padding`` before its start)."""
    out = np.empty_like(value)
    out[lag:] = value[:len(value) - lag]
    out[position < lag] = padding
    return out


def _absorption(system: sp.csc_array, absorb: np.ndarray) -> float:
    """Return the probability of absorption in (conversion) from state 0: x[0] of (I - Q) x = r."""
    if not absorb.any():
        return 0.0
    solution = np.atleast_1d(spsolve(system.tocsc(), absorb))
    return float(solution[0])


def _reaches(source: np.ndarray, target: np.ndarray, seeds: np.ndarray, n: int) -> np.ndarray:
    """Return which of the ``n`` states can reach a seed along the edges ``source -> target``."""
    sink = n  # an extra node pointing to every seed, searched along reversed edges
    graph = sp.csr_array((np.ones(len(source) + len(seeds)),
                          (np.concatenate([target, np.full(len(seeds), sink)]), np.concatenate([source, seeds]))),
                         shape=(n + 1, n + 1))
    reached = np.zeros(n + 1, dtype=bool)
    reached[breadth_first_order(graph, sink, directed=True, return_predecessors=False)] = True
    return reached[:n]


def _check_order(order: object) -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or not 1 <= order <= MAX_ORDER:
        raise ValueError(f"order must be an integer from 1 to {MAX_ORDER} (got {order!r}): the chain remembers "
                         "that many last values; 1 is the usual choice")
    return int(order)


# ---- the model -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MarkovFit:
    """What :meth:`Markov.fit` found.

    Attributes
    ----------
    credits
        The credit table, as :meth:`Markov.attribute` returns it.
    conversion_probability
        P: the probability of absorption in ``(conversion)`` from ``(start)``.
    removal_effects
        The ``by`` columns and ``removal_effect`` (1 - P without the value / P) of every value seen in
        a journey, in the order of the credits (values without credit last).
    transitions
        For order 1: ``from``, ``to`` (state labels; several ``by`` values joined by `` / ``),
        ``probability`` and the weighted ``count``, for every transition seen; None for higher orders.
    fell_back
        True when every removal effect was 0 (no conversions) and the credits are linear's.
    order
        The chain's order.
    """

    credits: pd.DataFrame
    conversion_probability: float
    removal_effects: pd.DataFrame
    transitions: pd.DataFrame | None
    fell_back: bool
    order: int


class Markov(AttributionModel):
    """Credit each value of the dimension by its removal effect in an exact absorbing Markov chain.

    The chain is built from converting and non-converting journeys (an ``n_conversions`` column
    weighs a journey's conversions, an ``n_null`` column its non-converting journeys); see the module
    documentation for the method. Credits are made in aggregate: they sum to the conversions and
    value of all journeys, not per conversion.

    Parameters
    ----------
    order
        How many last values a state remembers, 1 to 4 (default 1).

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A > B", "B", "A"], "conversions": [1, 1, 0], "nulls": [0, 1, 1],
    ...                       "value": [30.0, 10.0, 0.0]})
    >>> j = journeys_from_paths(paths, conversions="conversions", nulls="nulls")
    >>> Markov().attribute(j).round(4).values.tolist()
    [['B', 1.5, 30.0, 0.75], ['A', 0.5, 10.0, 0.25]]
    >>> fit = Markov().fit(j)
    >>> round(fit.conversion_probability, 6), fit.removal_effects["removal_effect"].round(6).tolist()
    (0.5, [1.0, 0.333333])
    >>> fit.transitions.round(6).values.tolist()[:3]
    [['(start)', 'A', 0.5, 2.0], ['(start)', 'B', 0.5, 2.0], ['A', 'B', 0.5, 1.0]]
    """

    name = "markov"

    def __init__(self, order: int = 1) -> None:
        self.order = _check_order(order)

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Markov credits in aggregate, not per touch: raise NotImplementedError."""
        raise NotImplementedError("markov credits the journeys in aggregate, not touch by touch: "
                                  "use Markov().attribute(journeys, by=...)")

    def replicator(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> MarkovReplicator:
        """Return the chain of ``journeys`` ready to be re-solved under other journey weights (bootstrap)."""
        return MarkovReplicator(journeys, by, self.order)

    def attribute(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> pd.DataFrame:
        """Credit the journeys' conversions and value to the ``by`` dimension(s) by removal effects.

        Parameters
        ----------
        journeys
            Journeys as :func:`attribution.build_journeys` or :func:`attribution.journeys_from_paths`
            return them, optionally with ``n_conversions`` and ``n_null``.
        by
            One column of the journeys or several (each distinct tuple of values is one value).

        Returns
        -------
        DataFrame
            The ``by`` columns, ``conversions``, ``value`` and ``share``, largest first, summing to the
            conversions and the value of the journeys.
        """
        return self.fit(journeys, by).credits

    def fit(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> MarkovFit:
        """Return the credits with the chain behind them: P, the removal effects and the transitions.

        Raises
        ------
        ValueError
            When ``journeys`` are not in the journey layout, lack a ``by`` column, or have counts < 0.
        """
        replicator = self.replicator(journeys, by)
        conversions, nulls, values = journey_counts(journeys)
        solution = replicator._solve(conversions, nulls, values)
        columns = replicator.columns
        keys = replicator.keys
        credited = solution.conversions > 0
        frame = keys[credited].assign(conversions=solution.conversions[credited], value=solution.value[credited])
        credits = credit_sums(frame.reset_index(drop=True), columns, float(conversions.sum()))
        effects = keys.assign(removal_effect=solution.removal_effects, _rank=-solution.conversions.round(9))
        effects = effects[solution.present].sort_values(["_rank", *columns], na_position="last", kind="stable")
        effects = effects.drop(columns="_rank").reset_index(drop=True)
        transitions = _transition_table(replicator, solution) if self.order == 1 else None
        return MarkovFit(credits, solution.probability, effects, transitions, solution.fell_back, self.order)


def _transition_table(replicator: MarkovReplicator, solution: _Solution) -> pd.DataFrame:
    """Return the seen transitions of an order-1 chain: from, to, probability and weighted count."""
    n = replicator.n_states
    states = np.arange(n)
    source = np.concatenate([replicator._from, states, states])
    target = np.concatenate([replicator._to, np.full(n, n), np.full(n, n + 1)])
    count = np.concatenate([solution.counts, solution.to_conversion, solution.to_null])
    seen = count > 0
    source, target, count = source[seen], target[seen], count[seen]
    out = np.bincount(source, weights=count, minlength=n)
    order = np.lexsort([target, source])
    labels = np.array(replicator.state_labels(), dtype=object)
    return pd.DataFrame({"from": labels[source[order]], "to": labels[target[order]],
                         "probability": count[order] / out[source[order]], "count": count[order]})
