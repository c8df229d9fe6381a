"""Configuration: built-in defaults < TOML file < ``AIXIANG_<SECTION>_<KEY>`` environment.

One loader, one precedence, one validation pass, in small modules: ``sections`` (a frozen
dataclass per section and their defaults), ``loader`` (``load_config``: where settings
come from, in which order), ``values`` (a setting's text turned into its type),
``menu``, ``needs`` and ``push`` (the sections that hold tables and lists),
``validation`` (what a value may be), ``paths`` (the project's folder and relative paths
anchored to the config file's). A person's mistake becomes a :class:`ConfigError` whose
message is a single line naming the key, so the CLI can print it instead of a traceback.
"""
