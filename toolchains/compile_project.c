/* placeholder while compile_project.c is written */
#include "toolchains/compile.h"
#include <stdio.h>
int cc_project_main(const struct cc_settings *set, int argc, char **argv)
{
    (void)set; (void)argc; (void)argv;
    fprintf(stderr, "udcs-compile: --project is being written\n");
    return 1;
}
