"""Command line: `python -m descrambler book ...`, `bench ...`, `fidelity ...`, `analyse ...`, `ensemble ...` and
`check-html`."""

from __future__ import annotations

import argparse
import importlib
import json
import sys


def _book(args: argparse.Namespace) -> int:
    from .bookkit.build import BookError, build

    try:
        build(args.root, profile=args.profile, only=args.only, html=not args.no_html, output=args.output)
    except (BookError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bookkit.benchmarks import append_records

    records = args.module.run(args)
    for entry in records:
        print(json.dumps(entry), flush=True)
    if args.record:
        try:
            append_records(args.record, records)
        except (OSError, ValueError) as error:  # checked before the run; the file changed since
            print(f"error: --record: cannot append to {args.record} ({error}); the records are printed above",
                  file=sys.stderr)
            return 1
    return 0


def _fidelity(args: argparse.Namespace) -> int:
    from ._validate import non_negative_int, positive_int
    from .study import fidelity
    from .study.spec import DESCRAMBLE_SEED, DEVELOPMENT_SEEDS

    anchors = [fidelity.ANCHOR.name, fidelity.ANCHOR_WITHOUT_EXCHANGE.name] if args.anchor else []
    names = args.only or [c.name for c in fidelity.CANDIDATES] + anchors
    seeds = [non_negative_int(seed, "--seeds") for seed in args.seeds or DEVELOPMENT_SEEDS]
    positive_int(args.n_traces, "--n-traces")
    items = [fidelity.candidate(name) for name in names]  # every name checked before anything runs
    for name, item in zip(names, items):
        new = fidelity.run_candidate(item, seeds, args.n_traces, DESCRAMBLE_SEED)
        for entry in new:
            print(json.dumps({k: entry[k] for k in ("candidate", "seed", "claims")}), flush=True)
        kept = [r for r in fidelity.read_records(args.records)
                if not (r["candidate"] == name and r["seed"] in seeds)]
        fidelity.write_records(args.records, kept + new)
    print(f"paper profile: {fidelity.select(fidelity.read_records(args.records))}")
    return 0


def _analyse(args: argparse.Namespace) -> int:
    import math

    from .analyse import analyse_trace, report, save_plot
    from .analyse.report import report_json

    imaginary = args.imaginary_column
    if imaginary not in ("auto", "none"):
        try:
            imaginary = int(imaginary)
        except ValueError:
            print(f"error: --imaginary-column: expected auto, none or a column number, got {imaginary!r}",
                  file=sys.stderr)
            return 1
    try:
        analysis = analyse_trace(args.trace, profile=args.profile,
                                 zero_time="auto" if args.zero_time is None else args.zero_time,
                                 phase="auto" if args.phase is None else math.radians(args.phase),
                                 imaginary=None if imaginary == "none" else imaginary, time_unit=args.time_unit)
        if args.plot:
            save_plot(analysis, args.plot)
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for message in ([f"note: {analysis.network_note}"] if analysis.network_note else []) + \
            [f"warning: {warning}" for warning in analysis.warnings]:
        print(message, file=sys.stderr)
    print(report_json(analysis) if args.json else report(analysis, table=args.table))
    return 0


def _ensemble(args: argparse.Namespace) -> int:
    from .study.ensemble import run_ensemble

    try:
        path = run_ensemble(args.nets, profile=args.profile, pipeline=args.pipeline, out=args.out,
                            workers=args.workers, scheduler=args.scheduler)
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"ensemble table: {path}")
    return 0


def _check_html(args: argparse.Namespace) -> int:
    from .bookkit.htmlcheck import check_book, find_chromium

    chromium = None if args.no_browser else (args.chromium or find_chromium())
    if chromium is None and not args.no_browser:
        print("note: Chromium not found (Debian: apt install chromium); checking links and images only",
              file=sys.stderr)

    def show(report) -> None:
        print(f"{'FAIL' if report.problems else 'ok  '} {report.page}", flush=True)
        for problem in report.problems:
            print(f"     {problem}", flush=True)

    try:
        reports = check_book(args.html, args.screenshots, chromium=chromium, progress=show)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failed = sum(bool(r.problems) for r in reports)
    screenshots = (f"; screenshots in {reports[0].screenshot.parent}"
                   if chromium and reports and reports[0].screenshot else "")
    print(f"{len(reports)} pages checked, {failed} with problems" + screenshots)
    return 1 if failed else 0


def parser() -> argparse.ArgumentParser:
    from .bookkit.benchmarks import BenchParser, names, record_path_arg
    from .deer.traces import TIME_UNITS
    from .study.fidelity import RECORDS
    from .study.spec import PROFILES

    main = argparse.ArgumentParser(prog="python -m descrambler", description=__doc__)
    commands = main.add_subparsers(dest="command", required=True)

    book = commands.add_parser("book", help="execute the chapters and build the HTML book")
    book.add_argument("--profile", choices=PROFILES, default="full",
                      help="full: canonical parameters; smoke: params/smoke/*.yaml, a few minutes; "
                           "paper: the full book with the findings on 100 networks per pipeline (params/paper)")
    book.add_argument("--only", nargs="+", metavar="CHAPTER",
                      help="execute only these chapters (notebook stems), without building the HTML")
    book.add_argument("--no-html", action="store_true", help="execute the chapters but skip the HTML build")
    book.add_argument("--root", default=".", help="project root holding _toc.yml (default: .)")
    book.add_argument("--output", help="write everything under OUTPUT/_build instead of ROOT/_build")
    book.set_defaults(handler=_book)

    study = commands.add_parser("fidelity", help="train the fidelity study's candidates, read them, record")
    study.add_argument("--only", nargs="+", metavar="CANDIDATE", help="only these candidates (default: all)")
    study.add_argument("--anchor", action="store_true",
                       help="also train the 2018 anchor networks (with and without exchange coupling)")
    study.add_argument("--seeds", nargs="+", type=int, help="training seeds (default: the development seeds)")
    study.add_argument("--n-traces", type=int, default=1_000_000, help="library traces streamed to descramble")
    study.add_argument("--records", default=str(RECORDS),
                       help="records file (default: the package's data/fidelity.jsonl)")
    study.set_defaults(handler=_fidelity)

    analyse = commands.add_parser(
        "analyse", help="a measured DEER trace through the book's network: distance distribution, mean, depth",
        description="Read a DEER trace file (column 1: time, column 2: real signal, optionally an imaginary "
                    "column) with the book's network; print the distance axis and distribution, the mean distance "
                    "and the modulation depth. The network is trained once and cached.")
    analyse.add_argument("trace", metavar="TRACE_FILE", help="text file: time, real signal[, imaginary]")
    analyse.add_argument("--plot", metavar="FILE",
                         help="also write a plot of the trace and the distribution (png, pdf, svg)")
    analyse.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    analyse.add_argument("--zero-time", type=float, metavar="US",
                         help="zero time on the file's time axis (default: from the echo maximum)")
    analyse.add_argument("--phase", type=float, metavar="DEG",
                         help="phase to remove from a two-channel trace, degrees (default: automatic)")
    analyse.add_argument("--imaginary-column", default="auto", metavar="N",
                         help="column (counted from 1) of the imaginary channel, 'none', or 'auto' (default: the "
                              "third of three columns, if it behaves as one)")
    analyse.add_argument("--time-unit", choices=tuple(TIME_UNITS), default=None,
                         help="unit of the time column (default: us for text, the descriptor's unit for "
                              "Bruker .DSC/.DTA)")
    analyse.add_argument("--profile", choices=PROFILES, default="full",
                         help="the book's network: full (default) or smoke (tiny, for testing); trained once on "
                              "the first run (about a minute), then loaded from the model cache")
    analyse.add_argument("--table", action="store_true",
                         help="also print the distribution, r (nm) and P (1/nm), one line per distance")
    analyse.set_defaults(handler=_analyse)

    ensemble = commands.add_parser("ensemble", help="train or load N networks, read each, write a tidy CSV table")
    ensemble.add_argument("--nets", type=int, required=True, help="how many networks (confirmation seeds 1000, ...)")
    ensemble.add_argument("--profile", choices=PROFILES, default="full", help="the book spec's profile")
    ensemble.add_argument("--pipeline", choices=("paper", "pick"), default="paper",
                          help="the paper's network, or the fidelity study's pick")
    ensemble.add_argument("--out", help="CSV file (default: in the model cache folder)")
    ensemble.add_argument("--workers", type=int, help="training processes (default: one per core)")
    ensemble.add_argument("--scheduler", default=None, metavar="ADDRESS",
                          help="train on a Dask cluster: 'local-dask' (a LocalCluster here) or a scheduler address "
                               "such as tcp://host:8786 (default: $DESCRAMBLER_SCHEDULER, else local processes)")
    ensemble.set_defaults(handler=_ensemble)

    check = commands.add_parser("check-html", help="a reader's check of the built book: links, images, "
                                "figures, and every page in headless Chromium (screenshots, console errors)")
    check.add_argument("--html", default="_build/html", help="the built book (default: _build/html)")
    check.add_argument("--screenshots", default="_build/screenshots",
                       help="screenshot folder (default: _build/screenshots)")
    check.add_argument("--chromium", help="Chromium executable (default: found on PATH)")
    check.add_argument("--no-browser", action="store_true", help="check links and images only")
    check.set_defaults(handler=_check_html)

    bench = commands.add_parser("bench", help="run a benchmark; prints JSON lines")
    which = bench.add_subparsers(dest="benchmark", required=True, parser_class=BenchParser)
    for name in names():
        module = importlib.import_module(f"descrambler.bookkit.benchmarks.{name}")
        sub = which.add_parser(name, help=module.__doc__.splitlines()[0])
        module.add_arguments(sub)
        sub.add_argument("--record", metavar="FILE", type=record_path_arg,
                         help="also append the results to FILE (e.g. benchmarks/results.jsonl); checked before the run")
        sub.set_defaults(handler=_bench, module=module)
    return main


def main(argv: list[str] | None = None) -> int:
    """Run one command; a user's error (a ValueError, whose message names the argument) is one line on
    stderr and exit status 1, never a traceback."""
    args = parser().parse_args(argv)
    try:
        return args.handler(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
