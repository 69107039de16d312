/* toolchains/compile_nofarm.c - udcs-compile has no farm code: a call the local store
 * cannot answer is handed to udcs-compile-farm when a farm is configured. */
#include "toolchains/compile_farm.h"

#include <stddef.h>

const struct cc_farm_ops *cc_farm_ops(void)
{
    return NULL;
}
