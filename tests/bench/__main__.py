"""``python -m tests.bench [name ...]``: run the benchmarks named (all by default)."""

from __future__ import annotations

import sys

from tests.bench import common, content, events, generation, listing, load, search, variants

BENCHES = {
    "load": load.run,
    "content": content.run,
    "listing": listing.run,
    "search": search.run,
    "generation": generation.run,
    "events": events.run,
    "variants": variants.run,
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
        return 2
    print(f"Machine: {common.machine()}\n", flush=True)
    with common.RESULTS.open("w", encoding="utf-8") as results:
        results.write(f"# make bench\n\nMachine: {common.machine()}\n\n")
    for name in names or list(BENCHES):
        BENCHES[name]()
    print(f"Results written to {common.RESULTS.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
