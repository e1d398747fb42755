"""One module per ``k8sta`` command; each exposes ``run(ctx, ...) -> ExitCode``."""
