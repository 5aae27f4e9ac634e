/* samem: the command-line front end. A thin layer over libsamem: it parses options, calls the library and
 * turns its errors into one line on stderr and an exit code (0 ok, 1 usage, 2 bad input, 3 internal). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* One line per subcommand; each lives in src/cli/cmd_<name>.c. */
extern const sm_command sm_cmd_info;
extern const sm_command sm_cmd_sim;
extern const sm_command sm_cmd_convert;
extern const sm_command sm_cmd_segment;
extern const sm_command sm_cmd_train;
extern const sm_command sm_cmd_run;
extern const sm_command sm_cmd_track;
extern const sm_command sm_cmd_eval;
extern const sm_command sm_cmd_analyze;

static const sm_command *const commands[] = {
    &sm_cmd_info,
    &sm_cmd_sim,
    &sm_cmd_convert,
    &sm_cmd_segment,
    &sm_cmd_train,
    &sm_cmd_run,
    &sm_cmd_track,
    &sm_cmd_eval,
    &sm_cmd_analyze,
    NULL,
};

static const sm_command *find_command(const char *name) {
    for (int i = 0; commands[i]; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

static void print_overview(FILE *fp) {
    fprintf(fp, "samem %s: particle segmentation, tracking and motion statistics for liquid-phase TEM videos\n\n"
                "usage: samem COMMAND [ARGS] [--option value ...]\n\ncommands:\n", SM_VERSION);
    for (int i = 0; commands[i]; i++) fprintf(fp, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(fp, "\n'samem help COMMAND' or 'samem COMMAND --help' tells more; 'samem --version' the version.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_overview(stderr);
        return 1;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("samem %s\n", SM_VERSION);
        return 0;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        print_overview(stdout);
        return 0;
    }
    if (strcmp(name, "help") == 0) {
        if (argc < 3) {
            print_overview(stdout);
            return 0;
        }
        const sm_command *cmd = find_command(argv[2]);
        if (!cmd) {
            fprintf(stderr, "samem: unknown command '%s' (try 'samem help')\n", argv[2]);
            return 1;
        }
        sm_command_print_help(cmd, stdout);
        return 0;
    }
    const sm_command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "samem: unknown command '%s' (try 'samem help')\n", name);
        return 1;
    }
    sm_args args;
    if (sm_args_parse(&args, cmd, argc - 2, argv + 2)) return 1;
    if (sm_args_flag(&args, "help")) {
        sm_command_print_help(cmd, stdout);
        return 0;
    }
    sm_set_threads(args.threads);
    return cmd->run(&args);
}
