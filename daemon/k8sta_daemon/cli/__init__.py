"""The ``k8sta`` operator CLI (a front end over ``ops``, the service layer it shares with the web part).

Layout (pipx style): ``main`` builds argparse and dispatches to one module per command in
``commands/``; ``context`` carries the store and output settings; ``exit`` holds the exit codes;
``output`` keeps the format (human or JSON) apart from the work; ``railway``/``journey`` draw the
terminal pictures and ``requested`` is the operator actions' machine-readable answer.
"""
