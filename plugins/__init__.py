"""Built-in plugins. Each module binds one behaviour to the hooks, exactly as a
third-party plugin would; :data:`agentgov.core.plugins.DEFAULT_PLUGINS` lists them."""
