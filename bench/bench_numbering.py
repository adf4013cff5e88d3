"""Agreement of ANARCI Chothia CDRs with the files' own numbering, over all parapred/ files.

Usage: python bench/bench_numbering.py
The parapred/ files are raw wwPDB entries, numbered by their depositors; each
antibody chain is classed as Chothia-, Kabat- or otherwise numbered (see
absites.structure.numbering_check) and CDR agreement is reported per class.
Goal (issue 2): >= 95% agreement where the file is Chothia-numbered.
"""

from __future__ import annotations

import collections
import subprocess

from absites.config import resolve_data_root
from absites.data.index import read_index
from absites.errors import AbsitesError
from absites.structure.complex import load_complex
from absites.structure.numbering_check import check_file_numbering


def main() -> None:
    entries = [e for e in read_index(resolve_data_root() / "index.csv") if "/parapred/" in str(e.path)]
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    complexes = collections.Counter()
    misses, skipped = [], []
    for e in entries:
        try:
            checks = check_file_numbering(load_complex(e.path, e.roles, e.complex_id))
        except AbsitesError as exc:
            skipped.append(f"{e.complex_id}: {exc}")
            continue
        for c in checks:
            counts[c.file_scheme]["agree" if c.cdr_agree else "differ"] += 1
            if c.file_scheme == "chothia" and not c.cdr_agree:
                misses.append(f"{e.complex_id} chain {c.chain}: {c.n_differ} residue(s) differ")
        if all(c.file_scheme == "chothia" for c in checks):
            complexes["chothia"] += 1
            complexes["agree"] += all(c.cdr_agree for c in checks)
        complexes["all"] += 1
        complexes["all_agree"] += all(c.cdr_agree for c in checks)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"# bench_numbering: {len(entries)} parapred/ complexes, commit {commit or '?'}")
    print(f"{'file numbering':<16}{'chains':>8}{'CDRs agree':>12}{'share':>8}")
    for scheme in ("chothia", "kabat", "other"):
        c = counts[scheme]
        n = c["agree"] + c["differ"]
        print(f"{scheme:<16}{n:>8}{c['agree']:>12}{(c['agree'] / n if n else 0):>8.1%}")
    print(f"complexes with both chains Chothia-numbered: {complexes['chothia']}, "
          f"all CDRs agree on {complexes['agree']} ({complexes['agree'] / max(1, complexes['chothia']):.1%})")
    print(f"all complexes, any numbering: CDRs agree on {complexes['all_agree']} / {complexes['all']} "
          f"({complexes['all_agree'] / max(1, complexes['all']):.1%}) -- the files are not renumbered")
    for m in misses:
        print(f"differs: {m}")
    for s in skipped:
        print(f"skipped {s}")


if __name__ == "__main__":
    main()
