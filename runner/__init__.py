"""dq-runner: the commands at the top level, the rest grouped by concern (README's Layout section maps it).

Importing the package registers the OmegaConf resolvers every command's configs use, and nothing heavier.
"""
from runner.cli.configs import register_resolvers

register_resolvers()
