/* Option parsing for every subcommand: one syntax, `--name value` or `--flag`, checked against the
 * command's declared options so that a typo is a usage error rather than silently ignored. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const sm_option_spec common_options[] = {
    {"help", NULL, "show this help"},
    {"quiet", NULL, "no progress bar"},
    {"threads", "N", "threads for parallel work (default: all cores)"},
    {NULL, NULL, NULL},
};

static const sm_option_spec *find_option(const sm_command *cmd, const char *name) {
    for (const sm_option_spec *o = common_options; o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    for (const sm_option_spec *o = cmd->options; o && o->name; o++)
        if (strcmp(o->name, name) == 0) return o;
    return NULL;
}

int sm_cli_usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "samem %s: ", command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'samem help %s')\n", command);
    return 1;
}

int sm_cli_fail(const sm_error *err) {
    fprintf(stderr, "samem: %s\n", err->msg[0] ? err->msg : "unknown error");
    return sm_error_exit_code(err->code ? err->code : SM_EINTERNAL);
}

int sm_args_parse(sm_args *a, const sm_command *cmd, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->command = cmd->name;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
            const char *name = arg + 2;
            const sm_option_spec *o = find_option(cmd, name);
            if (!o) return sm_cli_usage_error(cmd->name, "unknown option --%s", name);
            const char *value = NULL;
            if (o->value) {
                if (i + 1 >= argc) return sm_cli_usage_error(cmd->name, "--%s needs a value (%s)", name, o->value);
                value = argv[++i];
            }
            if (a->n_options >= SM_MAX_OPTIONS) return sm_cli_usage_error(cmd->name, "too many options");
            a->opt_name[a->n_options] = o->name;
            a->opt_value[a->n_options] = value;
            a->n_options++;
        } else if (arg[0] == '-' && arg[1] && !(arg[1] >= '0' && arg[1] <= '9')) {
            if (strcmp(arg, "-h") == 0) {
                a->opt_name[a->n_options] = "help";
                a->opt_value[a->n_options++] = NULL;
                continue;
            }
            if (strcmp(arg, "-o") == 0 && find_option(cmd, "o")) {
                if (i + 1 >= argc) return sm_cli_usage_error(cmd->name, "-o needs a value");
                a->opt_name[a->n_options] = "o";
                a->opt_value[a->n_options++] = argv[++i];
                continue;
            }
            return sm_cli_usage_error(cmd->name, "unknown option %s", arg);
        } else {
            if (a->n_positional >= SM_MAX_POSITIONAL || a->n_positional >= cmd->max_positional)
                return sm_cli_usage_error(cmd->name, "unexpected argument '%s'", arg);
            a->positional[a->n_positional++] = arg;
        }
    }
    if (sm_args_flag(a, "help")) return 0;
    if (a->n_positional < cmd->min_positional)
        return sm_cli_usage_error(cmd->name, "missing argument; usage: %s", cmd->usage);
    a->quiet = sm_args_flag(a, "quiet");
    long long threads = 0;
    if (sm_args_int(a, "threads", 1, 1024, &threads)) return 1;
    a->threads = (int)threads;
    return 0;
}

const char *sm_args_get(const sm_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 0; i < a->n_options; i++)
        if (strcmp(a->opt_name[i], name) == 0) v = a->opt_value[i];
    return v;
}

int sm_args_flag(const sm_args *a, const char *name) {
    for (int i = 0; i < a->n_options; i++)
        if (strcmp(a->opt_name[i], name) == 0) return 1;
    return 0;
}

int sm_args_get_all(const sm_args *a, const char *name, const char **values, int max) {
    int n = 0;
    for (int i = 0; i < a->n_options && n < max; i++)
        if (strcmp(a->opt_name[i], name) == 0) values[n++] = a->opt_value[i];
    return n;
}

int sm_args_int(const sm_args *a, const char *name, long long lo, long long hi, long long *out) {
    const char *s = sm_args_get(a, name);
    if (!s) return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return sm_cli_usage_error(a->command, "--%s wants an integer from %lld to %lld, got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

int sm_args_double(const sm_args *a, const char *name, double lo, double hi, double *out) {
    const char *s = sm_args_get(a, name);
    if (!s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return sm_cli_usage_error(a->command, "--%s wants a number from %g to %g, got '%s'", name, lo, hi, s);
    *out = v;
    return 0;
}

void sm_command_print_help(const sm_command *cmd, FILE *fp) {
    fprintf(fp, "usage: %s\n\n%s\n", cmd->usage, cmd->summary);
    if (cmd->description) fprintf(fp, "\n%s\n", cmd->description);
    fprintf(fp, "\noptions:\n");
    for (int pass = 0; pass < 2; pass++) {
        const sm_option_spec *list = pass == 0 ? cmd->options : common_options;
        for (const sm_option_spec *o = list; o && o->name; o++) {
            char left[64];
            snprintf(left, sizeof left, "%s%s %s", strlen(o->name) == 1 ? "-" : "--", o->name, o->value ? o->value : "");
            fprintf(fp, "  %-24s %s\n", left, o->help);
        }
    }
}
