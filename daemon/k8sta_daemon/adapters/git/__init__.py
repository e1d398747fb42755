"""The daemon's thin git adapter (pygit2): cached mirrors, app-branch commits, atomic pushes.

Modules, each one concern: ``mirror`` (one cached bare mirror per URL, fetched on use),
``credentials`` (how secrets reach libgit2 and the git CLI), ``redact`` (scrubbing them from text),
``history`` (read-only questions about the source branch), ``changes`` (pure classification of a
source commit), ``trees`` (tree assembly without a work tree), ``messages`` (commit messages and
trailers), ``push`` (one atomic push), ``appbranch`` (promote / rerender / read_head), ``runtime``
(process-wide libgit2 settings, applied by the entry point) and ``errors`` (RetryLater / GiveUp).
This package knows nothing about Kubernetes or the decision core. ``changes.classify``,
``history.touched_paths`` and ``appbranch.rerender`` wait for the intake (not yet called by the product).
"""
