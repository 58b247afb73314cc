/* An independent reader of the ESC/POS tillgroup writes, for tests and fuzzing. */
#ifndef TG_ESCPOS_CHECK_H
#define TG_ESCPOS_CHECK_H

#include <stddef.h>

#include "receipts.h"

typedef struct {
  int lines;                    /* text lines printed */
  int widest;                   /* cells of the widest line, double width counted twice */
  int qr_native;                /* GS ( k symbols printed */
  int barcodes;                 /* GS k symbols */
  int cuts;
  const unsigned char *raster;  /* the first GS v 0 image: rows of width_bytes, 1 = black */
  int raster_width_bytes, raster_height;
  const unsigned char *qr_data; /* the last GS ( k payload stored */
  size_t qr_len;
  char error[160];              /* why the stream is not what tillgroup should write */
} tt_escpos;

/*
 * Walks the stream as a printer set up by profile would: every byte must belong
 * to a command tillgroup uses or to printed text (ASCII; code page bytes when
 * the profile names a code page; GB18030 pairs inside FS & ... FS . when it
 * names gb18030), ESC @ only first, ESC t only the profile's code page, a cut
 * only last, and no line wider than the profile's columns. Returns 0, or -1
 * with a reason in out->error. Pointers in *out point into p.
 */
int tt_escpos_walk(const unsigned char *p, size_t n, const tg__profile *profile, tt_escpos *out);

/* Checks the text output: valid UTF-8 lines no wider than the profile's
 * columns (widths as the profile's printer counts them). Returns 0 or -1. */
int tt_text_walk(const unsigned char *p, size_t n, const tg__profile *profile);

#endif
