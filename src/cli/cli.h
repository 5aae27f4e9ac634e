/* The samem command: subcommand table and the one option syntax (`--name value`, flags without value).
 *
 * Each subcommand is one file src/cli/cmd_<name>.c exporting `const sm_command sm_cmd_<name>`, listed in
 * main.c's table. A command declares its options; the parser rejects unknown ones (exit 1) and every
 * command accepts --help, --quiet and --threads N. Commands return an exit code: 0 success, 1 bad usage,
 * 2 bad input, 3 internal error (sm_error_exit_code maps library errors). */
#ifndef SM_CLI_H
#define SM_CLI_H

#include "samem/common.h"

#define SM_MAX_POSITIONAL 8
#define SM_MAX_OPTIONS 64

typedef struct sm_option_spec {
    const char *name;   /* without the leading "--" */
    const char *value;  /* placeholder for help ("N", "FILE"); NULL for a flag */
    const char *help;
} sm_option_spec;

typedef struct sm_args {
    const char *command;
    int n_positional;
    const char *positional[SM_MAX_POSITIONAL];
    int n_options;
    const char *opt_name[SM_MAX_OPTIONS];   /* in the order given; repeated options appear repeatedly */
    const char *opt_value[SM_MAX_OPTIONS];  /* NULL for flags */
    int quiet, threads;                     /* the common options */
} sm_args;

typedef struct sm_command {
    const char *name;
    const char *summary;        /* one line for `samem help` */
    const char *usage;          /* "samem info VIDEO" */
    const char *description;    /* a paragraph and an example, for `samem help NAME` */
    int min_positional, max_positional;
    const sm_option_spec *options;   /* terminated by a {NULL} entry */
    int (*run)(const sm_args *args);
} sm_command;

/* Parses argv (after the subcommand name). Returns 0, or 1 after printing a one-line usage error. */
int sm_args_parse(sm_args *a, const sm_command *cmd, int argc, char **argv);
/* The last value given for --name, or NULL. */
const char *sm_args_get(const sm_args *a, const char *name);
/* Whether flag --name was given. */
int sm_args_flag(const sm_args *a, const char *name);
/* Every value of a repeatable option, in order; returns the count (at most max). */
int sm_args_get_all(const sm_args *a, const char *name, const char **values, int max);
/* Parsed numbers with range checks: 0 if absent (out keeps its default) or valid; 1 after printing a usage
 * error naming the option. */
int sm_args_int(const sm_args *a, const char *name, long long lo, long long hi, long long *out);
int sm_args_double(const sm_args *a, const char *name, double lo, double hi, double *out);

/* Prints "samem: <message>" for a library error and returns its exit code. */
int sm_cli_fail(const sm_error *err);
/* Prints "samem <cmd>: <message>" and "try 'samem help <cmd>'" and returns 1. */
int sm_cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void sm_command_print_help(const sm_command *cmd, FILE *fp);

#endif
