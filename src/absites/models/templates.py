"""Known epitopes of homologous antigens ("templates") as per-residue features.

Many antigens users study have been solved with other antibodies. For each antigen chain of a query
complex, every antigen chain of a library complex (the training set) that is at least ``min_identity``
identical is aligned to it, and the library complex's epitope labels move along the alignment onto
the query's residues. Identity and alignment are those of :mod:`absites.data.leakage` (global, BLOSUM62,
identical positions over the shorter chain, exact LCS prefilter), computed once per pair of distinct
sequences. Only library sequences that share 3-mers with the query along one diagonal band (16
residues wide, with its neighbour, so an indel does not split it) for at least 5 % of the shorter
chain's length are aligned. Measured on the GEP pools (41 val/test and 120 training queries against
the 771-complex library; 1,487 pairs ≥ 50 % identical): every identical-enough pair kept ≥ 8.9 % on
its best band, and 1.35 % of the other pairs reach 5 %; so a query costs a handful of alignments
instead of one per library chain. Chains shorter than 30 residues (peptides) are left out: half of
20 residues identical is chance.

Features per antigen residue (:data:`TEMPLATE_FEATURES`; antibody residues get the "no template" values):

* ``template_rate``: weighted mean of the transferred labels, weight = identity⁴ · (0.05 + a²), where
  ``a`` is the identity of the template's CDRs to the query's (antibodies alike bind alike: the
  antibody conditions which known epitope counts); -1 where no template covers the residue;
* ``template_identity``: best antigen identity of a template covering the residue (0: none);
* ``template_count``: log(1 + number of templates covering it);
* ``closest_antibody_label``: the label transferred from the covering template whose antibody is the
  most like the query's; ``closest_antibody_identity``: that CDR identity (-1 where no template covers).

A complex is never its own template: library entries of the same PDB entry (when the complex id starts
with one, e.g. ``1ahw_BA_C``) or with the identical antibody (same CDR sequences) are skipped. While
training, each training complex gets its features from the rest of the library under this rule (leave
one out), so the model sees the same kind of evidence it gets at test time in the id-disjoint regime.

``relatives`` (e.g. 0.9) also leaves out, for training complexes only, templates whose antibody is at least
that CDR-identical to theirs: variants of the same antibody. The id-disjoint rule keeps them, and pools hold
many (104 of the 433 template-covered complexes of the GEP id-disjoint pool have one at ≥ 90 %, whose
transferred epitope is right for 75 % of its top 20 residues), but a new antibody seldom has one (none of
the GEP val and test complexes does: their closest template antibodies are ≤ 81 % identical). Trained with
them, a model learns to trust templates more than they deserve on new antibodies (bench/RESULTS.md, issue 13).
A query that does have such a relative still gets it at prediction time.

An antigen alone (no antibody to compare) gets weights from antigen identity only, a closest-antibody
identity of 0 and the rate as its closest-antibody label: "no antibody like it is known".
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import numpy as np

from absites.data.leakage import Identity
from absites.graph.build import ResidueGraph
from absites.structure.residues import ONE_LETTER

TEMPLATE_FEATURES = ("template_rate", "template_identity", "template_count", "closest_antibody_label",
                     "closest_antibody_identity")
MIN_CHAIN_LENGTH = 30  # shorter antigen chains (peptides) carry too little sequence to align reliably
KMER = 3
BAND = 16  # diagonal band width (residues) of the 3-mer prefilter
MIN_BAND_HITS = (3, 0.05)  # candidates: at least max(3, 5 % of the shorter chain's length) 3-mers on one band
_PDB_ID = re.compile(r"^([0-9][a-z0-9]{3})(_|$)", re.IGNORECASE)


def kmer_codes(seq: str) -> np.ndarray:
    """One integer per overlapping ``KMER``-mer of ``seq`` (its bytes, most significant first), in order."""
    b = np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8).astype(np.int64)
    n = len(b) - KMER + 1
    codes = np.zeros(max(n, 0), dtype=np.int64)
    for j in range(KMER if n > 0 else 0):
        codes = (codes << 8) | b[j:j + n]
    return codes


def _sequence(graph: ResidueGraph, idx: np.ndarray) -> str:
    return "".join(ONE_LETTER.get(name, "X") for name in graph.res_name[idx])


def antigen_chains(graph: ResidueGraph) -> list[tuple[np.ndarray, str]]:
    """(residue indices, one-letter sequence) of each antigen chain long enough to align."""
    ag = ~graph.is_antibody.astype(bool)
    out = []
    for chain in dict.fromkeys(graph.res_chain[ag]):
        idx = np.flatnonzero(ag & (graph.res_chain == chain))
        if len(idx) >= MIN_CHAIN_LENGTH:
            out.append((idx, _sequence(graph, idx)))
    return out


def antibody_key(graph: ResidueGraph) -> str:
    """The CDR sequences (what the id-disjoint rule calls the same antibody); "" without CDRs."""
    return _sequence(graph, np.flatnonzero(graph.cdr > 0))


def with_template_features(graph: ResidueGraph, features: np.ndarray) -> ResidueGraph:
    """``graph`` whose node features end with the template features (what a network reads)."""
    return dataclasses.replace(graph, x=np.concatenate([graph.x, features], axis=1).astype(np.float32))


def pdb_entry(complex_id: str) -> str:
    m = _PDB_ID.match(complex_id)
    return m.group(1).lower() if m else ""


@dataclass
class _Entry:
    pdb: str
    antibody: str
    chains: list[tuple[str, np.ndarray]]  # (sequence, epitope labels of its residues)


class TemplateLibrary:
    """Antigen sequences and epitope labels of a set of complexes, to transfer labels by alignment."""

    def __init__(self, graphs: list[ResidueGraph], min_identity: float = 0.5, relatives: float | None = None):
        """``relatives``: training complexes (leave one out) skip templates whose antibody's CDRs are at least
        this identical to theirs (see the module docstring); None skips only identical antibodies."""
        if not 0.0 < min_identity <= 1.0:
            raise ValueError(f"min_identity must be in (0, 1], got {min_identity}")
        if relatives is not None and not 0.0 < relatives <= 1.0:
            raise ValueError(f"relatives must be in (0, 1] or None, got {relatives}")
        self.min_identity = min_identity
        self.relatives = relatives
        self.entries = [_Entry(pdb_entry(g.complex_id), antibody_key(g),
                               [(seq, g.y[idx].astype(np.uint8)) for idx, seq in antigen_chains(g)])
                        for g in graphs]
        self.ids = [g.complex_id for g in graphs]
        by_sequence: dict[str, list[tuple[int, np.ndarray]]] = {}
        for i, entry in enumerate(self.entries):
            for seq, labels in entry.chains:
                by_sequence.setdefault(seq, []).append((i, labels))
        self.by_sequence = by_sequence
        self.sequences = list(by_sequence)
        self.lengths = np.asarray([len(seq) for seq in self.sequences])
        self._identity = None
        self._pairs: dict[tuple[str, str], tuple[float, np.ndarray, np.ndarray] | None] = {}
        self._index_kmers()

    def _index_kmers(self) -> None:
        """Every 3-mer of the library as a code, sorted, with its (library sequence, position): the diagonal
        prefilter's lookup table, built with numpy (unpickling a template model rebuilds it at each start)."""
        codes = [kmer_codes(seq) for seq in self.sequences]
        owner = np.repeat(np.arange(len(codes)), [len(c) for c in codes])
        position = np.concatenate([np.arange(len(c)) for c in codes]) if codes else np.zeros(0, np.int64)
        codes = np.concatenate(codes) if codes else np.zeros(0, np.int64)
        order = np.argsort(codes, kind="stable")  # ties keep (sequence, position) order
        self.kmer_sorted = codes[order]
        self.kmer_hits = np.stack([owner, position], axis=1).astype(np.int64)[order]

    @property
    def identity(self) -> Identity:
        """The aligner (built on first use; not pickled)."""
        if self._identity is None:
            self._identity = Identity()
        return self._identity

    def __len__(self) -> int:
        return len(self.entries)

    def __getstate__(self):  # aligners, memos and the 3-mer index are rebuilt after unpickling (smaller files)
        state = dict(self.__dict__)
        state["_identity"], state["_pairs"] = None, {}
        state.pop("kmer_sorted", None)
        state.pop("kmer_hits", None)
        return state

    def __setstate__(self, state):
        state.setdefault("relatives", None)  # libraries pickled before ``relatives`` existed
        self.__dict__.update(state)
        self._index_kmers()

    def candidates(self, query: str) -> list[str]:
        """Library sequences whose shared 3-mers with ``query`` line up on one diagonal band."""
        q = kmer_codes(query)
        lo, hi = np.searchsorted(self.kmer_sorted, q, "left"), np.searchsorted(self.kmer_sorted, q, "right")
        n = hi - lo
        if not n.sum():
            return []
        query_pos = np.repeat(np.arange(len(q)), n)  # one row per (query 3-mer, library occurrence)
        rows = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        pairs = self.kmer_hits[rows]
        diagonal = query_pos - pairs[:, 1] + max(self.lengths.max(), len(query))
        key = pairs[:, 0] * (1 << 32) + diagonal // BAND
        bands, counts = np.unique(key, return_counts=True)
        after = np.minimum(np.searchsorted(bands, bands + 1), bands.size - 1)  # the next band, if it has hits
        nxt = np.where(bands[after] == bands + 1, counts[after], 0)
        best = np.zeros(len(self.sequences))
        np.maximum.at(best, bands >> 32, counts + nxt)
        shorter = np.minimum(self.lengths, len(query))
        least = np.maximum(MIN_BAND_HITS[0], MIN_BAND_HITS[1] * shorter)
        return [self.sequences[j] for j in np.flatnonzero(best >= least)]

    def _match(self, query: str, seq: str) -> tuple[float, np.ndarray, np.ndarray] | None:
        """(identity, aligned query positions, aligned library positions), or None below the threshold."""
        swapped = seq < query  # one computation per unordered pair: identity is symmetric
        key = (seq, query) if swapped else (query, seq)
        if key not in self._pairs:
            identity = self.identity(*key, at_least=self.min_identity)
            if identity < self.min_identity:
                self._pairs[key] = None
            else:
                blocks = self.identity.alignment(*key).aligned
                first, second = ([np.concatenate([np.arange(a, b) for a, b in side]) if len(side) else
                                  np.zeros(0, dtype=int) for side in blocks])
                self._pairs[key] = (identity, first, second)
        match = self._pairs[key]
        if match is None or not swapped:
            return match
        return match[0], match[2], match[1]

    def features(self, graph: ResidueGraph, leave_out: int | None = None, training: bool | None = None
                 ) -> np.ndarray:
        """``(R, 5)`` float32 template features of ``graph`` (:data:`TEMPLATE_FEATURES`).

        Args:
            leave_out: index of ``graph`` in this library when it is one of its complexes (training).
            training: ``graph`` is a training complex (default: when ``leave_out`` is given; True for the noisy
                copies of training complexes): with ``relatives`` set, the templates of its antibody's close
                variants are skipped.
        """
        n = graph.num_nodes
        num, den = np.zeros(n), np.zeros(n)
        best, count = np.zeros(n), np.zeros(n)
        closest_label, closest_ab = np.full(n, -1.0), np.full(n, -1.0)
        pdb, antibody = pdb_entry(graph.complex_id), antibody_key(graph)
        skip = {i for i, e in enumerate(self.entries)
                if (pdb and e.pdb == pdb) or (antibody and e.antibody == antibody)}
        if leave_out is not None:
            skip.add(leave_out)
        training = leave_out is not None if training is None else training
        cap = self.relatives if training and antibody else None
        ab_identity: dict[int, float] = {}

        def antibody_identity(i: int) -> float:  # 0 when either antibody has no CDRs (an antigen alone)
            if i not in ab_identity:
                ab_identity[i] = self.identity(antibody, self.entries[i].antibody)
            return ab_identity[i]

        for idx, query in antigen_chains(graph):
            for seq in self.candidates(query):
                members = self.by_sequence[seq]
                users = [(i, labels) for i, labels in members
                         if i not in skip and (cap is None or antibody_identity(i) < cap)]
                if not users:
                    continue
                match = self._match(query, seq)
                if match is None:
                    continue
                identity, q, t = match
                rows = idx[q]
                for i, labels in users:
                    a = antibody_identity(i)
                    weight = identity ** 4 * (0.05 + a * a)
                    num[rows] += weight * labels[t]
                    den[rows] += weight
                    count[rows] += 1
                    closer = a > closest_ab[rows]
                    closest_ab[rows[closer]] = a
                    closest_label[rows[closer]] = labels[t][closer]
                best[rows] = np.maximum(best[rows], identity)
        rate = np.where(den > 0, num / np.maximum(den, 1e-12), -1.0)
        if not antibody:  # an antigen alone: no antibody to be like, the consensus stands in
            closest_label = np.where(count > 0, rate, -1.0)
        return np.stack([rate, best, np.log1p(count), closest_label, closest_ab], axis=1).astype(np.float32)

    def training_features(self, graphs: list[ResidueGraph]) -> list[np.ndarray]:
        """Leave-one-out features of the library's own complexes (``graphs`` in the order it was built)."""
        if [g.complex_id for g in graphs] != self.ids:
            raise ValueError("training_features needs the graphs the library was built from, in order")
        return [self.features(g, leave_out=i) for i, g in enumerate(graphs)]

    def notes(self, graph: ResidueGraph) -> list[str]:
        """The line a prediction's notes carry about the templates; none for a graph with no antigen."""
        return [self.describe(graph)] if not graph.is_antibody.astype(bool).all() else []

    def describe(self, graph: ResidueGraph) -> str:
        """How much the templates know about this antigen, in words (for a prediction's notes)."""
        ag = ~graph.is_antibody.astype(bool)
        f = self.features(graph)[ag]
        covered = f[:, 1] > 0
        if not covered.any():
            return (f"epitope templates: no antigen in the {len(self)} training complexes is ≥ "
                    f"{self.min_identity:.0%} identical; epitope scores come from structure alone")
        n = int(round(np.expm1(f[covered, 2]).max()))
        return (f"epitope templates: {n} training complex(es) with a homologous antigen (best identity "
                f"{f[covered, 1].max():.0%}) cover {covered.mean():.0%} of the antigen residues; their known "
                "epitopes inform the scores")
