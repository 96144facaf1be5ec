"""Shapley: split each conversion over its journey's distinct values by their Shapley values (ATTRIBUTION.md).

The game
--------
The players of a journey are the distinct values of the credited dimension in it (channel by
default): its set T. For any set S of values, v(S) is the conversion rate of the journeys whose set
of distinct values is *exactly* S: their conversions / (conversions + non-converting journeys),
each journey weighed by its ``n_conversions`` and ``n_null``. v(S) = 0 when no journey has the set
S (so v(empty) = 0). The Shapley value of j in T (Shapley 1953) is j's marginal contribution
averaged over the orders in which T's players can join::

    phi_j(T) = sum over S subset of T \\ {j} of |S|! (|T| - |S| - 1)! / |T|! x (v(S + {j}) - v(S))

Each conversion of a journey with set T is split over T in proportion to max(phi_j(T), 0), equally
when no phi_j(T) is positive (phi within 1e-10 of 0 counts as 0: float noise; a rate is at most 1,
and so is any |phi|). A player's share is divided equally among its touches in the journey, so
every conversion (and its value) is credited exactly once, per conversion, and the credits drill
down to campaigns or links as the rule-based models' do. Nothing is sampled or truncated: the same
journeys give bit-identical credits.

This is the cooperative-game view of multi-touch attribution of Dalessandro et al. 2012, with a
characteristic function on the observed conversion rates of channel sets as discussed by Zhao et
al. 2018. Their *simplified* Shapley value is not this model: it takes v(S) = the conversions of the
journeys whose set is a subset of S. That game is a sum of one unanimity game per journey set, and
a unanimity game's Shapley value gives each member an equal part, so every conversion would just be
split equally over its journey's distinct values (linear over distinct values), whatever the other
journeys do and blind to the non-converting ones. The conversion-rate game compares a set's rate
with its subsets', which is what lets non-converting journeys move the credit.

Computation
-----------
phi is computed once per distinct set, never per journey. Since v(S) = 0 for the sets no journey
has, only the subsets S of T that *exist* contribute::

    phi_j(T) = sum over existing S subset of T with j in S of v(S) a(|S|)
               - sum over existing S subset of T of v(S) w(|S|)

with w(s) = s! (|T|-s-1)! / |T|! (w(|T|) = 0) and a(s) = w(s-1) + w(s). Sets are bitmasks over the
value universe (uint64 words, several for more than 64 values), so the existing subsets of a set are
found by vectorised lookups (all 2^|T| sub-masks in the sorted set table) or a vectorised scan of the
existing sets, whichever is smaller. The two sums are two fixed sparse matrices, so phi for every
set under any counts is two sparse products (:class:`ShapleyReplicator`, for the bootstrap).
A journey with more than ``max_players`` values (``shapley_max_players``) is refused: the cost is
2^|T| per set in the worst case, and the model never approximates.

References
----------
L. S. Shapley (1953), "A value for n-person games", in Contributions to the Theory of Games II,
Annals of Mathematics Studies 28, 307-317.
B. Dalessandro, C. Perlich, O. Stitelman and F. Provost (2012), "Causally motivated attribution for
online advertising", Proceedings of the Sixth International Workshop on Data Mining for Online
Advertising (ADKDD '12).
K. Zhao, S. H. Mahboobi and S. R. Bagheri (2018), "Shapley value methods for attribution modeling in
online advertising", arXiv:1804.05327.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from attribution.models.base import COUNT, NULLS, AttributionModel, JourneyIndex
from attribution.models.coding import distinct_pairs, value_codes

__all__ = ["Shapley", "ShapleyReplicator"]

DEFAULT_MAX_PLAYERS = 16
# phi within this of 0 is float noise (|phi| <= 1: it is a weighted sum of rate differences with weights summing to 1).
_NOISE = 1e-10
_BLOCK = 1 << 21  # elements per vectorised block when looking for subsets (bounds the memory)


def _as_keys(masks: np.ndarray) -> np.ndarray:
    """View bitmask rows (n x words) as one sortable key per row (lexicographic over the words)."""
    if masks.shape[1] == 1:
        return masks[:, 0]
    dtype = np.dtype([(f"w{i}", np.uint64) for i in range(masks.shape[1])])
    return np.ascontiguousarray(masks).view(dtype).reshape(-1)


def _coefficients(k_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Return w[t, s] = s!(t-s-1)!/t! (0 for s = t) and a[t, s] = w[t, s-1] + w[t, s], each correctly rounded."""
    w = np.zeros((k_max + 1, k_max + 1))
    a = np.zeros((k_max + 1, k_max + 1))
    f = [math.factorial(i) for i in range(k_max + 1)]
    for t in range(1, k_max + 1):
        for s in range(t):
            w[t, s] = f[s] * f[t - s - 1] / f[t]  # exact integers, one rounding
        for s in range(1, t):
            a[t, s] = f[s - 1] * f[t - s - 1] / f[t - 1]  # w(s-1) + w(s), simplified, one rounding
        a[t, t] = 1 / t  # w(t-1); w(t) = 0
    return w, a


def _pairs(journeys: pd.DataFrame, index: JourneyIndex,
           players: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Return the distinct (journey, player) pairs (journey, player code; sorted), each row's pair, each
    pair's touches, and the players."""
    code, values = value_codes(journeys, players)
    p = max(len(values), 1)
    key = np.repeat(np.arange(len(index.starts), dtype=np.int64) * p, index.sizes)
    key += code
    del code
    pair_key, row_pair, touches = distinct_pairs(key, len(index.starts) * p)
    del key
    return _narrow(pair_key // p), _narrow(pair_key % p), row_pair, _narrow(touches), values


def _narrow(codes: np.ndarray) -> np.ndarray:
    """Return non-negative integer ``codes`` as int32 when they fit (they are kept for every pair or row)."""
    return codes.astype(np.int32) if not len(codes) or int(codes.max()) < 2**31 else codes


def _masks(pair_journey: np.ndarray, pair_value: np.ndarray, n: int, players: int) -> np.ndarray:
    """Return each journey's set of players as a bitmask (n x words of 64 players), from its sorted pairs."""
    words = (max(players, 1) + 63) // 64
    masks = np.zeros((n, words), dtype=np.uint64)
    if len(pair_journey):
        # Pairs are sorted by journey then value: one run per (journey, word), whose bits are ORed.
        run = pair_journey.astype(np.int64) * words + (pair_value >> 6)
        run_start = np.flatnonzero(np.concatenate([[True], run[1:] != run[:-1]]))
        bits = np.left_shift(np.uint64(1), (pair_value & 63).astype(np.uint64))
        masks.reshape(-1)[run[run_start]] = np.bitwise_or.reduceat(bits, run_start)
    return masks


def _enumerate_subsets(k: int, candidates: int) -> bool:
    """Whether to find the subsets of k-player sets by looking up their 2^k - 1 sub-masks (else: by
    testing the ``candidates``, the sets of at most k players): whichever tests fewer."""
    return (1 << k) - 1 <= candidates


# ---- the game, built once -------------------------------------------------------------------------------

class _Game:
    """The distinct value sets of some journeys and the sparse maps from set rates to Shapley values.

    A *slot* is one (distinct set, member) pair; slots of a set are consecutive, members in code order.
    """

    def __init__(self, journeys: pd.DataFrame, players: Sequence[str], max_players: int) -> None:
        index = JourneyIndex.of(journeys)
        self.starts = index.starts
        self.n_journeys = n = len(index.starts)
        pair_journey, pair_value, self.row_pair, self.pair_count, self.players = _pairs(journeys, index, players)
        size = np.bincount(pair_journey, minlength=n)  # |T| of each journey
        if n and int(size.max()) > max_players:
            raise ValueError(
                f"shapley_max_players is {max_players}, but a journey has {int(size.max())} distinct "
                f"{'/'.join(players)} values (players); exact Shapley values cost 2^players per distinct set and "
                f"are never approximated: raise shapley_max_players (Shapley(max_players={int(size.max())})) "
                "or credit a coarser dimension")
        masks = _masks(pair_journey, pair_value, n, len(self.players))
        set_keys, first, journey_set = np.unique(_as_keys(masks), return_index=True, return_inverse=True)
        self.set_masks = masks[first]
        del masks
        self.journey_set = journey_set.reshape(-1)
        self.set_size = size[first]
        self.set_ptr = np.concatenate([[0], np.cumsum(self.set_size)])
        self.slot_set = np.repeat(np.arange(len(first)), self.set_size)
        # A pair's slot: its set's first slot + its rank among the journey's values (both in value order).
        pair_start = np.cumsum(size) - size
        rank = np.arange(len(pair_journey)) - pair_start[pair_journey]
        self.pair_start = pair_start
        self.slot_value = pair_value[np.repeat(pair_start[first] - self.set_ptr[:-1], self.set_size)
                                     + np.arange(len(self.slot_set))]
        rank += self.set_ptr[:-1][self.journey_set][pair_journey]
        self.pair_slot = _narrow(rank)
        self.pair_journey = pair_journey
        self.pair_value = pair_value
        self._build_matrices(set_keys)

    def _build_matrices(self, set_keys: np.ndarray) -> None:
        """Find every (set T, existing subset S) and make the sparse maps v -> the two sums of phi."""
        n_sets, n_slots = len(self.set_size), len(self.slot_set)
        k_max = int(self.set_size.max()) if n_sets else 0
        w, a = _coefficients(k_max)
        words = self.set_masks.shape[1]
        a_rows, a_cols, a_data, b_rows, b_cols, b_data = [], [], [], [], [], []
        idx = np.int32 if n_slots < 2**31 else np.int64  # the matrices' index type: half the memory
        for k in range(1, k_max + 1):
            sets_k = np.flatnonzero(self.set_size == k)
            if not len(sets_k):
                continue
            candidates = np.flatnonzero(self.set_size <= k)
            enumerate_subsets = _enumerate_subsets(k, len(candidates))
            per_set = (1 << k) - 1 if enumerate_subsets else len(candidates)
            step = max(1, _BLOCK // (per_set * words))
            for lo in range(0, len(sets_k), step):
                t_sets = sets_k[lo:lo + step]
                members = self.slot_value[self.set_ptr[t_sets][:, None] + np.arange(k)]  # (sets, k)
                if enumerate_subsets:
                    t_of, s_of = self._subsets_by_lookup(t_sets, members, set_keys)
                else:
                    t_of, s_of = self._subsets_by_scan(t_sets, candidates)
                # Which members of T each found S holds (bit tests on S's mask).
                m = members[t_of]
                held = (np.take_along_axis(self.set_masks[s_of], m >> 6, axis=1)
                        >> (m & 63).astype(np.uint64)) & np.uint64(1)
                s_size = self.set_size[s_of]
                pair_row, member = np.nonzero(held)
                a_rows.append((self.set_ptr[t_sets[t_of[pair_row]]] + member).astype(idx))
                a_cols.append(s_of[pair_row].astype(idx))
                a_data.append(a[k, s_size[pair_row]])
                proper = s_size < k
                b_rows.append(t_sets[t_of[proper]].astype(idx))
                b_cols.append(s_of[proper].astype(idx))
                b_data.append(w[k, s_size[proper]])
        self.plus = _csr(a_rows, a_cols, a_data, (n_slots, n_sets))
        self.minus = _csr(b_rows, b_cols, b_data, (n_sets, n_sets))

    def _subsets_by_lookup(self, t_sets: np.ndarray, members: np.ndarray,
                           set_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (position in ``t_sets``, set) of the existing non-empty subsets, from all 2^k - 1 sub-masks."""
        n, k = members.shape
        words = self.set_masks.shape[1]
        pattern = np.arange(1, 1 << k)
        chosen = ((pattern[:, None] >> np.arange(k)) & 1).astype(bool)  # (patterns, k)
        sub = np.zeros((words, n, len(pattern)), dtype=np.uint64)
        bit = np.left_shift(np.uint64(1), (members & 63).astype(np.uint64))
        word = members >> 6
        rows = np.arange(n)
        for b in range(k):
            part = np.where(chosen[None, :, b], bit[:, b, None], np.uint64(0))
            if words == 1:
                sub[0] |= part
            else:
                sub[word[:, b], rows] |= part  # each set's word that holds its member b
        keys = _as_keys(sub.reshape(words, -1).T)
        where = np.minimum(np.searchsorted(set_keys, keys), len(set_keys) - 1)
        found = np.flatnonzero(set_keys[where] == keys)
        return found // len(pattern), where[found]

    def _subsets_by_scan(self, t_sets: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (position in ``t_sets``, set) of the subsets among ``candidates``, testing each mask."""
        t_masks = self.set_masks[t_sets][:, None, :]
        c_masks = self.set_masks[candidates][None, :, :]
        inside = ((c_masks & t_masks) == c_masks).all(axis=2)
        t_of, c_of = np.nonzero(inside)
        return t_of, candidates[c_of]

    def per_set(self, counts: np.ndarray) -> np.ndarray:
        """Return the sum of per-journey ``counts`` over the journeys of each distinct set."""
        return np.bincount(self.journey_set, weights=counts, minlength=len(self.set_size))

    def shares(self, conversions: np.ndarray, nulls: np.ndarray) -> np.ndarray:
        """Return each slot's share of its set's conversions under these per-set counts.

        The share is max(phi, 0) normalised over the set, or equal when no phi of the set is positive.
        """
        total = conversions + nulls
        v = np.divide(conversions, total, out=np.zeros(len(total)), where=total > 0)  # v = 0 for unseen sets
        phi = self.plus @ v - (self.minus @ v)[self.slot_set]
        positive = np.where(phi > _NOISE, phi, 0.0)
        total = np.add.reduceat(positive, self.set_ptr[:-1])[self.slot_set] if len(phi) else positive
        return np.divide(positive, total, out=1.0 / self.set_size[self.slot_set], where=total > 0)


def _csr(rows: list[np.ndarray], cols: list[np.ndarray], data: list[np.ndarray],
         shape: tuple[int, int]) -> sp.csr_matrix:
    """Return the CSR matrix of the (distinct) entries, columns sorted in each row: one summation order, always."""
    if rows:
        r, c, d = np.concatenate(rows), np.concatenate(cols), np.concatenate(data)
    else:
        r, c, d = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    matrix = sp.csr_matrix((d, (r, c)), shape=shape)
    matrix.sort_indices()
    return matrix


def _journey_counts(journeys: pd.DataFrame, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each journey's conversions (1 each without ``n_conversions``), non-converting journeys (0 each
    without ``n_null``) and value."""
    n = len(starts)
    conversions = journeys[COUNT].to_numpy(dtype=float)[starts] if COUNT in journeys else np.ones(n)
    nulls = journeys[NULLS].to_numpy(dtype=float)[starts] if NULLS in journeys else np.zeros(n)
    return conversions, nulls, journeys["value"].to_numpy(dtype=float)[starts]


# ---- the replicator (bootstrap) ------------------------------------------------------------------------

class ShapleyReplicator:
    """Shapley credits of fixed journeys as a function of their counts: built once, cheap per call.

    The distinct sets, their existing subsets and the coefficient matrices are made once, with a
    sparse map from the counts to the (slot, key) cells they reach: from the sets' summed counts when
    the credited columns are the players (each player is its own key), else from each journey's
    counts (a player's share is divided equally among its touches, so its touches' keys get it pro
    rata). A call sums the counts per set, takes the rates, phi of every set by two sparse products,
    the shares, and the credits by one more sparse product; nothing is rebuilt.

    Parameters
    ----------
    journeys
        Journeys as :func:`attribution.build_journeys` or :func:`attribution.journeys_from_paths` return them.
    by
        The column(s) credited.
    players
        The column(s) whose values are the players (default: ``by``).
    max_players
        The most players a journey may have (``shapley_max_players``).

    Attributes
    ----------
    keys : DataFrame
        The ``by`` columns, one row per value seen in a touch, sorted (a missing value last, as None);
        the arrays a call returns are aligned with it.
    conversions, nulls, values : ndarray
        The journeys' own counts and values, one entry per journey (in journey order).

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A > B", "A", "B"], "n": [2, 1, 0], "nulls": [2, 3, 4],
    ...                       "value": [20.0, 10.0, 0.0]})
    >>> j = journeys_from_paths(paths, conversions="n", nulls="nulls")
    >>> replicate = Shapley().replicator(j)
    >>> replicate.keys["channel"].tolist()
    ['A', 'B']
    >>> conversions, value = replicate(replicate.conversions, replicate.nulls, replicate.values)
    >>> conversions.round(6).tolist(), value.round(6).tolist()
    ([2.5, 0.5], [25.0, 5.0])
    """

    def __init__(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel",
                 players: str | Sequence[str] | None = None, max_players: int = DEFAULT_MAX_PLAYERS) -> None:
        columns = _columns(by, "by")
        player_columns = _columns(players, "players") if players is not None else columns
        game = _Game(journeys, player_columns, _check_max_players(max_players))
        self.n_journeys = game.n_journeys
        self.conversions, self.nulls, self.values = _journey_counts(journeys, game.starts)
        n_slots, n_sets = len(game.slot_set), len(game.set_size)
        if columns == player_columns:
            # Each player is its own key, and every journey of a set credits the set's slots alike: the map
            # runs from the sets (their summed counts), one entry per slot.
            keys = game.players.copy()
            self._target_slot, self._target_key = np.arange(n_slots), game.slot_value
            self._map = _csr([np.arange(n_slots)], [game.slot_set], [np.ones(n_slots)], (n_slots, n_sets))
            self._by_set = True
        else:
            # A player's share goes to the keys of its touches pro rata: the map runs from the journeys, one
            # row per (slot, key) reached, holding each journey's touches there / the player's touches in it.
            key, keys = value_codes(journeys, columns)
            row_pair = game.row_pair
            target, target_of_row, _ = distinct_pairs(game.pair_slot[row_pair].astype(np.int64) * len(keys) + key,
                                                       n_slots * len(keys))
            del key
            self._target_slot, self._target_key = target // len(keys), target % len(keys)
            touches = sp.csr_matrix((np.ones(len(row_pair)), (target_of_row, game.pair_journey[row_pair])),
                                    shape=(len(target), self.n_journeys))
            del target_of_row
            touches.sum_duplicates()  # whole numbers: exact, in any order
            journey = touches.indices
            slot = self._target_slot[np.repeat(np.arange(len(target)), np.diff(touches.indptr))]
            touches.data /= game.pair_count[game.pair_start[journey] + slot - game.set_ptr[game.journey_set[journey]]]
            self._map = touches
            self._by_set = False
        for c in columns:
            keys[c] = keys[c].astype(object).where(keys[c].notna(), None)
        self.keys = keys
        self._game = game

    def __call__(self, conversions: np.ndarray, nulls: np.ndarray,
                 values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the conversions and value credited to each of :attr:`keys` under these journey counts.

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
        conversions = self._check("conversions", conversions)
        nulls = self._check("nulls", nulls)
        values = np.where(conversions > 0, self._check("values", values), 0.0)
        game = self._game
        set_conversions = game.per_set(conversions)
        shares = game.shares(set_conversions, game.per_set(nulls))
        if self._by_set:
            conversions, values = set_conversions, game.per_set(values)
        reached = self._map @ np.column_stack([conversions, values])  # per (slot, key): [conversions, value]
        weight = shares[self._target_slot]
        n_keys = len(self.keys)
        return (np.bincount(self._target_key, weights=weight * reached[:, 0], minlength=n_keys).astype(float),
                np.bincount(self._target_key, weights=weight * reached[:, 1], minlength=n_keys).astype(float))

    def _check(self, name: str, array: np.ndarray) -> np.ndarray:
        out = np.asarray(array, dtype=float)
        if out.shape != (self.n_journeys,):
            raise ValueError(f"{name} needs one number per journey ({self.n_journeys}), got shape {out.shape}")
        if np.isnan(out).any() or (name != "values" and (out < 0).any()):
            raise ValueError(f"{name} must be counts (numbers >= 0) for every journey")
        return out


# ---- the model ------------------------------------------------------------------------------------------

def _columns(columns: str | Sequence[str], name: str) -> list[str]:
    out = [columns] if isinstance(columns, str) else list(columns)
    if not out or not all(isinstance(c, str) for c in out):
        raise ValueError(f"{name} must name one journey column or several (e.g. 'channel')")
    return out


def _check_max_players(max_players: object) -> int:
    if isinstance(max_players, bool) or not isinstance(max_players, (int, np.integer)) or max_players < 1:
        raise ValueError(f"shapley_max_players must be a whole number >= 1 (got {max_players!r}); "
                         f"the default is {DEFAULT_MAX_PLAYERS}")
    return int(max_players)


class Shapley(AttributionModel):
    """Split each conversion over its journey's distinct values by their Shapley values in the conversion-rate game.

    See the module documentation for the game. Non-converting journeys (``n_null``) lower the rates
    they share a set with; an ``n_conversions`` column weighs each journey's conversions.

    Parameters
    ----------
    players
        The column(s) whose values are the players; with several, each distinct tuple is one player.
        Default: the ``by`` of :meth:`attribute` (``channel`` for :meth:`weights`). With
        ``players="channel"`` and ``by=["channel", "campaign"]`` the channels' credits drill down to
        the campaigns of their touches.
    max_players
        ``shapley_max_players``: the most players a journey may have (default 16). A journey with more
        raises ValueError; the model never approximates.

    Examples
    --------
    >>> from attribution import journeys_from_paths
    >>> paths = pd.DataFrame({"path": ["A > B", "A", "B"], "n": [2, 1, 0], "nulls": [2, 3, 4],
    ...                       "value": [20.0, 10.0, 0.0]})
    >>> j = journeys_from_paths(paths, conversions="n", nulls="nulls")
    >>> Shapley().attribute(j).round(6).values.tolist()
    [['A', 2.5, 25.0, 0.833333], ['B', 0.5, 5.0, 0.166667]]

    Here v(A) = 1/4, v(B) = 0 and v(AB) = 1/2, so in ``A > B`` phi_A = (1/4 + 1/2)/2 = 3/8 and
    phi_B = (0 + 1/4)/2 = 1/8: A gets 3/4 of its 2 conversions, and all of ``A``'s one.
    """

    name = "shapley"

    def __init__(self, players: str | Sequence[str] | None = None, max_players: int = DEFAULT_MAX_PLAYERS) -> None:
        self.players = players if players is None or isinstance(players, str) else tuple(players)
        if self.players is not None:
            _columns(self.players, "players")
        self.max_players = _check_max_players(max_players)

    def _players(self, by: str | Sequence[str]) -> list[str]:
        return _columns(self.players if self.players is not None else by, "players")

    def weights(self, journeys: pd.DataFrame) -> np.ndarray:
        """Return each row's share of its journey's conversions (players: ``players``, else ``channel``).

        A player's share of the journey is divided equally among its touches; the weights of a journey
        sum to 1 (a non-converting journey's too, though it is credited nothing).

        Raises
        ------
        ValueError
            When the journeys are not in the journey layout, lack the players' column(s), or a journey
            has more than ``max_players`` players.
        """
        game = _Game(journeys, self._players("channel"), _check_max_players(self.max_players))
        if not game.n_journeys:
            return np.zeros(len(journeys))
        conversions, nulls, _ = _journey_counts(journeys, game.starts)
        shares = game.shares(game.per_set(conversions), game.per_set(nulls))
        return shares[game.pair_slot[game.row_pair]] / game.pair_count[game.row_pair]

    def attribute(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> pd.DataFrame:
        """Credit the journeys' conversions and value to the ``by`` column(s) (the players default to ``by``).

        Returns the tidy credit table of :meth:`AttributionModel.attribute`: the ``by`` columns,
        ``conversions``, ``value`` and ``share``, largest first, summing to the conversions and value.
        """
        if self.players is None:
            return Shapley(players=_columns(by, "by"), max_players=self.max_players).attribute(journeys, by)
        return super().attribute(journeys, by)

    def replicator(self, journeys: pd.DataFrame, by: str | Sequence[str] = "channel") -> ShapleyReplicator:
        """Return the journeys' game ready to credit ``by`` under other journey counts (for the bootstrap)."""
        return ShapleyReplicator(journeys, by, self._players(by), self.max_players)
