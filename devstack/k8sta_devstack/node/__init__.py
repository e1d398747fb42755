"""The real node of the local stack: its parts, each in a module of its own (git servers, ...)."""
