/* The terminal the fuzz targets work against. */
#ifndef TG_FUZZ_TERMINAL_H
#define TG_FUZZ_TERMINAL_H

#include "tillgroup.h"

/* A terminal S1-T1 in a new folder under /tmp, made on the first call and kept
 * for the process; aborts if it cannot be made. */
tg_terminal *fuzz_terminal(void);

#endif
