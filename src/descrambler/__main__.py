"""Command line: `python -m descrambler book ...`, `bench ...` and `fidelity ...`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys


def _book(args: argparse.Namespace) -> int:
    from .book import BookError, build

    try:
        build(args.root, profile=args.profile, only=args.only, html=not args.no_html, output=args.output)
    except BookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .benchmarks import append_records

    records = args.module.run(args)
    for entry in records:
        print(json.dumps(entry), flush=True)
    if args.record:
        append_records(args.record, records)
    return 0


def _fidelity(args: argparse.Namespace) -> int:
    from . import fidelity
    from .spec import DESCRAMBLE_SEED, DEVELOPMENT_SEEDS

    names = args.only or [c.name for c in fidelity.CANDIDATES] + ([fidelity.ANCHOR.name] if args.anchor else [])
    seeds = args.seeds or list(DEVELOPMENT_SEEDS)
    for name in names:
        item = fidelity.candidate(name)
        new = fidelity.run_candidate(item, seeds, args.n_traces, DESCRAMBLE_SEED)
        for entry in new:
            print(json.dumps({k: entry[k] for k in ("candidate", "seed", "claims")}), flush=True)
        kept = [r for r in fidelity.read_records(args.records)
                if not (r["candidate"] == name and r["seed"] in seeds)]
        fidelity.write_records(args.records, kept + new)
    print(f"paper profile: {fidelity.select(fidelity.read_records(args.records))}")
    return 0


def parser() -> argparse.ArgumentParser:
    from .benchmarks import names
    from .book import PROFILES
    from .fidelity import RECORDS

    main = argparse.ArgumentParser(prog="python -m descrambler", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute the chapters and build the HTML book")
    book.add_argument("--profile", choices=PROFILES, default="full",
                      help="full: canonical parameters; smoke: params/smoke/*.yaml, a few minutes")
    book.add_argument("--only", nargs="+", metavar="CHAPTER",
                      help="execute only these chapters (notebook stems), without building the HTML")
    book.add_argument("--no-html", action="store_true", help="execute the chapters but skip the HTML build")
    book.add_argument("--root", default=".", help="project root holding _toc.yml (default: .)")
    book.add_argument("--output", help="write everything under OUTPUT/_build instead of ROOT/_build")
    book.set_defaults(handler=_book)

    study = commands.add_parser("fidelity", help="train the fidelity study's candidates, read them, record")
    study.add_argument("--only", nargs="+", metavar="CANDIDATE", help="only these candidates (default: all)")
    study.add_argument("--anchor", action="store_true", help="also train the 2018 anchor network")
    study.add_argument("--seeds", nargs="+", type=int, help="training seeds (default: the development seeds)")
    study.add_argument("--n-traces", type=int, default=1_000_000, help="library traces streamed to descramble")
    study.add_argument("--records", default=str(RECORDS), help="records file (default: results/fidelity.jsonl)")
    study.set_defaults(handler=_fidelity)

    bench = commands.add_parser("bench", help="run a benchmark; prints JSON lines")
    which = bench.add_subparsers(dest="benchmark", required=True)
    for name in names():
        module = importlib.import_module(f"descrambler.benchmarks.{name}")
        sub = which.add_parser(name, help=module.__doc__.splitlines()[0])
        module.add_arguments(sub)
        sub.add_argument("--record", metavar="FILE",
                         help="also append the results to FILE (e.g. benchmarks/results.jsonl)")
        sub.set_defaults(handler=_bench, module=module)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
