/* receipts/: the contract between the receipt renderer and the rest of tillgroup.
 *
 * A receipt is a document of display strings (tg__doc) laid out for one printer
 * profile (tg__profile) into printed rows that a sink turns into ESC/POS bytes,
 * UTF-8 text or a PNG preview. Nothing here knows about sales or SQLite: pos/
 * builds the document, with money already formatted. */
#ifndef TG_RECEIPTS_H
#define TG_RECEIPTS_H

#include <stddef.h>
#include <stdint.h>

/* ----- UTF-8 and display width ----------------------------------------- */

/*
 * Decodes the UTF-8 character at s (n bytes available) into *cp and returns
 * its length, or 0 if the bytes there are not a well-formed, shortest-form
 * scalar value (surrogates and values past U+10FFFF included).
 */
size_t tg__utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Writes cp as UTF-8 into out (4 bytes) and returns the length. cp must be a scalar value. */
size_t tg__utf8_encode(uint32_t cp, char out[4]);

/* 1 if s[0..n) is 1 to max bytes of printable ASCII (0x20-0x7e): what a QR
 * code or barcode may carry. */
int tg__symbol_text(const char *s, size_t n, size_t max);

/*
 * Columns the code point takes by the Unicode East Asian Width table
 * (receipts/width_table.h, generated from the Unicode Character Database):
 * 0 for combining marks, format characters and other zero-width characters,
 * 2 for Wide and Fullwidth characters and, when ambiguous_wide, for
 * Ambiguous ones (as a CJK printer prints them), else 1.
 */
int tg__width(uint32_t cp, int ambiguous_wide);

/* ----- Printer profile ------------------------------------------------- */

#define TG__QR_TEXT_MAX 1024 /* longest QR payload a document may carry */

typedef enum { TG__QR_NATIVE, TG__QR_RASTER } tg__qr_mode;
typedef enum { TG__CUT_NONE, TG__CUT_PARTIAL, TG__CUT_FULL } tg__cut_mode;

typedef struct {
  int dots;            /* printable width in dots: 384 on 58 mm, 576 on 80 mm */
  int columns;         /* Font A columns (12 dots each), at most dots / 12: 32 or 48 */
  tg__qr_mode qr;      /* GS ( k in the printer, or GS v 0 made with libqrencode */
  int qr_module;       /* dots per QR module, 1..16 */
  char qr_ecc;         /* 'L', 'M', 'Q' or 'H' */
  char encoding[16];   /* "gb18030" (FS & Chinese mode) or a code page: "cp437" ... */
  tg__cut_mode cut;
  int barcode;         /* print the receipt number as Code128 when it fits */
} tg__profile;

/* Fills *p with the defaults for paper_mm 58 or 80 (any other value: 58):
 * native QR, 6-dot modules, ECC M, GB18030, partial cut, barcode on. */
void tg__profile_default(tg__profile *p, int paper_mm);

/* Checks a profile (hand-made or from configuration); on failure returns -1
 * and writes a one-line reason naming the bad setting into why. */
int tg__profile_check(const tg__profile *p, char *why, size_t why_len);

/* Code pages a profile may name: "gb18030" and single-byte ones. Fills the
 * ESC t number and iconv name; returns 0, or -1 for an unknown encoding. */
#define TG__ENCODINGS "gb18030, cp437, cp850, cp852, cp858, cp866 or cp1252"
int tg__encoding_lookup(const char *name, int *esc_t, const char **iconv_name);

/*
 * A printer's character set: what it can print and the bytes for it. iconv is
 * opened on the first character past ASCII.
 */
typedef struct {
  void *cd;       /* iconv_t, or NULL until needed */
  int failed;     /* iconv could not be opened: every later character fails alike */
  const char *iconv_name;
  int esc_t;      /* ESC t number; -1 for GB18030 (FS & Chinese mode) */
  int cjk;        /* GB18030: Ambiguous characters are wide */
  struct {        /* the last answers, by code point: a layout asks several times */
    uint32_t cp;  /* 0 when empty */
    unsigned char n, b[2];
  } seen[64];
} tg__charset;

/* Prepares c for encoding (a name tg__encoding_lookup() knows): 0 or TG__EINVAL. */
int tg__charset_init(tg__charset *c, const char *encoding);
void tg__charset_close(tg__charset *c);

/*
 * The printer's bytes for cp in out (at most 4) and their count, or 0 when the
 * printer cannot print cp in exactly tg__width(cp, c->cjk) cells: one byte for
 * one cell (ASCII, or a code page byte), two GB18030 bytes for two cells
 * (private-use characters excepted: their glyphs are the printer's own).
 * Returns TG__ENOMEM or TG__EINVAL if iconv could not be opened, then and for
 * every later character past ASCII.
 */
int tg__charset_encode(tg__charset *c, uint32_t cp, unsigned char out[4]);

/* ----- The document ---------------------------------------------------- */

typedef struct {
  const char *name;     /* any bytes; invalid UTF-8 is shown as '?' */
  const char *qty;      /* "2", "0.5"; NULL or "" to leave the column empty */
  const char *amount;   /* money, formatted */
  const char *note;     /* a second row under the name, e.g. "Discount -1.00"; NULL for none */
} tg__doc_item;

typedef struct {
  const char *label;
  const char *amount;
  int emphasis;         /* bold and, if it fits, double size */
} tg__doc_row;

typedef struct {
  const char *qr;       /* printable ASCII payload, at most TG__QR_TEXT_MAX */
  const char *title;    /* e.g. "COUPON 10.00 off" */
  const char *terms;    /* wrapped text, may be NULL */
  const char *expires;  /* e.g. "Valid until 2026-12-31", may be NULL */
} tg__doc_coupon;

typedef struct {
  const char *banner;                 /* "COPY" / "REFUND" above everything; NULL none */
  const char *const *header; size_t n_header; /* the first line is the store's name */
  const tg__doc_row *meta; size_t n_meta;     /* receipt number, time, cashier ... */
  const tg__doc_item *items; size_t n_items;
  const tg__doc_row *totals; size_t n_totals;
  const tg__doc_row *payments; size_t n_payments; /* tenders and change */
  const char *barcode;                /* the receipt number as Code128; NULL none */
  const tg__doc_coupon *coupons; size_t n_coupons;
  const char *invite_caption;         /* above the invite QR; may be NULL */
  const char *invite_url;             /* NULL: no invite */
  const char *const *footer; size_t n_footer;
} tg__doc;

/* ----- Layout and sinks ------------------------------------------------ */

enum { TG__BOLD = 1, TG__WIDE = 2, TG__TALL = 4 };

/*
 * Where the layout sends printed rows, top to bottom. Each callback returns 0
 * or a negative error that stops the layout and is returned by it.
 *  - text: one printed line, UTF-8 of characters the printer can print (the
 *    layout has already replaced the rest with '?' and dropped zero-width
 *    ones), padded on the left for alignment, no trailing spaces; at most
 *    columns cells, or columns / 2 in a TG__WIDE row.
 *  - qr: a centred QR symbol of data (printable ASCII) with modules of
 *    module dots, chosen so that the symbol and its quiet zone fit the paper.
 *  - barcode: a centred Code 128 of data with bars module dots wide (fits).
 *  - feed: n empty lines; cut: the end of the receipt.
 */
typedef struct tg__sink tg__sink;
struct tg__sink {
  int (*text)(tg__sink *k, const char *s, size_t n, unsigned style);
  int (*qr)(tg__sink *k, const char *data, size_t n, int module);
  int (*barcode)(tg__sink *k, const char *data, size_t n, int module);
  int (*feed)(tg__sink *k, int n);
  int (*cut)(tg__sink *k);
};

#define TG__ENOMEM (-2) /* same values as TG_ENOMEM / TG_EINVAL in pos/tillgroup.h */
#define TG__EINVAL (-1)

/*
 * Lays out doc for profile p (which must pass tg__profile_check) into sink k.
 * Returns 0, TG__ENOMEM, TG__EINVAL (the encoding cannot be opened, or a QR
 * payload is not printable ASCII of at most TG__QR_TEXT_MAX bytes), or the
 * first error a sink callback returned. Never writes a row wider than the paper.
 */
int tg__layout(const tg__doc *doc, const tg__profile *p, tg__sink *k);

/* ----- Output ---------------------------------------------------------- */

/* A growing byte buffer; free with tg__buf_free(). */
typedef struct {
  unsigned char *p;
  size_t n, cap;
} tg__buf;

/* Appends n bytes; returns 0 or TG__ENOMEM (the buffer is unchanged then). */
int tg__buf_add(tg__buf *b, const void *p, size_t n);
void tg__buf_free(tg__buf *b);

/* Renders doc for p into *out as the exact ESC/POS bytes (escpos), as UTF-8
 * text of the same layout (text: a double-width row is spaced out to its
 * printed width), or as a PNG preview at printer resolution (png). The output
 * is appended to what out holds; on failure out is as it was. Returns 0 or
 * an error of tg__layout(). */
int tg__render_escpos(const tg__doc *doc, const tg__profile *p, tg__buf *out);
int tg__render_text(const tg__doc *doc, const tg__profile *p, tg__buf *out);
int tg__render_png(const tg__doc *doc, const tg__profile *p, tg__buf *out);

/* ----- Symbols --------------------------------------------------------- */

/*
 * A QR symbol made with libqrencode (which splits the text into numeric,
 * alphanumeric and byte segments as is shortest): width modules per side,
 * modules[y * width + x] is 1 for dark.
 * Returns 0, TG__ENOMEM, or TG__EINVAL if the text does not fit a symbol at
 * that ECC. Free with tg__qr_free().
 */
typedef struct {
  int version, width;
  unsigned char *modules;
} tg__qr;
int tg__qr_make(const char *text, size_t n, char ecc, tg__qr *out);
void tg__qr_free(tg__qr *q);

/* The four-module quiet zone a QR symbol needs around it. */
#define TG__QR_QUIET 4

/*
 * The smallest QR version (1-40) that holds n bytes of text at ecc in one
 * segment: alphanumeric mode when any_mode and every byte allows it, else
 * byte mode, which any printer's own encoder can at least match. 0 if none.
 */
int tg__qr_version_for(const char *text, size_t n, char ecc, int any_mode);

/* The largest module size, at most module (and at least 1), at which a symbol
 * side_modules wide (quiet zone included) fits dots. */
int tg__qr_module_fit(int side_modules, int module, int dots);

/* A Code 128 is printed TG__BARCODE_HEIGHT dots high with TG__BARCODE_QUIET
 * modules of white either side. */
#define TG__BARCODE_HEIGHT 80
#define TG__BARCODE_QUIET 10

/* ESC/POS for a cash-drawer pulse on pin 2 (pin 0) or pin 5 (pin 1): ESC p m t1 t2,
 * on and off times in milliseconds, rounded up to the printer's 2 ms units (max 510). */
int tg__escpos_drawer(tg__buf *out, int pin, int on_ms, int off_ms);

/*
 * Code 128 of data (printable ASCII, at most TG__CODE128_MAX bytes), switching
 * to code set C for runs of digits. Fills the bar pattern (1 = bar, one entry
 * per module, quiet zones not included) and returns the number of modules, or
 * 0 if data is empty, too long or not printable ASCII. escpos receives the
 * same symbols as the printer's GS k 73 data ("{B", "{C" switches included)
 * when not NULL (at most TG__CODE128_ESCPOS_MAX bytes).
 */
#define TG__CODE128_MAX 48
#define TG__CODE128_MODULES_MAX (11 * (2 * TG__CODE128_MAX + 2) + 13)
#define TG__CODE128_ESCPOS_MAX (3 * TG__CODE128_MAX + 2)
size_t tg__code128(const char *data, size_t n, unsigned char bars[TG__CODE128_MODULES_MAX],
                   char *escpos, size_t *escpos_len);

#endif
