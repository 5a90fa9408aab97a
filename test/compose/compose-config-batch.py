# `docker-compose config` for many projects in one Python process: the test's oracle of what a
# compose file means (test/compose/corpus.test.ts). docker-compose 1.29 spends 2-4 s per run
# importing itself on a loaded machine; this runs the same two calls its `config` command makes
# (compose/cli/main.py: get_config_from_options, then serialize_config) once per directory, so
# the whole corpus costs one start-up. Run by the interpreter of the docker-compose script.
#
# Arguments: directories, each with compose.yaml and maybe compose.override.yaml.
# Output: one JSON line per directory: {"dir", "ok": true, "config": YAML} or {"dir", "ok": false, "error"}.
import json
import os
import sys

from compose.cli.command import get_config_from_options
from compose.config.errors import ConfigurationError
from compose.config.serialize import serialize_config

start = os.getcwd()
for d in sys.argv[1:]:
    os.chdir(os.path.join(start, d))
    files = [f for f in ('compose.yaml', 'compose.override.yaml') if os.path.exists(f)]
    try:
        config = get_config_from_options('.', {'--file': files}, {'--no-interpolate': False})
        line = {'dir': d, 'ok': True, 'config': serialize_config(config, None, True)}
    except ConfigurationError as e:
        line = {'dir': d, 'ok': False, 'error': e.msg}
    print(json.dumps(line), flush=True)
