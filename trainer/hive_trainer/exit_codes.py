"""The jobs' exit codes, as the DAGs act on them.

GENERATED from `hive_core::exit::ExitStatus` (crates/core/src/exit.rs); do not edit.
Regenerate: `HIVE_UPDATE_CONTRACTS=1 cargo test -p hive-core exit_codes_module`.
"""

EXIT_SUCCESS = 0
EXIT_DATA_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_RUNTIME_FAILURE = 3
EXIT_NOTHING_TO_PROCESS = 99

#: Exit codes that fail a task at once: a retry would read the same input.
FAIL_AT_ONCE = frozenset({EXIT_DATA_FAILURE, EXIT_BAD_INPUT})

#: Every code the jobs use, by name.
NAMES = {
    0: "success",
    1: "data_failure",
    2: "bad_input",
    3: "runtime_failure",
    99: "nothing_to_process",
}
