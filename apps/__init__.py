"""sensekit's domain apps (installed as the package ``sensekit.apps``)."""
