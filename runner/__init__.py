"""The thin, linear assembly of one job: data -> pipeline -> training -> evaluation -> tracking."""
from runner.configs import register_resolvers

register_resolvers()
