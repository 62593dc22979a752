"""The `paiid` command-line tool: thin commands that parse, call the engine and render."""
