/* A network receipt printer on loopback for the tests: records jobs, answers DLE EOT, misbehaves on request. */
#ifndef TG_TESTS_NET_PRINTER_H
#define TG_TESTS_NET_PRINTER_H

#include <stddef.h>

typedef struct tt_net_printer tt_net_printer;

typedef enum {
  TT_NET_OK = 0,   /* reads everything, answers each DLE EOT n with its status byte */
  TT_NET_STALL,    /* accepts, then never reads (the sender's buffers fill up) */
  TT_NET_CLOSE,    /* closes the connection once it has read `after` job bytes */
  TT_NET_SILENT,   /* reads everything, never answers DLE EOT */
} tt_net_mode;

/* Starts listening on 127.0.0.1 (an ephemeral port) in its own thread. NULL on failure. */
tt_net_printer *tt_net_printer_start(void);
/* Stops the thread and frees. Accepts NULL. */
void tt_net_printer_stop(tt_net_printer *p);
/* "tcp://127.0.0.1:PORT", valid until stopped. */
const char *tt_net_printer_spec(const tt_net_printer *p);
/* How the next connections behave; after is used by TT_NET_CLOSE. */
void tt_net_printer_mode(tt_net_printer *p, tt_net_mode mode, size_t after);
/* The status byte answered to DLE EOT n (1..4); all clear (0x12) until set. */
void tt_net_printer_status(tt_net_printer *p, int n, unsigned char status);
/*
 * Copies up to cap of the job bytes received so far (DLE EOT requests left
 * out) into out and returns how many there are in all.
 */
size_t tt_net_printer_received(tt_net_printer *p, unsigned char *out, size_t cap);
/* Forgets the bytes received. */
void tt_net_printer_clear(tt_net_printer *p);

#endif
