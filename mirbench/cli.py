"""The `mirbench` command: list, validate, plan, run, report, schema, data, check-system, check-dataset, features.

A mistake the user can fix (a bad suite, a missing dataset, an unknown name)
is a `MirbenchError`, caught once in `main()`: one `error:` line, exit 2. Any
other exception is a bug in mirbench and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from mirbench import __version__
from mirbench.errors import INTERNAL_ERROR, InputError, MirbenchError

EXIT_USAGE = 2
EXIT_FAILED_TRIALS = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for a tool whose reader went away (`... | head -1`)


def suite_path(ref: str) -> Path:
    """A suite given as a path, or as a bare name found in ./suites/."""
    path = Path(ref)
    if path.exists() or path.suffix == ".toml":
        return path
    return Path("suites") / f"{ref}.toml"


def cmd_list(args) -> int:
    from mirbench import registry
    from mirbench.metrics import METRICS

    if args.what == "suites":
        for path in sorted(Path(args.suites_dir).glob("*.toml")):
            print(path)
        return 0
    reg = getattr(registry, args.what)
    entries = reg.entries()
    names = list(METRICS) if args.what == "metrics" else list(entries)  # metrics in the order reports show them
    width = max((len(n) for n in names), default=0)
    for name in names:
        print(f"{name:<{width}}  {entries[name].target}  [{entries[name].origin}]")
    return 0


def cmd_validate(args) -> int:
    from mirbench.suite import load_suite
    from mirbench.suite.checks import data_unchecked

    status = 0
    for ref in args.suites:
        try:
            suite = load_suite(suite_path(ref))
            unchecked = data_unchecked(suite, args.data_root)
        except MirbenchError as exc:  # each suite given is checked: one line per broken one
            print(f"error: {exc}", file=sys.stderr)
            status = EXIT_USAGE
            continue
        print(f"{suite.path}: ok — {len(suite.variants)} variant(s) x seeds {suite.seeds} on {suite.dataset['name']}"
              + (f"; {unchecked}" if unchecked else ""))
    return status


def cmd_run(args) -> int:
    from mirbench.cache import using

    with using(args.cache_dir):  # dataset builds, features and models alike; each trial carries it to its worker
        return run_in_cache(args)


def run_in_cache(args) -> int:
    from mirbench.report import write_report
    from mirbench.run import run_suite
    from mirbench.run.runner import announce
    from mirbench.run.estimate import estimate_suite
    from mirbench.suite import load_suite
    from mirbench.suite.checks import check_data_root

    options = run_options(args)
    try:
        suite = load_suite(suite_path(args.suite))
        check_data_root(suite, args.data_root)
        if not (args.no_estimate or os.environ.get("MIRBENCH_NO_ESTIMATE")):
            print(estimate_suite(suite, options).summary(), file=sys.stderr, flush=True)
        summary = run_suite(suite, options)
    except KeyboardInterrupt:
        print("\ninterrupted: finished trials are saved; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(
        f"{summary.planned} trials: {summary.skipped_done} already done, {summary.ok} ran ok, "
        f"{len(summary.failed)} failed; results in {summary.results}"
    )
    if summary.planned and summary.skipped_done == summary.planned:
        print(f"nothing to run: every trial already has a result from the same inputs; the report is regenerated "
              f"from them (delete {summary.results} to run the trials again)")
    for reason, count in sorted(summary.rerun.items()):
        print(f"{count} trial{'s' if count != 1 else ''} rerun: {reason}")
    for line in summary.set_aside:
        print(f"set aside an invalid record (it is rerun): {line}", file=sys.stderr)
    if summary.unusable_tracks:
        print(f"{len(summary.unusable_tracks)} track(s) skipped as unusable: missing, unreadable or invalid audio (listed in the report)")
    for line in summary.failed:
        print(f"  failed: {line}", file=sys.stderr)
    announce("writing the report...", progress=not args.no_progress)
    try:
        for path in write_report(summary.results, reports_dir(summary.results, args.quick, args.reports)):
            print(f"wrote {path}")
    except BrokenPipeError:  # stdout closed (`mirbench run ... | head -1`): not a disk problem; main() ends quietly
        raise
    except OSError as exc:  # a full disk: the results are safe, only the report is missing
        print(f"error: cannot write the report: {exc}. The results are saved; free disk space and run "
              f"'mirbench report {summary.results}'", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILED_TRIALS if summary.failed else 0


def run_options(args):
    """The RunOptions of `run` and `plan` from their shared arguments; a bad --workers, --device or --cluster is
    refused with one line before any work."""
    from mirbench.device import resolve_device
    from mirbench.run import RunOptions

    resolve_device(args.device)  # the precision is resolved per trial: it needs the GPU's properties
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    if args.cluster:
        from mirbench.run.cluster import LOCAL, check_address, check_reachable, require_dask

        check_address(args.cluster)
        require_dask()  # before any work: a missing extra or an unreachable scheduler costs seconds, not a run
        check_reachable(args.cluster)
    local = LOCAL.match(args.cluster) if args.cluster else None
    return RunOptions(
        cluster=args.cluster,
        quick=args.quick,
        device=args.device,
        precision=args.precision,
        workers=int(local.group(1)) if local else args.workers,  # torch threads per trial: the cores each worker gets
        results=args.results,
        data_root=args.data_root,
        retry_failed=not args.keep_failed,
        progress=not getattr(args, "no_progress", True),  # plan has no progress bars
    )


def cmd_plan(args) -> int:
    """The trials of a run, which are done or have their features cached, and the estimated seconds of the rest."""
    import json

    from mirbench.cache import using
    from mirbench.run.estimate import TO_RUN, duration, estimate_suite
    from mirbench.suite import load_suite
    from mirbench.suite.checks import check_data_root

    with using(args.cache_dir):
        options = run_options(args)
        suite = load_suite(suite_path(args.suite))
        check_data_root(suite, args.data_root)
        result = estimate_suite(suite, options)
    if args.json:
        print(json.dumps(result.as_json(), indent=1))
        return 0
    width = max((len(t.trial_id) for t in result.trials), default=8)
    print(f"{'trial':<{width}}  {'state':<15}  {'estimated':>10}")
    for t in result.trials:
        seconds = f"{t.seconds:.1f} s" if t.state != "done" else "-"
        print(f"{t.trial_id:<{width}}  {t.state:<15}  {seconds:>10}" + (f"  ({t.note})" if t.note else ""))
    counts = result.counts()
    print(f"{len(result.trials)} trials: {counts['done']} done, {counts['cached features']} with cached features, "
          f"{counts[TO_RUN]} to run; overhead (start, dataset, planning, report) {duration(result.overhead_s)}")
    print(result.summary())
    return 0


def results_dir(ref: str | Path) -> Path:
    """A results directory given on the command line, refused with one line when it holds no suite.json."""
    path = Path(ref)
    if not (path / "suite.json").is_file():
        raise InputError(f"{path} holds no suite.json: is it a results directory written by 'mirbench run'?")
    return path


def reports_dir(results: Path, quick: bool, given: str | None) -> Path:
    """--reports when given; else reports/ for a full run and <results>/report/ for a --quick one: quick reports
    stay beside their results, and the committed reports/ holds full runs only."""
    if given is not None:
        return Path(given)
    return Path(results) / "report" if quick else Path("reports")


def cmd_report(args) -> int:
    """A results directory, or a submission bundle: verified first (its numbers are printed as its own, so they
    must be the ones its predictions give), then unpacked into a temporary results directory and reported."""
    from mirbench.report import write_report

    from mirbench.results import ResultStore, ran_quick

    if Path(args.results_dir).is_file():
        return report_bundle(args)
    results = results_dir(args.results_dir)
    quick = ran_quick(ResultStore(results).read_suite())
    paths = write_report(results, reports_dir(results, quick, args.reports))
    for path in paths:
        print(f"wrote {path}")
    return 0


def report_bundle(args) -> int:
    """`mirbench report BUNDLE`: the report of a verified bundle, as its run wrote it; a quick run's report goes
    beside the bundle (<results name>-report/) unless --reports says where."""
    import tempfile

    from mirbench.bundles import unpack
    from mirbench.report import write_report
    from mirbench.results import ran_quick
    from mirbench.submission import read_submission, verify

    path = Path(args.results_dir)
    doc = read_submission(path)
    result = verify(doc, args.data_root, args.suites_dir)
    if not result.ok:
        for problem in result.problems:
            print(f"REJECTED: {problem}", file=sys.stderr)
        print(f"error: {path} did not verify, so no report was written from it; see 'mirbench verify {path}'",
              file=sys.stderr)
        return EXIT_FAILED_TRIALS
    quick = ran_quick(doc["suite"])
    out = Path(args.reports) if args.reports else (path.parent / f"{doc['suite']['name']}-report" if quick
                                                   else Path("reports"))
    with tempfile.TemporaryDirectory(prefix="mirbench-bundle-") as tmp:
        for written in write_report(unpack(doc, Path(tmp)), out):
            print(f"wrote {written}")
    return 0


def cmd_schema(args) -> int:
    """The JSON Schema (draft 2020-12) of a trial record, as every reader checks it: indented, keys sorted."""
    import json

    from mirbench.record import json_schema

    print(json.dumps(json_schema(), indent=1, sort_keys=True))
    return 0


def cmd_submit(args) -> int:
    """Bundle a run into submissions/<suite>--<package>.json.gz (or --out), refusing to replace a bundle of
    another run: the same run, resumed with more trials, may replace its own."""
    from mirbench.bundles import SUBMISSIONS, default_name, extends, write_bundle
    from mirbench.submission import SubmissionError, bundle, read_submission

    doc = bundle(results_dir(args.results_dir))
    out = Path(args.out) if args.out else SUBMISSIONS / default_name(doc)
    if args.out and not out.parent.is_dir():
        raise InputError(f"--out {args.out}: the directory {out.parent} does not exist")
    if out.exists():
        try:
            old = read_submission(out)
        except SubmissionError:
            old = None
        if old is None or not extends(doc, old):
            raise InputError(f"{out} holds another run's submission; give --out another file name, or delete {out} "
                             "if it is yours")
    write_bundle(doc, out)
    print(f"wrote {out}")
    return 0


def cmd_verify(args) -> int:
    """Exit 0: verified and complete; 1: rejected, or verified but incomplete (the leaderboard lists it apart);
    2: not a submission this verifier can read, or the dataset is not available here."""
    from mirbench.submission import NOT_CHECKED, read_submission, some, verify

    result = verify(read_submission(args.submission), args.data_root, args.suites_dir)
    for problem in result.problems:
        print(f"REJECTED: {problem}")
    if not result.ok:
        return EXIT_FAILED_TRIALS
    if result.new_suite:
        print(f"note: suite {result.suite} is not registered in {args.suites_dir}: verified as a NEW suite, which "
              "the leaderboard lists apart, under its own name, until a maintainer registers it")
    if not result.complete:
        print(f"verified: {result.checked} trial(s), INCOMPLETE: {result.submitted} of {result.planned} planned "
              f"trials (missing: {some(result.missing)}); the leaderboard lists it apart from complete runs")
        return EXIT_FAILED_TRIALS
    print(f"verified: {result.checked} trial(s); every metric recomputed from the predictions")
    print(NOT_CHECKED)
    return 0


def leaderboard_sources(paths: list[str]) -> list[Path]:
    """The paths given (each once), or every results directory under results/ and every submission (*.json,
    *.json.gz) under submissions/."""
    if paths:
        given: dict[Path, Path] = {}
        for p in map(Path, paths):
            given.setdefault(p.resolve(), p)
        return list(given.values())
    found = sorted(p.parent for p in Path("results").glob("*/suite.json"))
    return found + sorted(p for pattern in ("*.json", "*.json.gz") for p in Path("submissions").glob(pattern))


def cmd_leaderboard(args) -> int:
    """Every source that cannot be read or verified is skipped with one line; the others are still ranked. Results
    directories are ranked as unverified local runs; with --site DIR the static site is written instead of the
    board in --reports, and without --replace a board that would lose rows of the one on disk is refused."""
    from mirbench.leaderboard import entry_from_results, entry_from_submission
    from mirbench.site.build import write_board
    from mirbench.submission import read_submission, verify

    entries, rejected = [], 0
    for path in leaderboard_sources(args.paths):
        try:
            if path.is_dir():
                entries.append(entry_from_results(results_dir(path)))
                continue
            submission = read_submission(path)
            result = verify(submission, args.data_root, args.suites_dir)
        except MirbenchError as exc:  # one unreadable source does not stop the others being ranked
            print(f"skipped {path}: {exc}", file=sys.stderr)
            rejected += 1
            continue
        if result.ok:
            entries.append(entry_from_submission(submission, path.name, result))
        else:
            more = len(result.problems) - 1
            print(f"rejected {path}: {result.problems[0]}"
                  + (f" (and {more} more: see 'mirbench verify {path}')" if more else ""), file=sys.stderr)
            rejected += 1
    if not entries:
        print("error: nothing to rank: give results directories or verified submission files", file=sys.stderr)
        return EXIT_USAGE
    if args.site:
        from mirbench.site.build import write_site

        written = write_site(entries, args.site)
        print(f"wrote {written[0]} and {len(written) - 1} report page(s) under {Path(args.site) / 'runs'}")
    else:
        for path in write_board(entries, args.reports, replace=args.replace):
            print(f"wrote {path}")
    return EXIT_FAILED_TRIALS if rejected else 0


def cmd_compare(args) -> int:
    from mirbench.results import ResultStore
    from mirbench.stats import RESAMPLES, compare_records

    records = [r for r in ResultStore(results_dir(args.results_dir)).records() if r.get("status") == "ok"]
    sides = [[r for r in records if variant_matches(r, name)] for name in (args.a, args.b)]
    for name, side in zip((args.a, args.b), sides):
        if not side:
            labels = sorted({r["variant"]["label"] for r in records} | {r["variant"]["id"] for r in records})
            raise InputError(f"no successful trial of {name!r} in {args.results_dir} (variants: {', '.join(labels)})")
    result = compare_records(*sides, metric=args.metric, n_resamples=RESAMPLES if args.resamples is None else args.resamples)
    print(f"{args.metric} over the {result['n']} test items of {result['pairs']} paired trial(s), pooled: "
          f"A = {args.a} {result['a']:.4f}, B = {args.b} {result['b']:.4f}; difference = A − B")
    for key in ("mcnemar", "bootstrap", "permutation"):
        test = result.get(key)
        if test is None:
            continue
        ci = f", 95 % CI [{test.ci_low:+.4f}, {test.ci_high:+.4f}] ({test.resamples} resamples)" if test.ci_low is not None else ""
        runs = f" ({test.resamples} permutations)" if test.method == "permutation" else ""
        print(f"  {test.method:<15} difference {test.difference:+.4f}{ci}, p = {test.p_value:.4g}{runs}")
    if result.get("mcnemar") is None:
        print(f"  (McNemar's test applies to accuracy only: not shown for {args.metric})" if args.metric != "accuracy"
              else "  (McNemar's test applies to single-label accuracy only: not shown for multi-label truth)")
    return 0


def variant_matches(record: dict, name: str) -> bool:
    """A variant named by its label or its id."""
    return name in (record["variant"]["label"], record["variant"]["id"])


def parse_params(pairs: list[str]) -> dict:
    """`key=value` pairs, values read as TOML (numbers, booleans, arrays) or else as plain strings."""
    from mirbench.suite import tomllib

    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"parameter {pair!r} is not of the form key=value")
        try:
            params[key] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key] = value
    return params


def vetted(registry, name: str, params: dict, option: str):
    """The factory `name` gives, after the parameters given with `option` pass the checks a suite's do: names it
    takes, values of the kinds it annotates, and good values (a dataset's `check_params`; a protocol is built)."""
    from mirbench.datasets.base import DatasetError
    from mirbench.suite.params import accepted_params, check_kinds, raised, vet
    from mirbench.suite.schema import nearest

    factory = registry.get(name)
    what = f"{registry.kind} {name!r}"
    names, open_ended = accepted_params(factory)
    for key in params:
        if key not in names and not open_ended:
            raise InputError(f"command line: '{option} {key}': {what} has no parameter {key!r}{nearest(key, names)} "
                             f"(parameters: {', '.join(sorted(names))})")
    paths = {key: f"{option} {key}" for key in params}
    check_kinds(factory, {key: (paths[key], value) for key, value in params.items()}, "command line", what)
    if registry.kind == "dataset" and hasattr(factory, "check_params"):
        vet(raised(factory.check_params, DatasetError, ValueError, TypeError), params, paths, "command line", option)
    if registry.kind == "protocol":
        vet(raised(factory, ValueError, TypeError), params, paths, "command line", option)
    return factory


def cmd_data_check(args) -> int:
    from mirbench.datasets import open_dataset
    from mirbench.datasets.inspect import health
    from mirbench.registry import datasets

    if args.name.endswith(".toml"):  # a suite file: check the dataset it runs on, as `run` would open it
        from mirbench.suite import load_suite

        if args.param:
            raise InputError("--param cannot be combined with a suite file; change its [dataset] table instead")
        spec = dict(load_suite(args.name).dataset)
    else:
        params = parse_params(args.param)
        vetted(datasets, args.name, params, "--param")
        spec = {"name": args.name, **params}
    dataset = open_dataset(spec, args.data_root)
    report = dataset.validate()
    print(health(dataset, report))
    return EXIT_FAILED_TRIALS if report.problems else 0


def cmd_data_splits(args) -> int:
    import json

    from mirbench.datasets import open_dataset
    from mirbench.datasets.inspect import format_sizes, split_sizes
    from mirbench.protocols import folds_of
    from mirbench.registry import datasets, protocols
    from mirbench.suite import load_suite

    if args.protocol.endswith(".toml"):
        suite = load_suite(args.protocol)
        dataset_spec, protocol_spec = dict(suite.dataset), dict(suite.protocol)
    else:
        factory = protocols.get(args.protocol)
        name = args.dataset or getattr(factory, "dataset", None)
        if name is None:
            raise InputError(f"protocol {args.protocol!r} applies to any dataset: name one with --dataset")
        bound = getattr(factory, "dataset", None)
        if bound and name != bound:
            raise InputError(f"protocol {args.protocol!r} is defined for the {bound!r} dataset, not {name!r}: "
                             "drop --dataset, or choose a protocol for that dataset")
        defaults = factory.required() if hasattr(factory, "required") else {}  # e.g. fma-top10: medium, 10
        dataset_params = {**{k: v for k, v in defaults.items() if k != "name"}, **parse_params(args.param)}
        protocol_params = parse_params(args.protocol_param)
        vetted(datasets, name, dataset_params, "--param")
        vetted(protocols, args.protocol, protocol_params, "--protocol-param")
        if hasattr(factory, "check_dataset"):  # e.g. fma-top10 needs top_genres = 10
            factory.check_dataset(name, dataset_params)
        dataset_spec = {**dataset_params, "name": name}
        protocol_spec = {"name": args.protocol, **protocol_params}
    dataset = open_dataset(dataset_spec, args.data_root)
    folds = folds_of(dataset, protocol_spec)
    sizes = split_sizes(dataset, folds)
    print(json.dumps(sizes, indent=1) if args.json else format_sizes(sizes), end="\n" if args.json else "")
    return 0


def cmd_check_system(args) -> int:
    from mirbench.registry import systems
    from mirbench.testing import check_system

    factory = systems.get(args.name)
    params = parse_params(args.param)
    return conformance(args.name, lambda: check_system(factory, params))


def cmd_check_dataset(args) -> int:
    from mirbench.datasets import data_root
    from mirbench.registry import datasets
    from mirbench.testing import check_dataset

    factory = datasets.get(args.name)
    params = parse_params(args.param)
    return conformance(args.name, lambda: check_dataset(factory, params, data_root(args.data_root), name=args.name))


def conformance(name: str, run_checks) -> int:
    """Print an `ok` line per check passed, or the one `FAIL <name>: <check>: <why>` line (exit 1)."""
    from mirbench.testing import ConformanceError

    try:
        passed = run_checks()
    except ConformanceError as exc:
        print(f"FAIL {name}: {exc}", file=sys.stderr)
        return EXIT_FAILED_TRIALS
    for line in passed:
        print(f"ok   {line}")
    return 0


AUDIO_SUFFIXES = (".mp3", ".wav", ".flac", ".ogg", ".au", ".aiff", ".m4a")


def audio_files(paths: list[str]) -> list[Path]:
    """Files named directly, and the audio files (by suffix) under directories, searched recursively and sorted."""
    found = []
    for ref in paths:
        path = Path(ref)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise InputError(f"no such file or directory: {ref}")
    return found


def cmd_features(args) -> int:
    """FMA's features.csv layout for any audio: one row per file, indexed by track id (the file stem)."""
    import numpy as np
    import pandas as pd
    from tqdm import tqdm

    from mirbench.audio import load_audio
    from mirbench.audio import AudioError
    from mirbench.frontends.fma import COLUMNS, track_features

    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"output directory {out.parent} does not exist")
    if args.sample_rate <= 0:
        raise InputError(f"--sample-rate must be positive, got {args.sample_rate}")
    files = audio_files(args.paths)
    if not files:
        raise InputError(f"no audio files ({' '.join(AUDIO_SUFFIXES)}) in {' '.join(args.paths)}")
    digits = all(f.stem.isdigit() for f in files)
    ids = [int(f.stem) if digits else f.stem for f in files]
    seen: dict = {}
    for tid, f in zip(ids, files):
        if tid in seen:
            raise InputError(f"{seen[tid]} and {f} both have track id {tid!r} (the file stem)")
        seen[tid] = f
    rows, written, skipped = [], [], 0
    with tqdm(files, desc=f"{args.extractor} features", unit="file", file=sys.stderr, disable=args.no_progress) as bar:
        for tid, f in zip(ids, bar):
            try:
                y = load_audio(f, args.sample_rate)
            except AudioError as exc:
                bar.write(f"skipped: {exc}", file=sys.stderr)
                skipped += 1
                continue
            rows.append(track_features(y, args.sample_rate))
            written.append(tid)
    if rows:
        frame = pd.DataFrame(np.stack(rows), index=pd.Index(written, name="track_id"))
        frame.columns = pd.MultiIndex.from_tuples(COLUMNS, names=["feature", "statistics", "number"])
        frame.sort_index().to_csv(out)
    where = f"to {out}" if rows else f"(no {out} written)"
    print(f"{len(written)} track(s) written {where}, {skipped} unreadable file(s) skipped")
    return EXIT_FAILED_TRIALS if skipped or not rows else 0


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments `run` and `plan` share: what to run, where, on what."""
    p.add_argument("suite", metavar="SUITE", help="a suite file, or a name in ./suites")
    p.add_argument("--quick", action="store_true", help="few tracks, folds and epochs (for CI and smoke tests)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="auto: bfloat16 mixed precision on GPUs that have it, float32 elsewhere; fp32 turns it off")
    p.add_argument("--workers", type=int, default=1, help="trials run in parallel processes (default 1)")
    p.add_argument("--cluster", "--scheduler", dest="cluster", metavar="ADDRESS",
                   help="run trials on Dask: local:N starts N local workers, tcp://HOST:PORT uses a running scheduler")
    p.add_argument("--results", type=Path, help="results directory (default results/<suite>[-quick])")
    p.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    p.add_argument("--cache-dir", help="feature and dataset cache (default: $MIRBENCH_CACHE or the user cache dir)")
    p.add_argument("--keep-failed", action="store_true", help="do not retry trials recorded as failed")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mirbench", description="Benchmark harness for music classification and tagging.")
    p.add_argument("--version", action="version", version=f"mirbench {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    lst = sub.add_parser("list", help="list registered components or suite files")
    lst.add_argument("what", choices=["systems", "datasets", "protocols", "frontends", "metrics", "suites"])
    lst.add_argument("--suites-dir", default="suites")
    lst.set_defaults(func=cmd_list)

    val = sub.add_parser("validate", help="check suite files without running them")
    val.add_argument("suites", nargs="+", metavar="SUITE")
    val.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    val.set_defaults(func=cmd_validate)

    run = sub.add_parser("run", help="run a suite's missing trials, then write its report")
    add_run_arguments(run)
    run.add_argument("--reports", help="where the report goes (default reports/; with --quick, the results "
                     "directory's report/)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--no-estimate", action="store_true", help="start without calibrating an estimate of the time (also: MIRBENCH_NO_ESTIMATE=1)")
    run.set_defaults(func=cmd_run)

    pln = sub.add_parser("plan", help="a run's trials, which are done or cached, and the estimated time of the rest")
    add_run_arguments(pln)
    pln.add_argument("--json", action="store_true", help="machine-readable: an object with trials and estimated_seconds")
    pln.set_defaults(func=cmd_plan)

    rep = sub.add_parser("report", help="regenerate a report from a results directory or a submission bundle alone")
    rep.add_argument("results_dir", metavar="RESULTS_DIR", help="a results directory, or a bundle from 'mirbench submit'")
    rep.add_argument("--reports", help="output directory (default reports/; for a --quick run, the results "
                     "directory's report/)")
    rep.add_argument("--data-root", help="root of the real datasets, for verifying a bundle (default: $MIRBENCH_DATA)")
    rep.add_argument("--suites-dir", default="suites", help="suite files a bundle must match")
    rep.set_defaults(func=cmd_report)

    sch = sub.add_parser("schema", help="print the JSON Schema of a trial record (mirbench.trial/1)")
    sch.set_defaults(func=cmd_schema)

    data = sub.add_parser("data", help="inspect a dataset copy or a protocol's splits")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    dcheck = data_sub.add_parser("check", help="validate a dataset: what is missing or corrupt, usable tracks per class")
    dcheck.add_argument("name", metavar="NAME", help="a dataset name, or a suite file (the dataset it runs on)")
    dcheck.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    dcheck.add_argument("--param", action="append", metavar="KEY=VALUE", help="a dataset parameter (repeatable)")
    dcheck.set_defaults(func=cmd_data_check)
    dsplits = data_sub.add_parser("splits", help="per fold, train/valid/test sizes and per-class counts")
    dsplits.add_argument("protocol", metavar="PROTOCOL", help="a protocol name, or a suite file (its dataset and protocol)")
    dsplits.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    dsplits.add_argument("--dataset", help="the dataset, for protocols that apply to any")
    dsplits.add_argument("--param", action="append", metavar="KEY=VALUE", help="a dataset parameter (repeatable)")
    dsplits.add_argument("--protocol-param", action="append", metavar="KEY=VALUE", help="a protocol parameter (repeatable)")
    dsplits.add_argument("--json", action="store_true", help="machine-readable: a list of folds")
    dsplits.set_defaults(func=cmd_data_splits)

    chk = sub.add_parser("check-system", help="run the system contract on a registered system")
    chk.add_argument("name")
    chk.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                     help="a parameter for every construction, over the system's SMOKE_PARAMS (repeatable)")
    chk.set_defaults(func=cmd_check_system)

    chkd = sub.add_parser("check-dataset", help="run the dataset contract on a registered dataset")
    chkd.add_argument("name")
    chkd.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a dataset parameter (repeatable)")
    chkd.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    chkd.set_defaults(func=cmd_check_dataset)

    subm = sub.add_parser("submit", help="bundle a suite run's records and predictions into submissions/")
    subm.add_argument("results_dir", metavar="RESULTS_DIR")
    subm.add_argument("--out", help="the file to write (default submissions/<suite>--<package>.json.gz; a name "
                      "ending in .gz is compressed)")
    subm.set_defaults(func=cmd_submit)

    ver = sub.add_parser("verify", help="recompute a submission's metrics from its predictions and the dataset")
    ver.add_argument("submission", metavar="SUBMISSION")
    ver.add_argument("--data-root", help="root of the real datasets (default: $MIRBENCH_DATA)")
    ver.add_argument("--suites-dir", default="suites", help="suite files the submission's version must match")
    ver.set_defaults(func=cmd_verify)

    lead = sub.add_parser("leaderboard", help="rank verified submissions and local results (docs/leaderboard.md)")
    lead.add_argument("paths", nargs="*", metavar="PATH",
                      help="results directories and submission files (default: results/*/ and "
                           "submissions/*.json, *.json.gz)")
    lead.add_argument("--reports", default="reports", help="where leaderboard.md and .html go (default reports/)")
    lead.add_argument("--replace", action="store_true",
                      help="overwrite the board in --reports even when the new one lacks some of its rows")
    lead.add_argument("--site", metavar="DIR",
                      help="write a static site into DIR instead (index.html and one page per run), not the board")
    lead.add_argument("--data-root", help="root of the real datasets, for verifying submissions")
    lead.add_argument("--suites-dir", default="suites", help="suite files submissions must match")
    lead.set_defaults(func=cmd_leaderboard)

    cmp_ = sub.add_parser("compare", help="paired significance tests between two variants of one suite run")
    cmp_.add_argument("results_dir", metavar="RESULTS_DIR")
    cmp_.add_argument("a", metavar="A", help="a variant label or id (differences are A − B)")
    cmp_.add_argument("b", metavar="B", help="a variant label or id")
    cmp_.add_argument("--metric", default="accuracy", help="a metric name (default accuracy)")
    cmp_.add_argument("--resamples", type=int, default=None,
                      help="bootstrap resamples and permutations (default mirbench.stats.RESAMPLES, as in reports)")
    cmp_.set_defaults(func=cmd_compare)

    feat = sub.add_parser("features", help="compute a dataset's published track features for any audio files")
    feat.add_argument("extractor", choices=["fma"], help="fma: FMA's 518 features, in its features.csv layout")
    feat.add_argument("paths", nargs="+", metavar="PATH", help="audio files, or directories searched recursively")
    feat.add_argument("--out", required=True, help="the CSV to write (its directory must exist)")
    feat.add_argument("--sample-rate", type=int, default=22050, help="rate the audio is resampled to (default 22050)")
    feat.add_argument("--no-progress", action="store_true", help="no progress bar")
    feat.set_defaults(func=cmd_features)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command. A closed stdout (`mirbench ... | head -1`) ends it quietly with EXIT_BROKEN_PIPE, as Unix
    tools end: no traceback, and no "Exception ignored" from the interpreter's flush of stdout at exit."""
    try:
        try:
            args = parser().parse_args(argv)
        except SystemExit:  # --help or a usage error: argparse printed, and the pipe may already be closed
            sys.stdout.flush()
            raise
        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
        code = run_command(args)
        sys.stdout.flush()  # a closed pipe shows here, where it can be caught, rather than at interpreter exit
        return code
    except BrokenPipeError:
        silence_stdout()
        return EXIT_BROKEN_PIPE


def run_command(args) -> int:
    """`args.func(args)`, with the one catch of user errors: a MirbenchError is one `error:` line and EXIT_USAGE
    (with --verbose, its traceback); any other exception is a bug and keeps its traceback, followed by a line
    asking to report it."""
    try:
        return args.func(args)
    except MirbenchError as exc:
        if args.verbose:
            raise
        sys.stdout.flush()  # what the command printed comes before the error
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # stdout closed: main() ends quietly
        raise
    except Exception as exc:
        report_bug(exc)
        raise


def report_bug(exc: Exception) -> None:
    """Ask for a bug report below the traceback: as a note on the exception, which Python prints after it (3.11+);
    before 3.11, a line printed now, above it."""
    if hasattr(exc, "add_note"):
        exc.add_note(INTERNAL_ERROR)
    else:  # pragma: no cover
        print(INTERNAL_ERROR, file=sys.stderr)


def silence_stdout() -> None:
    """Point stdout's file descriptor at os.devnull, so what is still buffered goes nowhere instead of failing again
    at exit (the recipe of Python's `signal` documentation, "Note on SIGPIPE")."""
    if getattr(sys.stdout, "closed", True):  # gone, or already closed: nothing buffered to silence
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError):  # replaced by an object without a descriptor (a test capture; UnsupportedOperation)
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
