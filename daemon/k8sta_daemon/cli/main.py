"""``k8sta``: parse the command line, build a Context, call one command, map the result to an exit code.

Nothing else lives here (pipx style): each command is a module in ``commands/``; ``K8staError`` is
caught in exactly one place below (one line on stderr, exit 1); argparse usage errors exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from k8sta_daemon.ops.errors import K8staError

from .exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ExitCode

if TYPE_CHECKING:  # the kubernetes client is imported only once a command runs (fast --help)
    from .context import Context

PROG = "k8sta"
DEFAULT_NAMESPACE = "default"


def _common(parser: argparse.ArgumentParser) -> None:
    """Flags accepted before or after the command (like kubectl); SUPPRESS keeps the first one given."""
    parser.add_argument("--kubeconfig", default=argparse.SUPPRESS,
                        help="kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
    parser.add_argument("-n", "--namespace", default=argparse.SUPPRESS,
                        help="namespace of the Tracks and Tickets (default: the kubeconfig context's, else default)")
    parser.add_argument("-o", "--output", choices=("human", "json", "yaml"), default=argparse.SUPPRESS,
                        help="output format (default: human)")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Steer K8sTA tickets along their Tracks.")
    _common(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_: str, into: Any = commands) -> argparse.ArgumentParser:
        sub = into.add_parser(name, help=help_, description=help_)
        _common(sub)
        return sub

    tracks = add("tracks", "list Tracks as railway pictures: stations in order, which ticket is where")
    tracks.add_argument("names", nargs="*", metavar="TRACK", help="only these Tracks")
    tracks.add_argument("-A", "--all-namespaces", action="store_true", help="Tracks of every namespace")
    tracks.add_argument("-w", "--watch", type=_seconds, nargs="?", const=2.0, metavar="SECONDS",
                        help="redraw every SECONDS (default 2) until interrupted")

    stations = add("stations", "what runs at each Station: version, the ticket that brought it, each Application")
    stations.add_argument("names", nargs="*", metavar="STATION", help="only these Stations")
    stations.add_argument("-A", "--all-namespaces", action="store_true", help="Stations of every namespace")

    diff = add("diff", "what a ticket would change at a Station (default: the one it holds or enters next), or "
                       "what promoting one Station's version to another would change")
    diff.add_argument("ticket", nargs="?", metavar="TICKET")
    diff.add_argument("--station", metavar="STATION", help="the Station to compare the ticket with")
    diff.add_argument("--from", dest="source", metavar="STATION", help="the Station whose version would move")
    diff.add_argument("--to", dest="target", metavar="STATION", help="the Station it would move to")

    ticket = add("ticket", "show or create tickets, or let one through freeze windows")
    ticket_commands = ticket.add_subparsers(dest="ticket_command", metavar="ACTION", required=True)
    show = add("show", "show a ticket's pins and journey", ticket_commands)
    show.add_argument("name", metavar="TICKET")
    create = add("create", "create a ticket; pins not given are inherited from the Track's newest ticket",
                 ticket_commands)
    create.add_argument("--track", required=True)
    create.add_argument("--image", action="append", dest="images", metavar="REPO:TAG[@DIGEST]",
                        help="a new image pin (repeatable); replaces the pin with the same repository")
    create.add_argument("--config", metavar="COMMIT",
                        help="a new shared-config commit (full id) of the source branch; required for the first "
                             "ticket of a Track")
    create.add_argument("--drop-image", action="append", dest="drop_images", metavar="REPO",
                        help="leave out the inherited pin of image REPO (repeatable)")
    create.add_argument("--despite-hold", action="store_true",
                        help="create it even though the Track is held: it waits at boarding until k8sta resume")

    pass_window = add("pass-window", "let a ticket through freeze windows (not through a namespace freeze)",
                      ticket_commands)
    pass_window.add_argument("name", metavar="TICKET")
    pass_window.add_argument("--reason", required=True, help="why (recorded on the ticket and in an Event)")
    approve = add("approve", "approve a ticket's entry into a gated Station")
    approve.add_argument("ticket", metavar="TICKET")
    approve.add_argument("station", metavar="STATION")
    add("retry", "retry a Failed ticket at the Station where it failed").add_argument("ticket", metavar="TICKET")
    add("abandon", "abandon a ticket; it frees its Station").add_argument("ticket", metavar="TICKET")
    hold = add("hold", "hold a Track: no ticket boards it and Subscriptions create none on it until resume")
    hold.add_argument("track", metavar="TRACK")
    hold.add_argument("--reason", default=None, help="why (shown by k8sta tracks and kubectl get tracks)")
    add("resume", "lift a Track's hold: the newest waiting ticket boards").add_argument("track", metavar="TRACK")
    freeze = add("freeze", "stop every Track of the namespace at once: no ticket enters a Station until unfreeze")
    freeze.add_argument("--reason", default=None, help="why (shown by kubectl get tracks, the board and tickets)")
    add("unfreeze", "lift the namespace's freeze: waiting tickets move again")
    rollback = add("rollback", "hold the Track, then create the one ticket allowed to board it, pinned to an "
                               "earlier ticket's snapshot")
    rollback.add_argument("--track", required=True)
    rollback.add_argument("--to", required=True, metavar="TICKET", help="the ticket whose snapshot to ride again")
    return parser


def _dispatch(args: argparse.Namespace) -> Callable[[Context], ExitCode]:
    """The one command to run; imported lazily so ``--help`` stays fast."""
    from .commands import abandon, approve, freeze, holds, retry, rollback, stations, ticket_create, ticket_show, tracks
    from .commands import diff as diff_command

    table: dict[str, Callable[[Context], ExitCode]] = {
        "tracks": lambda ctx: tracks.run(ctx, names=args.names, all_namespaces=args.all_namespaces,
                                         watch=args.watch),
        "diff": lambda ctx: diff_command.run(ctx, ticket=args.ticket, station=args.station, source=args.source,
                                             target=args.target),
        "stations": lambda ctx: stations.run(ctx, names=args.names, all_namespaces=args.all_namespaces),
        "ticket show": lambda ctx: ticket_show.run(ctx, name=args.name),
        "ticket create": lambda ctx: ticket_create.run(ctx, track=args.track, images=args.images or [],
                                                       config=args.config, drop_images=args.drop_images or [],
                                                       despite_hold=args.despite_hold),
        "ticket pass-window": lambda ctx: freeze.pass_window(ctx, ticket=args.name, reason=args.reason),
        "freeze": lambda ctx: freeze.freeze(ctx, reason=args.reason),
        "unfreeze": lambda ctx: freeze.unfreeze(ctx),
        "hold": lambda ctx: holds.hold(ctx, track=args.track, reason=args.reason),
        "resume": lambda ctx: holds.resume(ctx, track=args.track),
        "approve": lambda ctx: approve.run(ctx, ticket=args.ticket, station=args.station),
        "retry": lambda ctx: retry.run(ctx, ticket=args.ticket),
        "abandon": lambda ctx: abandon.run(ctx, ticket=args.ticket),
        "rollback": lambda ctx: rollback.run(ctx, track=args.track, to=args.to),
    }
    key = args.command + (f" {args.ticket_command}" if args.command == "ticket" else "")
    return table[key]


def _check_diff(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``diff TICKET [--station S]`` or ``diff --from A --to B``, nothing in between."""
    stations = (args.source, args.target)
    if args.ticket is not None and any(stations):
        parser.error("diff: give a TICKET (with --station) or --from and --to, not both")
    if args.ticket is None and not all(stations):
        parser.error("diff: give a TICKET, or both --from STATION and --to STATION")
    if args.station is not None and args.ticket is None:
        parser.error("diff: --station goes with a TICKET")


def _kubeconfig(flag: str | None, environ: Mapping[str, str]) -> Path:
    if flag:
        path = Path(flag)
    elif environ.get("KUBECONFIG"):
        path = Path(environ["KUBECONFIG"].split(os.pathsep)[0])
    else:
        path = Path(environ.get("HOME", "~")).expanduser() / ".kube" / "config"
    if not path.is_file():
        raise K8staError(f"kubeconfig {path} not found (use --kubeconfig or KUBECONFIG)")
    return path


def _context_namespace(path: Path) -> str | None:
    from kubernetes import config as k8s_config

    try:
        _, active = k8s_config.list_kube_config_contexts(config_file=str(path))
    except Exception as exc:  # the client raises ConfigException, yaml errors, KeyError...
        raise K8staError(f"cannot read kubeconfig {path}: {exc}") from None
    return (active or {}).get("context", {}).get("namespace")


def _build_context(args: argparse.Namespace, environ: Mapping[str, str], stdout: TextIO) -> Context:
    from kubernetes import config as k8s_config

    from k8sta_daemon.ops import store

    from .context import Context, wants_colour

    path = _kubeconfig(getattr(args, "kubeconfig", None), environ)
    namespace = getattr(args, "namespace", None) or _context_namespace(path) or DEFAULT_NAMESPACE

    def make_store() -> store.Store:
        try:
            api = k8s_config.new_client_from_config(config_file=str(path))
        except Exception as exc:
            raise K8staError(f"cannot use kubeconfig {path}: {exc}") from None
        return store.Store(api)

    return Context(namespace=namespace, output=getattr(args, "output", "human"), stdout=stdout,
                   colour=wants_colour(stdout, environ), actor=store.actor(), store_factory=make_store,
                   environ=environ)


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    environ = os.environ if environ is None else environ
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):  # argparse prints to sys.*
            parser = build_parser()
            args = parser.parse_args(argv)
            if getattr(args, "ticket_command", None) == "create" and not (args.images or args.config or
                                                                           args.drop_images):
                parser.error("ticket create: give --image REPO:TAG[@DIGEST] (repeatable), --config COMMIT, "
                             "--drop-image REPO, or a combination")
            if args.command == "diff":
                _check_diff(parser, args)
    except SystemExit as exc:  # --help (0) or a usage error (2, message already printed)
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        command = _dispatch(args)
        return command(_build_context(args, environ, stdout))
    except K8staError as exc:
        print(f"{PROG}: error: {exc}", file=stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return ExitCode(130)
    except BrokenPipeError:  # `k8sta tracks | head`: the reader has what it wanted
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
