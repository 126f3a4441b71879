"""The ``seegaan`` command line: a thin layer that parses options and calls the library.

Each command lives in a small module of this package and is imported only when invoked,
so ``seegaan --help`` stays fast and a broken optional dependency of one command cannot
break the others. Errors raised as :class:`seegaan.errors.SeegaanError` become one line on
stderr and a non-zero exit; ``--debug`` shows the full traceback instead.
"""

from __future__ import annotations

import errno
import importlib
import sys

import click

from seegaan import __version__
from seegaan.errors import SeegaanError

# name -> (module, attribute, one-line help shown by `seegaan --help`), in pipeline order.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": ("seegaan.cli.demo", "demo", "Run the whole SEE-GAAN study on the built-in cohort."),
    "cohort": ("seegaan.cli.cohort", "cohort", "Render the virtual radiograph cohort (with ground truth)."),
    "prepare": ("seegaan.cli.prepare", "prepare", "Turn radiographs + a clinical CSV into a prepared dataset."),
    "train": ("seegaan.cli.train", "train", "Train the style-based adversarial autoencoder."),
    "encode": ("seegaan.cli.latent", "encode", "Encode a prepared dataset into a latent table."),
    "sequence": ("seegaan.cli.latent", "sequence", "Render a global or local SEE-GAAN sequence with tested subtraction maps."),
    "cnn": ("seegaan.cli.explain", "cnn", "Train the reference CNN (BNPP regressor)."),
    "predict": ("seegaan.cli.explain", "predict", "Add a model's predictions to a latent table."),
    "explain": ("seegaan.cli.explain", "explain", "Explain a CNN: global/local sequences, lambda search, attribution maps."),
    "gvr": ("seegaan.cli.gvr", "gvr", "Generative Visual Rationales: latent predictor, rationale, bias test."),
    "medxgan": ("seegaan.cli.medxgan", "medxgan", "medXGAN: train, explain and evaluate a class-conditional GAN explainer."),
    "report": ("seegaan.cli.demo", "report", "Build report.html from any run directory."),
    "benchmark": ("seegaan.cli.benchmark", "benchmark", "Score every explanation method against interventional truth."),
    "view": ("seegaan.cli.view", "view", "Live local viewer: drag a film along a feature, see the model react."),
}


# OSErrors that describe the user's environment, reported as one line with exit 2.
_ENVIRONMENT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT}


class LazyGroup(click.Group):
    """A click group whose sub-commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        # A missing module here is a broken install or a bug: let the ImportError surface
        # (one line from main(), the traceback with --debug) rather than hide it.
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Use the static help text so that `seegaan --help` imports nothing heavy.
        rows = [(name, COMMANDS[name][2]) for name in COMMANDS]
        with formatter.section("Commands (in pipeline order)"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="seegaan")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option("--quiet", is_flag=True, help="Hide progress bars.")
@click.pass_context
def cli(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """seegaan: see what a clinical feature, or a CNN's prediction, looks like on chest radiographs.

    \b
    Pipeline:  images + CSV -> prepare -> train -> encode -> sequence / explain -> report
    Try it:    seegaan demo
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if quiet:
        from seegaan.utils.progress import set_quiet

        set_quiet(True)


GLOBAL_FLAGS = ("--debug", "--quiet")


def hoist_global_flags(args: list[str]) -> list[str]:
    """Move ``--debug``/``--quiet`` in front of the command, so ``seegaan report runs --quiet``
    works like ``seegaan --quiet report runs`` (no sub-command defines these names)."""
    end = args.index("--") if "--" in args else len(args)
    flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
    rest = [a for a in args[:end] if a not in GLOBAL_FLAGS]
    return flags + rest + args[end:]


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI, turning user errors into one line."""
    args = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="seegaan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return 130
    except click.ClickException as err:
        # One line, like every other user error (click's own format is usage + hint + error).
        msg = " ".join(err.format_message().split())
        if isinstance(err, click.UsageError) and err.ctx is not None:
            msg += f" (see '{err.ctx.command_path} --help')"
        click.echo(f"error: {msg}", err=True)
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except SeegaanError as err:
        if debug:
            raise
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except OSError as err:
        # The machine said no (read-only folder, full disk): the user's to fix, not a bug.
        if debug or err.errno not in _ENVIRONMENT_ERRNOS:
            if debug:
                raise
            click.echo(f"error: {type(err).__name__}: {err} (run with --debug for the "
                       "traceback)", err=True)
            return 1
        where = f"{err.filename}: " if err.filename else ""
        click.echo(f"error: {where}{err.strerror or err}", err=True)
        return 2
    except Exception as err:  # a bug, or an error from a library we did not anticipate
        if debug:
            raise
        click.echo(f"error: {type(err).__name__}: {err} (run with --debug for the traceback)",
                   err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
