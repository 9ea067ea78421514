"""Writes a population for the search test and the benchmarks as one NDJSON file: the clinical
resources (not Patient/Practitioner) of a carebundle NDJSON output directory, in file order, the
first COUNT of them, with a note carrying TERM added to resource number AT (1-based; an
Observation, a valid R4 element). Usage: population.py CAREBUNDLE_DIR COUNT AT TERM OUT
Prints {"resources": COUNT, "planted_at": AT, "planted_type": ...}; exit 1 when there are fewer
than COUNT resources or TERM already occurs (it must occur exactly once).
"""

import json
import pathlib
import sys

NOT_RECORDS = {"Patient", "Practitioner"}


def main():
    source, count, at, term, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    lines = []
    for path in sorted(pathlib.Path(source).glob("*.ndjson")):
        if path.stem in NOT_RECORDS:
            continue
        lines += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) < count:
        sys.exit(f"population.py: {source} has {len(lines)} clinical resources, {count} wanted")
    lines = lines[:count]
    if any(term.lower() in line.lower() for line in lines):
        sys.exit(f"population.py: {term} already occurs in the generated data")
    planted = json.loads(lines[at - 1])
    planted.setdefault("note", []).append({"text": f"Follow-up: {term}"})
    lines[at - 1] = json.dumps(planted, separators=(",", ":"))
    pathlib.Path(out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(json.dumps({"resources": count, "planted_at": at, "planted_type": planted["resourceType"]}))


if __name__ == "__main__":
    main()
