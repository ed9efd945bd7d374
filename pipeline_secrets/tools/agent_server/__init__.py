"""The host agent's server (``pipeline-secrets agent``); clients live in
:mod:`pipeline_secrets.agent`."""
