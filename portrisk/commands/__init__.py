"""CLI verbs of the composition root. Each module exposes ``register(subparsers)``.

Handlers take ``(args, settings)`` and return an exit code; heavy imports happen inside handlers so that
``portrisk --help`` stays instant.
"""
