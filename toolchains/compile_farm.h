/* toolchains/compile_farm.h - the farm side of udcs-compile, present only in
 * udcs-compile-farm (compile_farm.c); udcs-compile links compile_nofarm.c instead, so the
 * fast binary loads no HTTP client. */
#ifndef UDCS_TOOLCHAINS_COMPILE_FARM_H
#define UDCS_TOOLCHAINS_COMPILE_FARM_H

#include "toolchains/compile.h"

/* The operations a call uses to reach the farm, or NULL in udcs-compile. */
const struct cc_farm_ops *cc_farm_ops(void);

#endif
