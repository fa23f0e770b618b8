"""hiccup's benchmark: its cost per request, measured beside the alternatives.

Four variants answer the same three routes: a raw ASGI callable (the floor),
bare FastAPI (the baseline), FastAPI with hiccup, and FastAPI with what is
usually stacked for the same features. Run it with ``nox -s bench`` or
``python -m bench`` from the repository root; ``--help`` lists the options.
"""
