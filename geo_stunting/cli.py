"""The ``geo-stunting`` command: a thin layer over the library.

Exit codes: 0 done, 2 bad input (one line per problem), 1 internal error.
"""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.logging import RichHandler

from geo_stunting import __version__, _compile_ahead
from geo_stunting._argv import only_steps
from geo_stunting._console import (
    err_console,
    out_console,
    print_report,
    print_summary,
    progress_bars,
    reporter,
    say_estimate,
)
from geo_stunting.errors import GeoStuntingError, Problem, StudyFileError
from geo_stunting.study._config import STEP_NAMES, StudyConfig, read_study_file
from geo_stunting.study._demo import demo_study_path
from geo_stunting.study._study import Study, load_study

if TYPE_CHECKING:
    from geo_stunting.outputs._export import PublicOptions
    from geo_stunting.outputs._folder import OutputFolder
    from geo_stunting.pipeline import Results

__all__ = ["app", "main"]

EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 1

app = typer.Typer(
    name="geo-stunting",
    help=(
        "Spatial epidemiology of child stunting: load cases, controls and health facilities, "
        "check every row, measure access, test clustering and write a map, a GeoPackage and "
        "results.json.\n\n"
        "Start with:  geo-stunting demo   (runs everything on the bundled synthetic demo)"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only errors and the final summary.")
]
DebugOption = Annotated[
    bool, typer.Option("--debug", help="Show the full traceback of an internal error.")
]
PublicOption = Annotated[
    bool,
    typer.Option(
        "--public",
        help="Also write public/map.html and public/layers.gpkg: home points moved at random "
        "(donut geomasking, inside their village), no names or ids. The masking settings "
        "and seed go to run.json, which stays private.",
    ),
]
OnlineOption = Annotated[
    bool,
    typer.Option(
        "--online",
        help="Load Leaflet from the internet and add OpenStreetMap and satellite tiles "
        "(default: a self-contained page that works offline).",
    ),
]
MaskMinOption = Annotated[
    float, typer.Option("--mask-min-m", help="Smallest displacement of a public point, metres.")
]
MaskMaxOption = Annotated[
    float, typer.Option("--mask-max-m", help="Largest displacement of a public point, metres.")
]


class Paper(StrEnum):
    """Page sizes of the print maps."""

    a4 = "a4"
    a3 = "a3"


PaperOption = Annotated[
    Paper,
    typer.Option(
        "--paper", help="Page size of the print maps (map.pdf, map*.png), landscape: a4 or a3."
    ),
]
MaskSeedOption = Annotated[
    int | None,
    typer.Option(
        "--mask-seed",
        help="Seed of the displacements (default: a fresh random one, written to run.json). "
        "Keep it private.",
    ),
]


def _setup_logging(*, quiet: bool, debug: bool = False) -> None:
    root = logging.getLogger("geo_stunting")
    root.handlers.clear()
    handler = RichHandler(console=err_console, show_time=False, show_path=False, markup=False)
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    root.propagate = False
    # Python's own warnings (numpy, pandas, GDAL …) are for developers: --debug shows them
    logging.captureWarnings(True)
    py_warnings = logging.getLogger("py.warnings")
    py_warnings.handlers = [handler]
    py_warnings.setLevel(logging.WARNING if debug else logging.CRITICAL)
    py_warnings.propagate = False


def _fail(exc: BaseException, *, debug: bool) -> typer.Exit:
    if isinstance(exc, GeoStuntingError):
        for problem in exc.problems:
            err_console.print(f"error: {problem}", markup=False, highlight=False, soft_wrap=True)
        return typer.Exit(EXIT_BAD_INPUT)
    if debug:
        err_console.print_exception()
    err_console.print(
        f"internal error ({type(exc).__name__}: {exc}). This is a bug in geo_stunting; "
        "rerun with --debug for the traceback and report it.",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return typer.Exit(EXIT_INTERNAL)


def _version(value: bool) -> None:
    if value:
        out_console.print(f"geo_stunting {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Spatial epidemiology of child stunting."""


@app.command()
def validate(
    study_file: Annotated[Path, typer.Argument(help="The study file (.toml).")],
    rejects: Annotated[
        Path | None, typer.Option(help="Also write the rejected rows to this CSV file.")
    ] = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Load and check a study without analysing it, and print what was found."""
    _setup_logging(quiet=True)
    try:
        config = read_study_file(study_file)
        if config.analysis.engine == "dask":
            from geo_stunting.scale._sample import sample_study  # noqa: PLC0415

            study = sample_study(config)
            out_console.print(
                'engine = "dask": the facilities and area are checked in full, the subjects '
                "on a sample of up to 2,000 rows (all rows are checked during analyze)",
                highlight=False,
            )
        else:
            study = load_study(study_file)
    except Exception as exc:  # noqa: BLE001 - every error ends in a clear message
        raise _fail(exc, debug=debug) from None
    if quiet and study.areas is not None and len(study.subjects) == 0:
        out_console.print(
            f"{study.name}: {len(study.areas.polygons)} areas joined to their table "
            f"({', '.join(study.areas.periods) or 'one period'}), {len(study.rejects)} rows "
            "rejected",
            highlight=False,
        )
    elif quiet:
        out_console.print(
            f"{study.name}: {len(study.subjects)} subjects loaded ({study.n_cases} cases, "
            f"{study.n_controls} controls), {len(study.rejects)} rows rejected",
            highlight=False,
        )
    else:
        print_report(study, all_rejects=True)
    if rejects is not None:
        from geo_stunting.outputs._safe import neutralise_frame  # noqa: PLC0415

        try:
            neutralise_frame(study.rejects).to_csv(rejects, index=False)
        except OSError as exc:
            problem = Problem(
                f"cannot write {rejects}: {exc.strerror or exc}",
                fix="give --rejects a file in an existing, writable folder",
            )
            raise _fail(GeoStuntingError(problem), debug=debug) from None
        out_console.print(f"rejected rows written to {rejects}", highlight=False)


@app.command()
def analyze(
    study_file: Annotated[Path, typer.Argument(help="The study file (.toml).")],
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder [default: maps/<study file name>]."),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of every random step (overrides the study file).")
    ] = None,
    permutations: Annotated[
        int | None, typer.Option(help="Monte Carlo replications (overrides the study file).")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Run only this step (repeatable, or several with commas): "
            f"{', '.join(STEP_NAMES)}."
        ),
    ] = None,
    public: PublicOption = False,
    online: OnlineOption = False,
    mask_min_m: MaskMinOption = 100.0,
    mask_max_m: MaskMaxOption = 500.0,
    mask_seed: MaskSeedOption = None,
    paper: PaperOption = Paper.a4,
    engine: Annotated[
        str | None,
        typer.Option(
            help='"local" (default) or "dask": the access step on a dask cluster, for '
            "millions of subjects (needs geo_stunting[scale])."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask scheduler, e.g. tcp://10.0.0.5:8786 [default: a local cluster]."),
    ] = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Analyse a study and write results.json, layers.gpkg, map.html, report.html, run.json."""
    options = _public_options(public, mask_min_m, mask_max_m, mask_seed)
    _run(
        study_file,
        out or Path("maps") / study_file.stem,
        seed,
        permutations,
        only_steps(only),
        quiet,
        debug,
        online=online,
        public=options,
        engine=engine,
        scheduler=scheduler,
        paper=paper.value,
    )


@app.command()
def demo(
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder [default: maps/demo, or maps/demo_areas with --areas]."),
    ] = None,
    areas: Annotated[
        bool,
        typer.Option(
            "--areas",
            help="Run the area demo instead: REAL published stunting prevalence of South "
            "Sumatra's 17 kabupaten/kota, 2021-2023.",
        ),
    ] = False,
    public: PublicOption = False,
    online: OnlineOption = False,
    paper: PaperOption = Paper.a4,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Run the whole analysis on the bundled SYNTHETIC demo study (Ogan Ilir design)."""
    try:
        if areas:
            from geo_stunting.areas._demo import demo_areas_study_path  # noqa: PLC0415

            path = demo_areas_study_path()
        else:
            path = demo_study_path()
    except GeoStuntingError as exc:
        raise _fail(exc, debug=debug) from None
    options = _public_options(public, 100.0, 500.0, None)
    out = out or Path("maps/demo_areas" if areas else "maps/demo")
    _run(
        path, out, None, None, None, quiet, debug, online=online, public=options, paper=paper.value
    )


@app.command("map")
def map_command(
    out_dir: Annotated[Path, typer.Argument(help="An output folder written by analyze or demo.")],
    public: Annotated[
        bool,
        typer.Option(
            "--public",
            help="Write public/map.html and public/layers.gpkg (home points moved at random "
            "inside their village, no names or ids) instead of map.html.",
        ),
    ] = False,
    online: OnlineOption = False,
    mask_min_m: MaskMinOption = 100.0,
    mask_max_m: MaskMaxOption = 500.0,
    mask_seed: MaskSeedOption = None,
    quiet: QuietOption = False,
    debug: DebugOption = False,
) -> None:
    """Re-draw the map of an output folder from its layers.gpkg and results.json (no analysis)."""
    from geo_stunting.outputs._export import write_map  # noqa: PLC0415

    _setup_logging(quiet=quiet)
    options = _public_options(public, mask_min_m, mask_max_m, mask_seed)
    try:
        written = write_map(out_dir, online=online, public=options)
    except Exception as exc:  # noqa: BLE001 - every error ends in a clear message
        raise _fail(exc, debug=debug) from None
    out_console.print(f"wrote {', '.join(str(p) for p in written.values())}", highlight=False)
    if options is not None:  # the public print maps of this command, not an earlier run's
        from geo_stunting.outputs._print_job import print_failures  # noqa: PLC0415

        failed = [f for f in print_failures(Path(out_dir)) if f.startswith("print_maps_public:")]
        for failure in failed:  # the other public outputs are complete
            err_console.print(f"print maps failed: {failure}", highlight=False)
        if failed:
            raise typer.Exit(EXIT_INTERNAL)


def _public_options(
    public: bool, min_m: float, max_m: float, seed: int | None
) -> PublicOptions | None:
    from geo_stunting.outputs._export import PublicOptions  # noqa: PLC0415

    if not public:
        return None
    from geo_stunting.outputs._masking import MAX_MAX_M, MIN_MAX_M  # noqa: PLC0415

    if not (0 <= min_m < max_m and MIN_MAX_M <= max_m <= MAX_MAX_M):
        raise typer.BadParameter(
            f"need 0 ≤ --mask-min-m < --mask-max-m and {MIN_MAX_M:g} ≤ --mask-max-m ≤ "
            f"{MAX_MAX_M:g} (metres), got {min_m:g} and {max_m:g}",
            param_hint="--mask-min-m/--mask-max-m",
        )
    # a fresh seed unless given: the published points must not be reproducible by others
    return PublicOptions(
        seed=secrets.randbelow(2**31) if seed is None else seed, min_m=min_m, max_m=max_m
    )


def _run(
    study_file: Path,
    out: Path,
    seed: int | None,
    permutations: int | None,
    only: list[str] | None,
    quiet: bool,
    debug: bool,
    *,
    online: bool = False,
    public: PublicOptions | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
    paper: str = "a4",
) -> None:
    from geo_stunting.outputs._folder import (  # noqa: PLC0415
        OutputFolderError,
        check_output_folder,
        input_paths,
        output_folder,
    )

    _setup_logging(quiet=quiet, debug=debug)
    started = time.perf_counter()
    try:
        config = read_study_file(study_file)
        dask = _engine(engine, config.analysis.engine) == "dask"
        inputs = input_paths(config)
        with output_folder(out, inputs=inputs) as folder:  # checked before any analysis
            if not dask:  # a first run: numba kernels compile on the other core meanwhile
                _compile_ahead.start(only or config.analysis.steps or STEP_NAMES)
            study = None if dask else load_study(study_file)
            if study is not None:
                problems = check_output_folder(out, inputs=inputs, n_subjects=len(study.subjects))
                if problems:
                    raise OutputFolderError(problems)
                if not quiet:
                    print_report(study, all_rejects=False)
            results, written = _analyse_and_write(
                config,
                study,
                folder,
                seed,
                permutations,
                only,
                quiet,
                online,
                public,
                scheduler,
                paper,
            )
            folder.commit()
    except Exception as exc:  # noqa: BLE001 - every error ends in a clear message
        raise _fail(exc, debug=debug) from None
    print_summary(results.sections, out, written, started)
    from geo_stunting.outputs._print_job import print_failures  # noqa: PLC0415

    failed_prints = print_failures(out)
    for failure in failed_prints:  # the other outputs are complete
        err_console.print(f"print maps failed: {failure}", highlight=False)
    if results.failed_steps:
        err_console.print(
            f"{len(results.failed_steps)} step(s) failed: {', '.join(results.failed_steps)}; "
            "their reasons are in results.json and report.html, the other outputs are complete",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERNAL)
    if failed_prints:
        raise typer.Exit(EXIT_INTERNAL)


def _analyse_and_write(
    config: StudyConfig,
    study: Study | None,
    folder: OutputFolder,
    seed: int | None,
    permutations: int | None,
    only: list[str] | None,
    quiet: bool,
    online: bool,
    public: PublicOptions | None,
    scheduler: str | None,
    paper: str,
) -> tuple[Results, dict[str, Path]]:
    from geo_stunting.outputs._early_print import EarlyPrint  # noqa: PLC0415
    from geo_stunting.outputs._export import write_outputs  # noqa: PLC0415
    from geo_stunting.pipeline import analyze as run_analysis  # noqa: PLC0415
    from geo_stunting.progress import use_reporter  # noqa: PLC0415

    # the print maps start once their steps are done, beside the other steps
    early = EarlyPrint(folder.staging, paper=paper)
    with progress_bars(quiet=quiet) as bar, use_reporter(reporter(bar)), early:
        task = bar.add_task("analysing", total=None)
        if study is None:
            results = _run_dask(config, folder.staging, scheduler or config.analysis.scheduler)
        else:

            def progress(name: str, title: str) -> None:
                bar.update(task, description=f"{name}: {title}")
                say_estimate(bar, name, study, permutations, quiet=quiet)

            results = run_analysis(
                study,
                seed=seed,
                permutations=permutations,
                steps=only or None,
                progress=progress,
                early=early,
            )
        bar.update(task, description="writing outputs")
        written = write_outputs(
            results,
            folder.out,
            run_extra={"command": ["geo-stunting", *sys.argv[1:]]},
            online=online,
            public=public,
            paper=paper,
            folder=folder,
            print_job=early.job(results),
        )
    return results, written


def _engine(given: str | None, configured: str) -> str:
    engine = given or configured
    if engine not in ("local", "dask"):
        raise StudyFileError(
            Problem(f"--engine must be 'local' or 'dask', got {engine!r}", fix="--engine dask")
        )
    return engine


def _run_dask(config: StudyConfig, out: Path, scheduler: str | None) -> Results:
    from geo_stunting.scale._engine import run_scale, scale_results  # noqa: PLC0415

    levels = dict(config.area.levels) if config.area is not None and config.area.levels else None
    scaled, sample = run_scale(config, out=out, scheduler=scheduler, levels=levels)
    return scale_results(scaled, sample)


@app.command()
def init(
    data_files: Annotated[
        list[Path],
        typer.Argument(help="The data files: subjects, facilities, villages (any order)."),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The study file to write (never overwritten).")
    ] = Path("study.toml"),
    debug: DebugOption = False,
) -> None:
    """Write a commented study file by looking at the data files (a proposal to correct)."""
    from geo_stunting.study._init import write_study_file  # noqa: PLC0415

    try:
        written = write_study_file(data_files, out=out)
    except Exception as exc:  # noqa: BLE001 - _fail words it: bad input, or a bug
        raise _fail(exc, debug=debug) from None
    out_console.print(
        f"wrote {written} (and study.schema.json beside it for editors); "
        f"read it, then: geo-stunting validate {written}",
        highlight=False,
    )


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of printing.")
    ] = None,
) -> None:
    """Print (or write) the JSON Schema of the study file, for editors (taplo, VS Code)."""
    from geo_stunting.study._file_schema import study_file_schema_text  # noqa: PLC0415

    text = study_file_schema_text()
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as SIGINT: the run stops and the output folder stays as it was."""


_SIGNALS_RECEIVED: list[str] = []


def _on_signal(signum: int, _frame: object) -> None:
    # typer turns KeyboardInterrupt into a silent exit 130: remember which signal it was
    _SIGNALS_RECEIVED.append(signal.Signals(signum).name)
    raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt


def main() -> None:
    """Entry point of the ``geo-stunting`` console script."""
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        app()
    except (KeyboardInterrupt, SystemExit) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt) or bool(_SIGNALS_RECEIVED)
        if not interrupted:
            raise
        name = _SIGNALS_RECEIVED[0] if _SIGNALS_RECEIVED else "SIGINT"
        err_console.print(
            f"interrupted ({name}): this run wrote nothing; the output folder is as it was "
            "before it",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(143 if name == "SIGTERM" else 130)


if __name__ == "__main__":
    main()
